"""One count everywhere, seen in the windows (issue 11): with a model folder holding the real
Qwen2.5 template (around a tiny BPE), the list's Tokens and Trainable cells, the over-limit filter
and the stats board show what `transformers`' apply_chat_template gives; the status bar says when
chats are counted in the ChatML fallback; the preview says what ShareGPT does to parallel results."""

from __future__ import annotations

import copy
import json
import tkinter.font as tkfont
from pathlib import Path
from tkinter import ttk

import pytest
from click.testing import CliRunner

from lima_tk.cli import cli
from lima_tk.model import Message
from lima_tk.store import DatasetStore
from lima_tk.ui.chat_list import OVER_MARK
from tests.real_templates import hf_count, hf_tokenizer, model_folder, tokenizer_json
from tests.ui.app_helpers import app_factory, click_row, fire, settle
from tests.ui.conftest import wait_until
from tests.ui.test_tokens_gui import counted

pytest.importorskip("transformers")

from tests.test_token_fidelity import CHATS, lima_chat  # noqa: E402 - needs transformers


@pytest.fixture
def make_app(db_path: Path):
    yield from app_factory(db_path, count_tokens=True)


def seed(db: Path, folder: Path, limit: int = 0) -> dict[str, int]:
    """The fidelity chats (system / no system, tools, parallel calls, weight 0, unicode)."""
    with DatasetStore(db) as store:
        ids = {}
        for name, m, t, w in CHATS:
            chat = lima_chat(m, t, w)
            ids[name] = store.create_chat(name, messages=chat.messages, tools=chat.tools)
        store.set_setting("tokenizer", str(folder))
        store.set_setting("context_limit", limit)
        store.journal.clear()
    return ids


def cells(app) -> dict[str, tuple[str, str]]:
    """Name -> (Tokens cell, Trainable cell) of every row the Treeview shows."""
    tree = app.chat_list.tree
    out = {}
    for iid in tree.get_children():
        name = tree.set(iid, "name")
        if name:
            out[name] = (tree.set(iid, "tokens"), tree.set(iid, "trainable"))
    return out


def test_list_filter_and_stats_show_what_transformers_counts(make_app, db_path: Path, tmp_path: Path) -> None:
    folder = model_folder("qwen2.5", tmp_path / "qwen", "jinja")
    want = {name: hf_count(folder, copy.deepcopy(m), copy.deepcopy(t)) for name, m, t, _w in CHATS}
    assert len(set(want.values())) == len(want)  # distinct, so a limit between two of them splits them
    ordered = sorted(want.values())
    limit = (ordered[2] + ordered[3]) // 2
    over = {n for n, v in want.items() if v > limit}
    assert 0 < len(over) < len(want)
    # lima-tk's own trainable count, from the command line on a copy of the dataset
    other = tmp_path / "cli.lima.db"
    seed(other, folder, limit)
    run = CliRunner().invoke
    assert run(cli, ["--db", str(other), "tokens"]).exit_code == 0
    res = run(cli, ["--db", str(other), "list", "--json"])
    assert res.exit_code == 0, res.output
    listed = json.loads(res.output)["chats"]
    assert {c["name"]: c["tokens"] for c in listed} == want
    trainable = {c["name"]: c["trainable_tokens"] for c in listed}
    assert all(isinstance(v, int) and 0 < v < want[n] for n, v in trainable.items())
    # without generation blocks the trained tokens are the replies' own: "5" is marked no-train, "4" is not
    assert trainable["weight 0"] == len(hf_tokenizer(folder).encode("4", add_special_tokens=False))

    seed(db_path, folder, limit)
    app = make_app(count_delay_ms=0)
    settle(app)
    counted(app)
    shown = cells(app)
    assert set(shown) == set(want)  # every chat is on screen
    for name, n in want.items():
        tok = f"{OVER_MARK} {n:,}" if n > limit else f"{n:,}"
        assert shown[name] == (tok, f"{trainable[name]:,}"), name
    assert app.tokens.total_label.cget("text") == f"{sum(want.values()):,} tokens"

    # The over-limit filter: exactly the chats above the limit.
    app.over_check.invoke()
    app.root.update()
    wait_until(lambda: set(cells(app)) == over, app.root)
    assert app.count_label.cget("text") == f"{len(over)} of {len(want)} chats"
    app.clear_filter()
    wait_until(lambda: set(cells(app)) == set(want), app.root)

    # The stats board: the total is the sum of the cells, the trainable total the sum of theirs.
    fire(app, "<<StatsBoard>>")
    board = app.stats_board
    wait_until(lambda: board.state == "done" and board.stats is not None, board, timeout=20)
    board.update()

    def card(key: str) -> str:
        return board.canvas.itemcget(board.canvas.find_withtag(f"card:{key}")[0], "text")

    assert card("tokens") == f"{sum(want.values()):,}"
    assert card("trainable") == f"{sum(trainable.values()):,}"
    assert card("over_limit") == f"{len(over):,}"
    board.close()


@pytest.mark.parametrize("broken", ["none", "syntax", "raises"])
def test_status_bar_says_chats_are_counted_in_chatml(make_app, db_path: Path, tmp_path: Path,
                                                     broken: str) -> None:
    """A folder without a chat template, or with one that cannot be used: the status line after
    the count says the chats were counted in the generic ChatML layout, and why."""
    folder = tmp_path / "model"
    if broken == "none":
        tokenizer_json("qwen2.5", folder / "tokenizer.json")
        why = "no chat template found"
    else:
        template = ("{% for m in messages %}{{ m.content }" if broken == "syntax"
                    else "{{ raise_exception('this template refuses every chat') }}")
        model_folder("qwen2.5", folder, "jinja", template=template)
        why = "chat template failed"
    with DatasetStore(db_path) as s:
        s.create_chat("a", messages=[Message("user", "hi"), Message("assistant", "hello")])
        s.set_setting("tokenizer", str(folder))
    app = make_app(count_delay_ms=0)
    settle(app)
    counted(app)
    wait_until(lambda: "ChatML" in app.status_text, app.root)
    assert why in app.status_text and "Counted the tokens" in app.status_text
    # ...where it is seen: the label clips a long line on the right, at the window's default width
    label = app.status_bar.label
    assert label.cget("text") == app.status_text
    font = tkfont.nametofont(str(ttk.Style(label).lookup("Status.TLabel", "font") or "TkDefaultFont"))
    head = app.status_text[:app.status_text.index("ChatML") + len("ChatML")]
    assert font.measure(head) < label.winfo_width(), (head, label.winfo_width())
    # the preview says the same
    click_row(app, 0)
    fire(app, "<<PreviewTokens>>")
    win = next(iter(app.token_previews.values()))
    wait_until(lambda: win.state == "done", win)
    assert "ChatML" in win.info_label.cget("text") and why in win.note_label.cget("text")


def test_status_bar_is_quiet_about_chatml_with_a_working_template(make_app, db_path: Path, tmp_path: Path) -> None:
    folder = model_folder("qwen2.5", tmp_path / "qwen", "jinja")
    with DatasetStore(db_path) as s:
        s.create_chat("a", messages=[Message("user", "hi"), Message("assistant", "hello")])
        s.set_setting("tokenizer", str(folder))
    app = make_app(count_delay_ms=0)
    settle(app)
    counted(app)
    wait_until(lambda: "Counted the tokens" in app.status_text, app.root)
    assert "ChatML" not in app.status_text


def test_preview_says_sharegpt_merges_parallel_results(make_app, db_path: Path, tmp_path: Path) -> None:
    """A chat whose reply calls two tools at once: the preview says that the ShareGPT export puts
    both results in one observation; a chat with one call at a time has no such note."""
    folder = model_folder("qwen2.5", tmp_path / "qwen", "jinja")
    ids = seed(db_path, folder)
    app = make_app(count_delay_ms=0)
    settle(app)
    counted(app)
    notes = {}
    for name in ("parallel calls", "tool call"):
        click_row(app, app.chat_list.visible_ids().index(ids[name]))  # the row, then View > Preview
        fire(app, "<<PreviewTokens>>")
        win = app.token_previews[ids[name]]
        wait_until(lambda w=win: w.state == "done", win)
        assert win.name_label.cget("text") == name
        notes[name] = win.note_label.cget("text")
        win.destroy()
    note = notes["parallel calls"]
    assert "ShareGPT" in note and "one observation" in note and "1 reply calls several tools at once" in note
    assert "ShareGPT" not in notes["tool call"]
