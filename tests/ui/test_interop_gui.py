"""Issue 7 in the GUI, end to end on a real App over a real DatasetStore: the export dialog for
every format (Hugging Face folder, ShareGPT, preference pairs, "skip chats with problems"), the
import options and report (a ChatGPT .zip, duplicates), rejecting a version in the editor,
Problems from the View menu opening the chat at the message, and undo from the main window while
an editor streams a reply."""

from __future__ import annotations

import json
import threading
import zipfile
from pathlib import Path

import pytest

from lima_tk.model import Message
from lima_tk.store import DatasetStore
from lima_tk.ui import dialogs, interop
from tests.assist_fixtures import running_server
from tests.ui.app_helpers import app_factory, fire, seed, settle, write_openai_jsonl
from tests.ui.conftest import wait_until
from tests.ui.test_chat_editor_helpers import card_at


@pytest.fixture
def make_app(db_path: Path):
    yield from app_factory(db_path)


@pytest.fixture
def openai_server():
    yield from running_server()


def finished(app, job, timeout: float = 30.0):
    assert job is not None
    wait_until(lambda: job.finished, app.root, timeout)
    app.root.update()
    assert job.state == "done", job.error
    return job


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def editor_ready(app, chat_id: int):
    ed = wait_until(lambda: app.editors.get(chat_id), app.root)
    wait_until(lambda: ed.ready, app.root)
    app.root.update()
    return ed


# -- export --------------------------------------------------------------------------------------


def test_export_a_hugging_face_folder_from_the_dialog(make_app, db_path: Path, tmp_path: Path,
                                                      monkeypatch) -> None:
    seed(db_path, 8, tags=["train"])
    seed(db_path, 2, name="held {i}", tags=["held-out"])
    app = make_app()
    settle(app)
    dlg = app.export_dialog()
    assert [dlg.format_labels[label] for label in dlg.format_box.cget("values")] == \
        ["openai", "lima", "sharegpt", "alpaca", "hf", "pref-trl", "pref-openai"]
    assert Path(dlg.path.get()).name == "test.jsonl"
    assert "hf" not in dlg.option_frames  # the options of a format are built when it is chosen
    dlg.set_format("hf")
    app.root.update()
    # A folder named after the dataset, never dataset.jsonl; the folder's options are shown.
    assert Path(dlg.path.get()) == tmp_path / "test-hf"
    assert dlg.path_label.cget("text") == "Folder"
    assert dlg.format_label.get() == "Hugging Face dataset (folder)"
    assert dlg.option_frames["hf"].winfo_manager() == "grid"
    assert dlg.ratio_entry.instate(["disabled"])
    # Browse: a folder that holds other things gets the export in a new folder inside it.
    monkeypatch.setattr(dialogs, "ask_directory", lambda *a, **k: tmp_path)
    dlg.browse()
    assert Path(dlg.path.get()) == tmp_path / "test-hf"
    # A bad share is refused in the dialog, which stays open.
    dlg.split.set("ratio")
    dlg._hf_states()
    assert not dlg.ratio_entry.instate(["disabled"])
    dlg.test_ratio.set("2")
    assert dlg.start() is None and "test share" in dlg.error.cget("text") and dlg.winfo_exists()
    # Test split by tag, and the per-message training flag.
    dlg.split.set("tag")
    dlg.test_tag.set("held-out")
    dlg.training_flag.set(True)
    job = finished(app, dlg.start())
    out = tmp_path / "test-hf"
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) == \
        ["README.md", "data/test.jsonl", "data/train.jsonl"]
    train, test = read_jsonl(out / "data" / "train.jsonl"), read_jsonl(out / "data" / "test.jsonl")
    assert [r["name"] for r in test] == ["held 0", "held 1"] and len(train) == 8
    assert [m["training"] for m in train[0]["messages"]] == [False, True]
    assert "configs:" in (out / "README.md").read_text(encoding="utf-8")
    assert job.result[1] is None  # nothing uploaded
    assert app.status_text.startswith("Exported 10 chats (20 messages) to folder test-hf "
                                      "(README.md, data/train.jsonl, data/test.jsonl)")
    assert app.last_report is None  # nothing skipped, no warnings: no report window

    # Again, by ratio with a seed: the earlier export is replaced, the draw is repeatable.
    dlg = app.export_dialog()
    dlg.set_format("hf")
    dlg.split.set("ratio")
    dlg.test_ratio.set("0.3")
    dlg.seed.set("7")
    finished(app, dlg.start())
    assert len(read_jsonl(out / "data" / "test.jsonl")) == 3
    assert "training" not in read_jsonl(out / "data" / "train.jsonl")[0]["messages"][0]


def test_hf_upload_option_and_the_message_without_huggingface_hub(make_app, db_path: Path, tmp_path: Path,
                                                                   monkeypatch) -> None:
    seed(db_path, 3)
    app = make_app(count_tokens=True)
    settle(app)
    # The background token count reports in the status bar; let it finish before the export's
    # own status line is checked (it raced it once in a random-order run).
    wait_until(lambda: app.tokens.runs and not app.tokens.running, app.root, timeout=20)
    monkeypatch.setattr(interop, "hub_available", lambda: False)
    dlg = app.export_dialog()
    dlg.set_format("hf")
    assert dlg.push_check.instate(["disabled"])
    assert "pip install 'lima-tk[hub]'" in dlg.hub_note.cget("text")
    dlg.destroy()

    monkeypatch.setattr(interop, "hub_available", lambda: True)
    pushed = []

    def fake_push(folder, repo_id, private=False):
        assert threading.current_thread() is not threading.main_thread()  # on the worker
        pushed.append((Path(folder).name, repo_id, private, (Path(folder) / "README.md").is_file()))
        return f"https://huggingface.co/datasets/{repo_id}"

    import lima_tk.formats.hf as hf

    monkeypatch.setattr(hf, "push_folder", fake_push)
    dlg = app.export_dialog()
    dlg.set_format("hf")
    assert not dlg.push_check.instate(["disabled"]) and dlg.repo_entry.instate(["disabled"])
    dlg.push.set(True)
    dlg._hf_states()
    assert not dlg.repo_entry.instate(["disabled"])
    dlg.repo_id.set("not a repo")
    assert dlg.start() is None and "your-name/dataset-name" in dlg.error.cget("text")
    dlg.repo_id.set("me/chats")
    finished(app, dlg.start())
    assert pushed == [("test-hf", "me/chats", True, True)]
    assert app.status_text.endswith("uploaded to https://huggingface.co/datasets/me/chats")

    # A failed upload (here: not logged in) says so; the folder is written all the same.
    errors = []
    monkeypatch.setattr(dialogs, "show_error", lambda parent, title, msg: errors.append((title, msg)))

    def not_logged_in(folder, repo_id, private=False):
        from lima_tk.errors import LimaError

        raise LimaError("not logged in to the Hugging Face Hub: run `hf auth login` (or set HF_TOKEN), then retry")

    monkeypatch.setattr(hf, "push_folder", not_logged_in)
    dlg = app.export_dialog()
    dlg.set_format("hf")
    dlg.push.set(True)
    dlg.repo_id.set("me/chats")
    finished(app, dlg.start())
    assert errors and errors[0][0] == "Upload failed" and "hf auth login" in errors[0][1]
    assert "the upload failed: not logged in" in app.status_text
    assert (tmp_path / "test-hf" / "data" / "train.jsonl").is_file()


def test_export_sharegpt_and_the_destination_follows_the_format(make_app, db_path: Path, tmp_path: Path) -> None:
    seed(db_path, 4)
    with DatasetStore(db_path) as s:
        s.create_chat("with system", messages=[Message("system", "Be brief."), Message("user", "Hi"),
                                               Message("assistant", "Hello.")])
    app = make_app()
    settle(app)
    dlg = app.export_dialog()
    dlg.set_format("sharegpt")
    assert Path(dlg.path.get()).name == "test-sharegpt.json"
    assert dlg.option_frames["sharegpt"].winfo_manager() == "grid"
    # A name typed by hand keeps its stem and takes the format's kind of ending.
    dlg.path.set(str(tmp_path / "mine.jsonl"))
    dlg.set_format("hf")
    assert Path(dlg.path.get()).name == "mine"
    assert dlg.option_frames["sharegpt"].winfo_manager() == ""
    dlg.set_format("sharegpt")
    assert Path(dlg.path.get()).name == "mine.json"
    dlg.set_format("openai")
    assert Path(dlg.path.get()).name == "mine.jsonl" and not dlg.option_frames["hf"].winfo_manager()
    dlg.set_format("sharegpt")
    dlg.system.set("column")
    finished(app, dlg.start())
    records = json.loads((tmp_path / "mine.json").read_text(encoding="utf-8"))
    assert len(records) == 5
    assert records[0]["conversations"] == [{"from": "human", "value": "question 0"},
                                           {"from": "gpt", "value": "answer 0"}]
    assert records[4]["system"] == "Be brief." and records[4]["conversations"][0]["from"] == "human"
    assert app.status_text.startswith("Exported 5 chats (11 messages) to mine.json")


def test_skip_chats_with_problems_and_the_report(make_app, db_path: Path, tmp_path: Path) -> None:
    seed(db_path, 3)
    with DatasetStore(db_path) as s:
        s.create_chat("blank reply", messages=[Message("user", "Hello?"), Message("assistant", "  ")])
        s.create_chat("no reply", messages=[Message("user", "Anyone?")])
    app = make_app()
    settle(app)
    dlg = app.export_dialog()
    dlg.path.set(str(tmp_path / "clean.jsonl"))
    dlg.skip_problems.set(True)
    finished(app, dlg.start())
    assert len(read_jsonl(tmp_path / "clean.jsonl")) == 3
    assert "skipped 2 (2 has linter errors)" in app.status_text
    report = app.last_report
    assert report is not None and report.winfo_exists() and report.title() == "Export report"
    assert report.lines[:2] == ["Skipped 2 chats:", "    • 2 × has linter errors"]
    assert any("View > Problems" in line for line in report.lines)
    report.destroy()
    # Without the option, the blank reply is written and the chat with no reply is skipped by the format.
    dlg = app.export_dialog()
    dlg.path.set(str(tmp_path / "all.jsonl"))
    finished(app, dlg.start())
    assert len(read_jsonl(tmp_path / "all.jsonl")) == 4
    assert "skipped 1 (1 no assistant message)" in app.status_text
    app.last_report.destroy()


def test_cancel_a_folder_export_leaves_nothing(make_app, db_path: Path, tmp_path: Path, monkeypatch) -> None:
    import lima_tk.formats as formats

    real_export = formats.export_file

    def export_after_cancel(*args, **kwargs):
        assert kwargs["cancel"].wait(10)  # hold the worker until Cancel was pressed
        return real_export(*args, **kwargs)

    monkeypatch.setattr(formats, "export_file", export_after_cancel)
    seed(db_path, 20)
    app = make_app()
    settle(app)
    dlg = app.export_dialog()
    dlg.set_format("hf")
    job = dlg.start()
    assert job.dialog.winfo_exists()
    job.dialog.cancel()  # the progress dialog's Cancel
    wait_until(lambda: job.finished, app.root)
    assert job.state == "cancelled" and app.status_text == "Export cancelled; no file was written"
    assert not [p.name for p in tmp_path.iterdir() if "hf" in p.name]  # no folder, no temp folder


# -- import --------------------------------------------------------------------------------------


def _node(nid: str, parent: str, children: list[str], role: str, parts: list, content_type: str = "text",
          **meta) -> dict:
    return {"id": nid, "parent": parent, "children": children,
            "message": {"id": nid, "author": {"role": role}, "create_time": 1700000000.0 + len(nid),
                        "content": {"content_type": content_type, "parts": parts}, "metadata": meta,
                        "recipient": "all"}}


def write_chatgpt_zip(path: Path) -> Path:
    """A ChatGPT data export: a conversation with a photo and a regenerated reply, and an empty one."""
    photo = {"title": "Photo question", "create_time": 1700000000.0, "update_time": 1700000100.0,
             "conversation_id": "c1", "current_node": "a1b", "mapping": {
                 "root": {"id": "root", "message": None, "parent": None, "children": ["u1"]},
                 "u1": _node("u1", "root", ["a1a", "a1b"], "user",
                             [{"content_type": "image_asset_pointer", "asset_pointer": "file-service://x"},
                              "What is in this photo?"], "multimodal_text"),
                 "a1a": _node("a1a", "u1", [], "assistant", ["A cat, maybe."], model_slug="gpt-4o"),
                 "a1b": _node("a1b", "u1", [], "assistant", ["A grey cat on a sofa."], model_slug="gpt-4o"),
             }}
    empty = {"title": "Empty", "create_time": 1700000200.0, "current_node": "root",
             "mapping": {"root": {"id": "root", "message": None, "parent": None, "children": []}}}
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("conversations.json", json.dumps([photo, empty]))
        z.writestr("user.json", "{}")
    return path


def test_import_a_chatgpt_zip_with_options_and_a_report(make_app, tmp_path: Path, monkeypatch) -> None:
    src = write_chatgpt_zip(tmp_path / "chatgpt-export.zip")
    app = make_app()
    settle(app)
    seen_types = []

    def choose(parent, title, filetypes=(), initialdir=None):
        seen_types.append(list(filetypes))
        return src

    monkeypatch.setattr(dialogs, "ask_open_path", choose)
    fire(app, "<<Import>>")
    # The chooser lists every importable kind of file; a ChatGPT export asks for its options.
    patterns = " ".join(p for _, p in seen_types[0])
    assert all(ext in patterns for ext in ("*.jsonl", "*.json", "*.csv", "*.zip")) and seen_types[0][-1][1] == "*"
    assert not app.jobs
    dlg = next(w for w in app.root.winfo_children() if isinstance(w, interop.ImportOptionsDialog))
    assert dlg.chatgpt_frame is not None and dlg.placeholder.get() == "[{kind}]"
    dlg.placeholder.set("(photo)")
    job = finished(app, dlg.start())
    assert job.result.skipped_reasons == {"no messages": 1}
    chat = app.store.get_chat(app.chat_list.visible_ids()[0])
    assert chat.name == "Photo question"
    assert [m.content for m in chat.messages] == ["(photo)\nWhat is in this photo?", "A grey cat on a sofa."]
    assert [v["content"] for v in chat.messages[1].variants()] == ["A cat, maybe.", "A grey cat on a sofa."]
    assert app.status_text.startswith("Imported 1 chat (2 messages) from chatgpt-export.zip, skipped 1")
    report = app.last_report
    assert report.title() == "Import report" and "ChatGPT data export" in report.heading
    assert report.lines[:2] == ["Skipped 1 chat:", "    • 1 × no messages"]
    assert any("image parts became placeholders" in line for line in report.lines)
    report.destroy()

    # The options change what is imported: regenerations dropped (into a fresh dataset via Open).
    fire(app, "<<Undo>>")
    assert app.store.count_chats() == 0
    app.start_import(src)
    dlg = next(w for w in app.root.winfo_children() if isinstance(w, interop.ImportOptionsDialog))
    dlg.regenerations.set("drop")
    finished(app, dlg.start())
    chat = app.store.get_chat(app.chat_list.visible_ids()[0])
    assert chat.messages[1].alternatives is None and chat.messages[0].content == "[image]\nWhat is in this photo?"


def test_open_a_chatgpt_zip_asks_its_options_for_the_new_dataset(make_app, tmp_path: Path) -> None:
    src = write_chatgpt_zip(tmp_path / "export.zip")
    app = make_app()
    dlg = app.import_as_new(src, name="from-chatgpt")
    assert isinstance(dlg, interop.ImportOptionsDialog) and dlg.title() == "Import into a new dataset"
    dlg.code_turns.set("drop")
    finished(app, dlg.start())
    assert app.store.path == tmp_path / "from-chatgpt.lima.db" and app.store.count_chats() == 1


def test_duplicates_are_skipped_then_allowed(make_app, db_path: Path, tmp_path: Path, monkeypatch) -> None:
    seed(db_path, 3)
    src = tmp_path / "more.jsonl"
    with open(src, "w", encoding="utf-8") as f:
        for i in range(4):  # the three chats already in the dataset, and a new one
            f.write(json.dumps({"messages": [{"role": "user", "content": f"question {i}"},
                                             {"role": "assistant", "content": f"answer {i}"}]}) + "\n")
    app = make_app()
    settle(app)
    monkeypatch.setattr(dialogs, "ask_open_path", lambda *a, **k: src)
    fire(app, "<<Import>>")  # a plain JSONL file: no options to ask, the import starts at once
    finished(app, app.jobs[-1])
    assert app.store.count_chats() == 4
    assert app.status_text.startswith("Imported 1 chat (2 messages) from more.jsonl, skipped 3 (3 duplicates)")
    lines = app.last_report.lines
    assert lines[:2] == ["Skipped 3 chats:", "    • 3 × duplicate of a chat in the dataset"]
    assert "Import with options" in lines[2]
    app.last_report.destroy()
    # File > Import with options… (Ctrl+Shift+I): tick "Import duplicates too".
    assert app.menu_label("<<ImportWithOptions>>") == "Import with options…"
    tree = app.chat_list.tree
    tree.focus_force()
    tree.update()
    tree.event_generate("<Control-Shift-I>")  # Ctrl+Shift+I
    app.root.update()
    dlg = next(w for w in app.root.winfo_children() if isinstance(w, interop.ImportOptionsDialog))
    assert dlg.chatgpt_frame is None  # JSONL: duplicates are its only option
    dlg.allow_duplicates.set(True)
    finished(app, dlg.start())
    assert app.store.count_chats() == 8
    assert app.last_report is None and app.status_text.startswith("Imported 4 chats (8 messages)")


def test_plain_imports_still_start_at_once(make_app, tmp_path: Path) -> None:
    src = write_openai_jsonl(tmp_path / "x.jsonl", 2)
    app = make_app()
    job = app.start_import(src)
    assert job in app.jobs
    finished(app, job)


# -- rejected versions in the editor -> preference export ---------------------------------------


def test_reject_a_version_in_the_editor_and_export_preference_pairs(make_app, db_path: Path,
                                                                     tmp_path: Path) -> None:
    with DatasetStore(db_path) as s:
        cid = s.create_chat("Capital", messages=[Message("user", "Capital of France?"),
                                                 Message("assistant", "Paris.")])
        mid = s.get_chat(cid).messages[1].id
        s.add_alternative(mid, "Lyon, I think.", model="m", finish="stop", show=False)
        s.add_alternative(mid, "It is Marseille.", model="m", finish="stop", show=False)
        s.conn.execute("DELETE FROM journal")
    app = make_app()
    settle(app)
    app.open_chat(cid)
    ed = editor_ready(app, cid)
    card = card_at(ed, 1)
    assert card.meta_row.label("versions") == "1/3"
    menu = ed.assist.versions_menu(card, 10, 10)
    menu.unpost()
    labels = [menu.entrycget(i, "label") if menu.type(i) != "separator" else "-"
              for i in range(menu.index("end") + 1)]
    assert labels[3:] == ["-", "Rejected, for preference pairs (the shown one is chosen):", "Version 2 rejected",
                          "Version 3 rejected", "Reject all other versions", "-", "Delete version 1"]
    menu.invoke(labels.index("Version 2 rejected"))
    ed.update()
    m = app.store.get_chat(cid).messages[1]
    assert [bool(v.get("rejected")) for v in m.variants()] == [False, True, False]
    assert m.content == "Paris."  # the shown version stays the chosen one
    assert card.meta_row.label("versions") == "1/3 · 1 rejected"
    assert app.store.undo_label() == "Reject version 2"
    menu = ed.assist.versions_menu(card, 10, 10)
    menu.unpost()
    assert menu.entrycget(0, "label").endswith("✓ chosen") and menu.entrycget(1, "label").endswith("✗ rejected")
    assert ed.assist.reject_vars[1].get() == 1 and ed.assist.reject_vars[2].get() == 0
    # One undo step (the editor's journal undo, outside a text), and redo.
    ed.canvas.focus_set()
    ed.event_generate("<<JournalUndo>>")
    ed.update()
    assert card.meta_row.label("versions") == "1/3"
    ed.event_generate("<<JournalRedo>>")
    ed.update()
    assert card.meta_row.label("versions") == "1/3 · 1 rejected"

    dlg = app.export_dialog()
    dlg.set_format("pref-trl")
    assert Path(dlg.path.get()).name == "test-pref-trl.jsonl"
    assert dlg.pref_note.cget("text").startswith("1 reply in this dataset has versions marked rejected")
    finished(app, dlg.start())
    rows = read_jsonl(tmp_path / "test-pref-trl.jsonl")
    assert rows == [{"prompt": [{"role": "user", "content": "Capital of France?"}],
                     "chosen": [{"role": "assistant", "content": "Paris."}],
                     "rejected": [{"role": "assistant", "content": "Lyon, I think."}]}]
    assert app.status_text.startswith("Exported 1 preference pair from 1 chat to test-pref-trl.jsonl")
    # "Every version not shown" takes version 3 as well.
    dlg = app.export_dialog()
    dlg.set_format("pref-openai")
    dlg.rejected.set("all")
    finished(app, dlg.start())
    rows = read_jsonl(tmp_path / "test-pref-openai.jsonl")
    assert [r["non_preferred_output"][0]["content"] for r in rows] == ["Lyon, I think.", "It is Marseille."]
    assert rows[0]["input"]["messages"] == [{"role": "user", "content": "Capital of France?"}]
    # "Reject all other versions": one undo step for all of them.
    menu = ed.assist.versions_menu(card, 10, 10)
    menu.unpost()
    menu.invoke(labels.index("Version 2 rejected"))  # not rejected any more
    ed.update()
    assert card.meta_row.label("versions") == "1/3"
    menu = ed.assist.versions_menu(card, 10, 10)
    menu.unpost()
    menu.invoke(labels.index("Reject all other versions"))
    ed.update()
    assert card.meta_row.label("versions") == "1/3 · 2 rejected"
    assert app.store.undo_label() == "Reject 2 versions"
    fire(app, "<<Undo>>")
    assert card.meta_row.label("versions") == "1/3"


# -- Problems panel from the menu ------------------------------------------------------------------


def test_problems_from_the_view_menu_opens_the_chat_at_the_message(make_app, db_path: Path) -> None:
    msgs = []
    for i in range(20):
        msgs += [Message("user", f"Question {i}: " + " ".join(["words"] * 30)), Message("assistant", f"Answer {i}.")]
    msgs[25] = Message("assistant", "   ")  # message 26: only whitespace
    with DatasetStore(db_path) as s:
        cid = s.create_chat("long chat", "en", messages=msgs)
    app = make_app()
    settle(app)
    menu, index = app._menu_index["<<Problems>>"]
    assert menu is app.menus["View"] and menu.entrycget(index, "accelerator") == "F8"
    menu.invoke(index)  # View > Problems…
    panel = wait_until(lambda: getattr(app, "problems_panel", None), app.root)
    wait_until(lambda: panel.state == "done", app.root, 20)
    panel.geometry("900x400+0+0")
    panel.deiconify()
    wait_until(lambda: panel.tree.winfo_viewable(), app.root)
    panel.update()
    row = next(iid for iid in panel.tree.get_children() if panel.tree.item(iid, "values")[1] == "empty-message")
    assert panel.tree.item(row, "values")[3] == "26"
    panel.tree.see(row)
    panel.update()
    bbox = panel.tree.bbox(row)
    x, y = bbox[0] + 10, bbox[1] + bbox[3] // 2
    for _ in range(2):  # two clicks at one place: a double-click
        panel.tree.event_generate("<ButtonPress-1>", x=x, y=y)
        panel.tree.event_generate("<ButtonRelease-1>", x=x, y=y)
    ed = editor_ready(app, cid)
    target = ed.order[25]
    wait_until(lambda: ed.current_id == target, app.root)
    card = ed.cards[target]

    def in_view() -> bool:
        ed.update_idletasks()
        top = ed.view_top()
        return card.y >= 0 and top <= card.y and card.y + card.h <= top + ed.view_height()

    wait_until(in_view, app.root)
    # It stays there once the editor has made its other cards and settled (no jump to the end).
    wait_until(lambda: ed.view.settled, app.root)
    assert in_view() and ed.current_id == target
    panel.close()


# -- undo from the main window while a reply streams ----------------------------------------------


def test_undo_in_the_main_window_stops_a_streaming_reply_first(make_app, openai_server, db_path: Path) -> None:
    openai_server.set(reply="s" * 300, chunks=150, chunk_delay=0.03)
    with DatasetStore(db_path) as s:
        cid = s.create_chat("story", messages=[Message("system", "Be brief."), Message("user", "Tell me a story")])
        s.conn.execute("DELETE FROM journal")
    app = make_app(user_settings={"base_url": openai_server.base_url, "model": "test-model", "timeout": 5,
                                  "use_env_key": False})
    settle(app)
    app.open_chat(cid)
    ed = editor_ready(app, cid)
    ed.event_generate("<<GenerateReply>>")
    stream = ed.assist.stream
    assert stream is not None
    wait_until(lambda: ed.cards[stream.mid].get_text(), app.root)
    app.chat_list.tree.focus_force()
    fire(app, "<<Undo>>")  # Ctrl+Z in the main window
    # Stopped first (its text saved, then undone with the whole generation), not cut off underneath.
    assert not ed.assist.streaming() and stream.result == "cancelled"
    assert not [t for t in threading.enumerate() if t.name == "lima-assist" and t.is_alive()]
    assert [m.role for m in app.store.get_chat(cid).messages] == ["system", "user"]
    assert len(ed.order) == 2
    assert app.status_text == "Undid Generate reply"
    wait_until(lambda: openai_server.posts()[-1].client_closed, app.root, 5)
    fire(app, "<<Redo>>")  # and redo brings the stopped reply back, as it was
    m = app.store.get_chat(cid).messages[2]
    assert m.finish == "cancelled" and 0 < len(m.content) < 300


def test_export_dialog_warns_about_no_train_replies_and_lists_what_is_lost(make_app, db_path: Path,
                                                                           tmp_path: Path) -> None:
    """Issue 11: the dialog says how many replies marked "no train" the chosen format would train,
    offers the way out (its choice reaches the writer), and lists what the format cannot hold."""
    seed(db_path, 2)
    with DatasetStore(db_path) as s:
        s.create_chat("bad reply", messages=[Message("user", "2+2?"), Message("assistant", "5", weight=0),
                                             Message("user", "again"), Message("assistant", "4")])
    app = make_app()
    settle(app)
    dlg = app.export_dialog()
    dlg.set_format("openai")
    dlg.update()
    assert not dlg.weight0_frame.winfo_ismapped()  # OpenAI keeps "weight": 0
    assert "chat name, language, tags" in dlg.lossy_note.cget("text")
    dlg.set_format("sharegpt")
    dlg.update()
    assert dlg.weight0_frame.winfo_ismapped()
    assert dlg.weight0_note.cget("text").startswith("1 reply marked “no train”")
    assert "parallel tool results" in dlg.lossy_note.cget("text")
    dlg.set_format("hf")
    dlg.update()
    assert dlg.weight0_frame.winfo_ismapped() and "weights" in dlg.lossy_note.cget("text")
    dlg.training_flag.set(True)  # the flag marks them: nothing to warn about
    dlg.update()
    assert not dlg.weight0_frame.winfo_ismapped() and "weights" not in dlg.lossy_note.cget("text")
    dlg.set_format("sharegpt")
    dlg.weight0.set("cut")
    assert dlg.options()["weight0"] == "cut"
    dlg.path.set(str(tmp_path / "s.json"))
    finished(app, dlg.start())
    records = json.loads((tmp_path / "s.json").read_text(encoding="utf-8"))
    assert len(records) == 2  # "bad reply" has no reply left before "5": left out
    assert app.last_report is not None  # skipped: the report window, with what the format loses
    lines = app.last_report.lines
    assert any("weight0=cut" in x for x in lines) and "Not in this format:" in lines


def test_hf_tool_arguments_as_strings_for_older_datasets(make_app, db_path: Path, tmp_path: Path) -> None:
    """The hf options offer tool_args=string (datasets < 4.7 cannot load arguments as objects:
    scripts/check_datasets_versions.py); the lossy note follows the box."""
    call = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"x": 1}'}}
    with DatasetStore(db_path) as s:
        s.create_chat("tool", messages=[Message("user", "go"), Message("assistant", "", tool_calls=[call]),
                                        Message("tool", "ok", tool_call_id="call_1"), Message("assistant", "done")])
    app = make_app()
    settle(app)
    out = tmp_path / "test-hf"
    for strings in (False, True):
        dlg = app.export_dialog()
        dlg.set_format("hf")
        app.root.update()
        box = next(w for w in dlg.option_frames["hf"].winfo_children()
                   if w.winfo_class() == "TCheckbutton" and "datasets older than 4.7" in str(w.cget("text")))
        if strings:
            box.invoke()
            app.root.update()
        assert ("escaped strings" in dlg.lossy_note.cget("text")) is strings
        finished(app, dlg.start())
        args = read_jsonl(out / "data" / "tools-train.jsonl")[0]["messages"][1]["tool_calls"][0]["function"]
        assert args["arguments"] == ('{"x": 1}' if strings else {"x": 1})
        assert ("tool_args=string for an older one" in (out / "README.md").read_text(encoding="utf-8")) is not strings
