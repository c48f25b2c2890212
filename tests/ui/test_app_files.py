"""Dataset files from the main window: import, export, cancel, open another format, save a copy,
settings across a restart, recent files, window geometry and column widths."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

import pytest

from lima_tk.settings import load_user_settings, user_config_path
from lima_tk.store import DatasetStore
from lima_tk.ui import dialogs
from tests.ui.app_helpers import app_factory, fire, seed, settle, write_openai_jsonl
from tests.ui.conftest import wait_until


@pytest.fixture
def make_app(db_path: Path):
    yield from app_factory(db_path)


def finished(app, job, timeout: float = 30.0):
    wait_until(lambda: job.finished, app.root, timeout)
    app.root.update()
    return job


def toplevels(app) -> list:
    return [w for w in app.root.winfo_children() if w.winfo_class() == "Toplevel"]


def test_import_a_file_with_progress(make_app, tmp_path: Path, monkeypatch) -> None:
    src = write_openai_jsonl(tmp_path / "chats.jsonl", 40)
    before = src.read_bytes()
    app = make_app()
    settle(app)
    seen = []
    monkeypatch.setattr(dialogs, "ask_open_path", lambda *a, **k: src)
    import lima_tk.formats as formats

    real_import, gate = formats.import_file, threading.Event()

    def held_import(*args, **kwargs):
        # Hold the worker until the test has looked at the dialog: a fast machine would finish first.
        assert gate.wait(10)
        return real_import(*args, **kwargs)

    monkeypatch.setattr(formats, "import_file", held_import)
    fire(app, "<<Import>>")
    job = app.jobs[-1]
    assert job.dialog.winfo_exists()
    orig = job.dialog.set_progress
    job.on_progress = lambda d, t: (seen.append((d, t)), orig(d, t))
    gate.set()
    finished(app, job)
    assert job.state == "done"
    assert not job.dialog.winfo_exists()
    assert app.store.count_chats() == 40
    assert app.chat_list.total == 40
    assert app.status_text.startswith("Imported 40 chats (120 messages) from chats.jsonl")
    assert src.read_bytes() == before
    fire(app, "<<Undo>>")
    assert app.store.count_chats() == 0


def test_import_progress_reaches_the_dialog(make_app, tmp_path: Path) -> None:
    src = write_openai_jsonl(tmp_path / "many.jsonl", 3000)
    app = make_app()
    settle(app)
    job = app.import_file(src)
    texts = []
    orig = job.on_progress

    def spy(done, total):
        orig(done, total)
        texts.append(job.dialog.counts.cget("text"))

    job.on_progress = spy
    finished(app, job)
    assert job.state == "done", job.error
    assert texts and "of" in texts[-1] and "%" in texts[-1]
    assert app.store.count_chats() == 3000


def test_cancel_an_import_leaves_the_dataset_unchanged(make_app, tmp_path: Path, db_path: Path) -> None:
    seed(db_path, 2)
    src = write_openai_jsonl(tmp_path / "big.jsonl", 5000)
    app = make_app()
    settle(app)
    job = app.import_file(src)
    job.dialog.cancel_button.invoke()  # the Cancel button
    assert job.state == "cancelling"
    finished(app, job)
    assert job.state == "cancelled"
    assert "cancelled" in app.status_text
    assert app.store.count_chats() == 2
    assert not job.dialog.winfo_exists()


def test_a_bad_file_is_reported_not_raised(make_app, tmp_path: Path, monkeypatch) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": [{"role": "user", "content": "hi"}]}\n{not json\n')
    errors = []
    monkeypatch.setattr(dialogs, "show_error", lambda parent, title, msg: errors.append((title, msg)))
    app = make_app()
    job = finished(app, app.import_file(bad))
    assert job.state == "failed"
    assert errors and errors[0][0] == "Import failed" and "bad.jsonl" in errors[0][1]
    assert app.status_text.startswith("Import failed:")
    assert app.store.count_chats() == 0


def test_export_with_progress_writes_the_file(make_app, db_path: Path, tmp_path: Path) -> None:
    seed(db_path, 25, tags=["t"])
    with DatasetStore(db_path) as s:
        s.create_chat("other", tags=["u"], messages=[])
    app = make_app()
    settle(app)
    dlg = app.export_dialog()
    out = tmp_path / "out.jsonl"
    dlg.path.set(str(out))
    dlg.tag.set("t")
    job = finished(app, dlg.start())
    assert job.state == "done", job.error
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 25
    first = json.loads(lines[0])
    assert [m["role"] for m in first["messages"]] == ["user", "assistant"]
    assert first["messages"][0]["content"] == "question 0"
    assert app.status_text.startswith("Exported 25 chats (50 messages) to out.jsonl")


def test_export_the_filtered_or_selected_chats_in_lima_format(make_app, db_path: Path, tmp_path: Path) -> None:
    seed(db_path, 30)
    app = make_app()
    settle(app)
    app.filter_var.set("chat 1")
    app.apply_filter()
    dlg = app.export_dialog()
    assert dlg.scope.get() == "shown"
    dlg.format.set("lima")
    out = tmp_path / "shown.jsonl"
    dlg.path.set(str(out))
    finished(app, dlg.start())
    names = [json.loads(x).get("name") for x in out.read_text().splitlines()]
    assert sorted(n for n in names if n) == sorted(f"chat {i}" for i in [1, *range(10, 20)])

    app.clear_filter()
    app.chat_list.move_cursor(3)
    dlg = app.export_dialog()
    dlg.scope.set("selected")
    dlg.path.set(str(tmp_path / "one.jsonl"))
    finished(app, dlg.start())
    assert len((tmp_path / "one.jsonl").read_text().splitlines()) == 1


def test_cancel_an_export_writes_nothing(make_app, db_path: Path, tmp_path: Path, monkeypatch) -> None:
    import lima_tk.formats as formats

    real_export = formats.export_file

    def export_after_cancel(*args, **kwargs):
        # Hold the worker until Cancel was pressed, so a fast machine cannot finish first.
        assert kwargs["cancel"].wait(10)
        return real_export(*args, **kwargs)

    monkeypatch.setattr(formats, "export_file", export_after_cancel)
    seed(db_path, 50)
    app = make_app()
    out = tmp_path / "never.jsonl"
    job = app.run_export(out, "openai", None)
    job.cancel()
    finished(app, job)
    assert job.state == "cancelled"
    assert not out.exists()
    assert not list(tmp_path.glob(".never*"))
    assert app.status_text == "Export cancelled; no file was written"


def test_open_a_chat_file_imports_it_into_a_new_dataset(make_app, tmp_path: Path, monkeypatch) -> None:
    src = write_openai_jsonl(tmp_path / "conversations.jsonl", 12)
    before = src.read_bytes()
    app = make_app()
    asked = []
    monkeypatch.setattr(dialogs, "ask_open_path", lambda *a, **k: src)
    monkeypatch.setattr(dialogs, "ask_string", lambda parent, title, prompt, initial="": asked.append(initial)
                        or "converted")
    fire(app, "<<OpenDataset>>")
    finished(app, app.jobs[-1])
    assert asked == ["conversations"]
    new = tmp_path / "converted.lima.db"
    assert app.store.path == new and new.exists()
    assert app.chat_list.total == 12
    assert src.read_bytes() == before
    assert str(new.resolve()) == load_user_settings()["recent_files"][0]


def test_open_a_dataset_directly_and_recent_files(make_app, tmp_path: Path, db_path: Path, monkeypatch) -> None:
    other = tmp_path / "other.lima.db"
    seed(other, 4)
    app = make_app()
    monkeypatch.setattr(dialogs, "ask_open_path", lambda *a, **k: other)
    fire(app, "<<OpenDataset>>")
    assert app.store.path == other and app.chat_list.total == 4
    assert "other.lima.db" in app.root.title()
    recent = app.user_settings["recent_files"]
    assert recent[:2] == [str(other.resolve()), str(db_path.resolve())]
    app.files.fill_recent_menu()
    assert "test.lima.db" in app.recent_menu.entrycget(0, "label")
    app.recent_menu.invoke(0)
    assert app.store.path.resolve() == db_path.resolve()


def test_new_dataset(make_app, tmp_path: Path, monkeypatch) -> None:
    app = make_app()
    monkeypatch.setattr(dialogs, "ask_save_path", lambda *a, **k: tmp_path / "fresh")
    fire(app, "<<NewDataset>>")
    assert app.store.path == tmp_path / "fresh.lima.db"
    assert app.chat_list.total == 0 and app.chat_list.empty.winfo_ismapped()


def test_save_a_copy_with_the_backup_api(make_app, db_path: Path, tmp_path: Path, monkeypatch) -> None:
    seed(db_path, 20)
    app = make_app()
    dest = tmp_path / "copy.lima.db"
    monkeypatch.setattr(dialogs, "ask_save_path", lambda *a, **k: dest)
    fire(app, "<<SaveCopyAs>>")
    job = finished(app, app.jobs[-1])
    assert job.state == "done", job.error
    with DatasetStore(dest) as s:
        assert s.count_chats() == 20
    assert app.store.path == db_path  # still working on the original
    assert f"Saved a copy as {dest}" == app.status_text


def test_settings_persist_across_a_restart(make_app, db_path: Path) -> None:
    app = make_app()
    dlg = app.settings_dialog()
    dlg.vars["base_url"].set("http://localhost:8080/v1")
    dlg.vars["use_env_key"].set(False)
    dlg.vars["api_key"].set("sk-test-SECRET-123")
    dlg.vars["model"].set("qwen2.5")
    dlg.vars["temperature"].set("0.3")
    dlg.vars["max_tokens"].set("2048")
    dlg.vars["font_size"].set("13")
    dlg.add_language("de")
    dlg.remove_language("en")
    dlg.add_language("ru")
    dlg.tokenizer.set("gpt2")
    dlg.context_limit.set("8192")
    assert dlg.save()
    assert app.status_text == "Settings saved"
    app.close()

    path = user_config_path()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    stored = json.loads(path.read_text())
    assert stored["api_key"] == "sk-test-SECRET-123"

    app2 = make_app()
    us = app2.user_settings
    assert (us["base_url"], us["model"], us["temperature"], us["max_tokens"], us["font_size"]) == (
        "http://localhost:8080/v1", "qwen2.5", 0.3, 2048, 13)
    assert us["use_env_key"] is False
    assert app2.font_size == 13
    s = app2.store.get_settings()
    assert s["languages"] == ["de", "ru"] and s["tokenizer"] == "gpt2" and s["context_limit"] == 8192
    app2.close()
    raw = b"".join(p.read_bytes() for p in db_path.parent.glob(db_path.name + "*"))
    assert b"SECRET" not in raw


def test_settings_rejects_bad_numbers(make_app) -> None:
    app = make_app()
    dlg = app.settings_dialog()
    dlg.vars["temperature"].set("hot")
    assert not dlg.save()
    assert "Temperature" in dlg.error.cget("text")
    dlg.destroy()


def test_tag_vocabulary_rename_merge_delete(make_app, db_path: Path) -> None:
    with DatasetStore(db_path) as s:
        s.create_chat("a", tags=["cod"])
        s.create_chat("b", tags=["code"])
        s.create_chat("c", tags=["junk"])
    app = make_app()
    dlg = app.settings_dialog()
    dlg.rename_tag("cod", "code")  # merge
    assert app.status_text == "Merged tag cod into code"
    dlg.add_tag("new-one")
    dlg.delete_tag("junk")
    counts = app.store.tag_counts()
    assert counts == {"code": 2, "new-one": 0}
    assert [c.tags for c in app.store.list_chats()] == [["code"], ["code"], []]
    assert set(dlg.tag_tree.get_children()) == {"code", "new-one"}
    dlg.destroy()
    fire(app, "<<Undo>>")
    assert app.store.tag_counts()["junk"] == 1


def test_window_geometry_and_column_widths_are_remembered(make_app, db_path: Path) -> None:
    app = make_app()
    # Wide enough for every column: in a narrower window the text columns give room to the
    # number columns, which are never cut (issue 13).
    app.root.geometry("1300x500+10+10")
    app.chat_list.tree.column("tags", width=222)
    app.root.update()
    app.close()
    us = load_user_settings()
    assert us["geometry"].startswith("1300x500")
    assert us["column_widths"]["tags"] == 222
    assert us["last_dataset"] == str(db_path.resolve())
    app2 = make_app(path=None)
    app2.root.update()
    assert app2.chat_list.tree.column("tags", "width") == 222
    assert app2.store.path.resolve() == db_path.resolve()  # the last dataset opens again
