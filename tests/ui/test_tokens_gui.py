"""Token counts in the windows (issue 6): the list column, the over-limit mark and filter, the
background count with progress, the editor's per-message counts and budget bar, the preview
window, and the stats board from the menu. Real App, real DatasetStore, real `tokenizers`
objects built in the test (a word-level tokenizer: one token per word, easy to predict)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from lima_tk import tokens
from lima_tk.model import Chat, Message
from lima_tk.store import DatasetStore
from lima_tk.ui import editor_tokens, settings_dialog
from lima_tk.ui.chat_list import OVER_MARK
from tests.tokenizer_fixtures import model_folder, word_tokenizer_json
from tests.ui.app_helpers import app_factory, click_row, fire, settle
from tests.ui.conftest import wait_until
from tests.ui.test_chat_editor_helpers import focus_text, type_text

# Word counts 3, 7 and 10 (one token per word with the word tokenizer).
CHATS = [
    ("short", [("user", "one two"), ("assistant", "three")]),
    ("medium", [("system", "one two three"), ("user", "four five"), ("assistant", "six seven")]),
    ("long", [("user", "one two three four five"), ("assistant", "six seven eight nine ten")]),
]


@pytest.fixture
def make_app(db_path: Path):
    yield from app_factory(db_path, count_tokens=True)


# A template that writes the contents only: a chat's rendered count is its word count, so the
# numbers below stay easy to predict (a bare tokenizer.json would be counted in ChatML).
CONTENT_ONLY = "{% for m in messages %}{{ m.content }} {% endfor %}"


@pytest.fixture
def words(tmp_path: Path) -> Path:
    return model_folder(tmp_path / "words", make=word_tokenizer_json, template=CONTENT_ONLY) / "tokenizer.json"


def seed(db_path: Path, tokenizer: str, limit: int = 0, chats=CHATS) -> list[int]:
    with DatasetStore(db_path) as s:
        ids = [s.create_chat(name, "en", [], messages=[Message(r, c) for r, c in msgs]) for name, msgs in chats]
        s.set_setting("tokenizer", tokenizer)
        s.set_setting("context_limit", limit)
        s.journal.clear()
    return ids


def counted(app, timeout: float = 20.0) -> None:
    """Wait until the background count ran, finished and its total is shown."""
    t = app.tokens
    wait_until(lambda: t.runs and not t.running and not t.total_pending
               and t.total is not None, app.root, timeout=timeout)
    app.root.update()


def test_list_column_filled_after_open(make_app, db_path: Path, words: Path, monkeypatch) -> None:
    ids = seed(db_path, str(words))
    app = make_app(count_delay_ms=0)
    settle(app)
    cl = app.chat_list
    assert app.tokens.state in ("waiting", "working")  # the count starts after the first paint
    seen: list[int] = []
    real = app.store.chat_token_totals
    monkeypatch.setattr(app.store, "chat_token_totals", lambda cids, key=None: (seen.append(len(cids)),
                                                                                 real(cids, key))[1])
    counted(app)
    assert [cl.token_text(i) for i in ids] == ["3", "7", "10"]
    assert seen and max(seen) <= cl.page + 1  # only the rows on screen are read
    assert app.tokens.total_label.cget("text") == "20 tokens"
    assert not app.tokens.frame.winfo_ismapped()  # the progress is gone
    # Reopening with a warm cache loads no tokenizer and encodes nothing.
    app.open_dataset(db_path)
    counted(app)
    assert app.tokens.result is None  # "nothing to count": the tokenizer was not even loaded
    assert [cl.token_text(i) for i in ids] == ["3", "7", "10"]


def test_offline_hub_id_gives_estimates_marked(make_app, db_path: Path) -> None:
    ids = seed(db_path, "some-org/not-downloaded-model")
    app = make_app(count_delay_ms=0)
    settle(app)
    counted(app)
    cells = [app.chat_list.token_text(i) for i in ids]
    assert all(c.startswith("~") for c in cells), cells
    assert app.tokens.total_label.cget("text").startswith("~") and "estimate" in app.tokens.total_label.cget("text")
    assert "offline" in app.status_text and "some-org/not-downloaded-model" in app.status_text
    assert app.tokens.result.estimate


def test_over_limit_rows_are_marked_and_filtered(make_app, db_path: Path, words: Path) -> None:
    ids = seed(db_path, str(words), limit=5)
    app = make_app(count_delay_ms=0)
    settle(app)
    counted(app)
    cl = app.chat_list
    assert cl.token_text(ids[0]) == "3"
    assert cl.token_text(ids[1]) == f"{OVER_MARK} 7" and cl.token_text(ids[2]) == f"{OVER_MARK} 10"
    tags = {cid: cl.tree.item(cl._slots[cl._slot_ids.index(cid)], "tags") for cid in ids}
    assert "over" not in tags[ids[0]] and "over" in tags[ids[1]] and "over" in tags[ids[2]]
    # The filter-bar toggle: only the two over the limit, with the count.
    app.over_check.invoke()
    app.root.update()
    assert cl.filter.over_limit and cl.total == 2 and cl.visible_ids() == ids[1:]
    assert app.count_label.cget("text") == "2 of 3 chats"
    # The same from the View menu, and Escape-style clearing.
    fire(app, "<<OverLimitFilter>>")
    assert not cl.filter.over_limit and cl.total == 3
    fire(app, "<<OverLimitFilter>>")
    assert cl.total == 2
    app.clear_filter()
    assert not app.over_var.get() and cl.total == 3
    # Raising the limit (dataset settings) unmarks them.
    app.store.set_setting("context_limit", 100)
    app.data_changed()
    assert cl.token_text(ids[2]) == "10"


def test_sort_by_tokens(make_app, db_path: Path, words: Path) -> None:
    ids = seed(db_path, str(words))
    app = make_app(count_delay_ms=0)
    settle(app)
    counted(app)
    cl = app.chat_list
    cl.sort_by("tokens")
    assert cl.visible_ids() == ids  # 3, 7, 10
    cl.sort_by("tokens")
    assert cl.visible_ids() == ids[::-1]
    cl.sort_by("tokens")
    assert cl.sort == "position"


def test_editor_counts_follow_typing_and_the_budget_bar(make_app, db_path: Path, words: Path) -> None:
    ids = seed(db_path, str(words), limit=11)
    app = make_app(count_delay_ms=0)
    settle(app)
    counted(app)
    click_row(app, 1)
    fire(app, "<<OpenChat>>")
    ed = app.editors[ids[1]]
    ed.save_delay = 30
    wait_until(lambda: ed.ready and ed.props.budget.state != "none", ed)
    labels = lambda: [ed.cards[m].token_label.cget("text") for m in ed.order]  # noqa: E731
    wait_until(lambda: labels() == ["3 tok", "2 tok", "2 tok"], ed)
    props = ed.props
    assert props.info["tokens"].cget("text") == "7 / 11"
    assert props.budget.state == "ok" and props.budget_note.cget("text") == "4 left"
    # Typing in one message: after the debounced save only that message is recounted.
    wait_until(lambda: app.tokens.counter() is not None, ed)  # loaded on a worker for the editors
    text = focus_text(ed, 1)
    text.mark_set("insert", "end-1c")
    encoded_before = app.tokens.counter().encoded
    type_text(text, " six seven nine")
    wait_until(lambda: labels() == ["3 tok", "5 tok", "2 tok"], ed)
    assert app.tokens.counter().encoded - encoded_before == 2  # that message, and its chat rendered
    assert props.info["tokens"].cget("text") == "10 / 11" and props.budget.state == "near"
    wait_until(lambda: app.chat_list.token_text(ids[1]) == "10", app.root)  # the list row follows
    type_text(text, " ten ten ten")
    wait_until(lambda: props.budget.state == "over", ed)
    assert props.info["tokens"].cget("text") == "13 / 11" and props.budget_note.cget("text") == "2 over the limit"
    assert str(props.info["tokens"].cget("style")) == "PanelDanger.TLabel"
    wait_until(lambda: app.chat_list.token_text(ids[1]) == f"{OVER_MARK} 13", app.root)
    # Undo (the journal) brings the old text back: counts follow the reload, from the cache.
    ed.flush()
    app.undo()
    wait_until(lambda: labels() == ["3 tok", "2 tok", "2 tok"], ed)
    assert props.budget.state == "ok"


def test_a_big_chat_is_recounted_on_a_worker(make_app, db_path: Path, words: Path, monkeypatch) -> None:
    monkeypatch.setattr(editor_tokens, "ASYNC_CHARS", 10)  # every chat is "big" here
    ids = seed(db_path, str(words))
    app = make_app(count_delay_ms=0, poll_ms=30)
    settle(app)
    counted(app)
    app.open_chat(ids[2])
    ed = app.editors[ids[2]]
    ed.save_delay = 30
    wait_until(lambda: ed.ready and app.tokens.counter() is not None, ed)
    first = lambda: ed.cards[ed.order[0]].token_label.cget("text")  # noqa: E731
    wait_until(lambda: first() == "5 tok", ed)
    runs = app.tokens.async_chat_counts
    text = focus_text(ed, 0)
    text.mark_set("insert", "end-1c")
    type_text(text, " six")
    wait_until(lambda: first() == "6 tok" and ed.props.info["tokens"].cget("text") == "11", ed)
    assert app.tokens.async_chat_counts > runs
    reloads = ed.reload_count
    wait_until(lambda: app._version == app.store.data_version(), app.root)  # the poll saw the worker's writes
    app.root.update()
    assert ed.reload_count == reloads  # ...and did not reload the editor for them


def test_count_writes_do_not_reload_open_editors(make_app, db_path: Path, words: Path) -> None:
    ids = seed(db_path, str(words))
    app = make_app(count_delay_ms=60_000, poll_ms=30)
    settle(app)
    app.open_chat(ids[2])
    ed = app.editors[ids[2]]
    wait_until(lambda: ed.ready, ed)
    reloads = ed.reload_count
    fire(app, "<<CountTokens>>")
    counted(app)
    wait_until(lambda: app._version == app.store.data_version(), app.root)  # the poll saw the writes
    app.root.update()
    assert ed.reload_count == reloads
    wait_until(lambda: ed.cards[ed.order[0]].token_label is not None
               and ed.cards[ed.order[0]].token_label.cget("text") == "5 tok", ed)
    # A real change from another connection is still seen.
    with DatasetStore(db_path) as other:
        other.rename_chat(ids[0], "renamed elsewhere")
    wait_until(lambda: app.store.get_chat(ids[0]).name == "renamed elsewhere" and ed.reload_count > reloads,
               app.root)


def test_preview_shows_the_template_rendered_text(make_app, db_path: Path, tmp_path: Path) -> None:
    folder = model_folder(tmp_path / "model", make=word_tokenizer_json)
    ids = seed(db_path, str(folder))
    app = make_app(count_delay_ms=0)
    settle(app)
    counted(app)
    click_row(app, 0)
    fire(app, "<<PreviewTokens>>")
    win = app.token_previews[ids[0]]
    wait_until(lambda: win.state == "done", win)
    shown = win.text.get("1.0", "end-1c")
    assert shown == "<|im_start|>user\none two<|im_end|>\n<|im_start|>assistant\nthree<|im_end|>\n"
    counter = tokens.load_counter(str(folder))
    expected = counter.count(shown)
    assert win.count == expected and f"{expected:,} tokens as the model sees it" in win.info_label.cget("text")
    assert "chat template" in win.info_label.cget("text")
    assert win.text.tag_ranges("special")  # the markers are highlighted
    assert str(win.text.cget("state")) == "disabled"
    win.destroy()
    # A bare tokenizer.json has no template: the ChatML layout, with a note saying so.
    app.store.set_setting("tokenizer", str(folder / "tokenizer.json"))
    (folder / "tokenizer_config.json").unlink()
    app.data_changed()
    counted(app)
    win = app.preview_tokens()
    wait_until(lambda: win.state == "done", win)
    assert "ChatML" in win.info_label.cget("text") and "no chat template" in win.note_label.cget("text")


def test_tokenizer_change_in_settings_recounts_with_progress(make_app, db_path: Path, words: Path,
                                                             monkeypatch) -> None:
    ids = seed(db_path, "estimate")
    app = make_app(count_delay_ms=0)
    settle(app)
    counted(app)
    cl = app.chat_list
    assert all(cl.token_text(i).startswith("~") for i in ids)
    shown: list[str] = []
    real = app.tokens._show_progress
    monkeypatch.setattr(app.tokens, "_show_progress", lambda text, p: (shown.append(text), real(text, p))[1])
    runs = app.tokens.runs
    dlg = settings_dialog.SettingsDialog(app)
    dlg.tokenizer.set(str(words))
    assert dlg.save()
    assert app.tokens.runs == runs + 1 and app.tokens.working  # at once, in the background
    counted(app)
    assert app.tokens.progress == (10, 10)  # the 7 messages, then the 3 chats rendered
    assert any(t.startswith("Counting tokens") and t.endswith("%…") for t in shown), shown
    assert [cl.token_text(i) for i in ids] == ["3", "7", "10"]
    assert app.tokens.total_label.cget("text") == "20 tokens"


def test_counting_can_be_stopped(make_app, db_path: Path, words: Path, monkeypatch) -> None:
    seed(db_path, str(words))
    started = threading.Event()
    real = tokens.count_dataset

    def slow(store, counter, progress=None, cancel=None, **kw):
        started.set()
        assert cancel is not None and cancel.wait(10)  # stopped from the status bar
        return real(store, counter, progress, cancel, **kw)

    monkeypatch.setattr(tokens, "count_dataset", slow)
    app = make_app(count_delay_ms=0)
    settle(app)
    wait_until(lambda: started.is_set(), app.root, timeout=20)
    wait_until(lambda: app.tokens.cancel_button.winfo_ismapped()
               and app.tokens.progress_label.cget("text") == "Loading words…", app.root)
    app.update_menus()
    assert app.menus["View"].entrycget(app._menu_index["<<StopCounting>>"][1], "state") == "normal"
    app.tokens.cancel_button.invoke()
    wait_until(lambda: app.tokens.state == "cancelled", app.root, timeout=20)
    assert "stopped" in app.status_text
    assert not app.tokens.frame.winfo_ismapped()
    monkeypatch.setattr(tokens, "count_dataset", real)
    fire(app, "<<CountTokens>>")  # View > Count tokens now goes on
    counted(app)
    assert app.tokens.state == "done" and app.tokens.result.messages == 7


def test_stats_board_opens_from_the_menu(make_app, db_path: Path, words: Path) -> None:
    seed(db_path, str(words), limit=5)
    app = make_app(count_delay_ms=0)
    settle(app)
    counted(app)
    fire(app, "<<StatsBoard>>")
    board = app.stats_board
    wait_until(lambda: board.state == "done" and board.stats is not None, board, timeout=20)
    assert board.stats["tokens"]["total"] == 20 and board.stats["tokens"]["over_limit"] == 2
    board.close()
    # The total in the status bar opens it too.
    app.tokens.total_label.event_generate("<Button-1>")
    app.root.update()
    assert app.stats_board is not None and app.stats_board.winfo_exists()
    app.stats_board.close()


def test_read_only_dataset_shows_cached_counts_without_counting(make_app, db_path: Path, words: Path) -> None:
    ids = seed(db_path, str(words))
    with DatasetStore(db_path) as s:
        tokens.ensure_counted(s)
    app = make_app(db_path, readonly=True, count_delay_ms=0)
    settle(app)
    wait_until(lambda: app.tokens.total is not None, app.root)
    assert app.tokens.runs == 0 and app.tokens.state == "idle"
    assert [app.chat_list.token_text(i) for i in ids] == ["3", "7", "10"]


def test_empty_chat_and_uncounted_cells(make_app, db_path: Path, words: Path) -> None:
    with DatasetStore(db_path) as s:
        empty = s.create_chat("empty", "en", [])
        s.add_chats([Chat(name="x", messages=[Message("user", "one")])])
        s.set_setting("tokenizer", str(words))
    app = make_app(count_delay_ms=60_000)
    settle(app)
    cl = app.chat_list
    assert cl.token_text(empty) == ""  # nothing counted yet, no count running
    fire(app, "<<CountTokens>>")
    counted(app)
    assert cl.token_text(empty) == "0"


def test_problems_panel_opens_from_the_view_menu(make_app, db_path: Path, words: Path) -> None:
    seed(db_path, str(words))
    app = make_app(count_delay_ms=60_000)
    settle(app)
    app.update_menus()
    menu, index = app._menu_index["<<Problems>>"]
    assert menu is app.menus["View"] and menu.entrycget(index, "state") == "normal"
    fire(app, "<<Problems>>")
    panel = app.problems_panel
    assert panel.winfo_exists()
    wait_until(lambda: panel.state == "done", panel, timeout=20)
    panel.close()
