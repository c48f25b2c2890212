"""First run: the default dataset is made once, with its example chat, and never over an
existing file; which dataset opens."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from lima_tk import first_run
from lima_tk.first_run import EXAMPLE_NAME, create_default_dataset, default_dataset_file, prepare_start, start_dataset
from lima_tk.store import DatasetStore


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_first_run_creates_the_default_dataset_with_one_example(tmp_path: Path) -> None:
    path = default_dataset_file()
    assert path == tmp_path / "data" / "lima-tk" / "dataset.lima.db"
    assert not path.exists()
    assert prepare_start({}) == path
    with DatasetStore(path) as s:
        (row,) = s.list_chats()
        chat = s.get_chat(row.id)
        assert chat.name == EXAMPLE_NAME and chat.language == "en" and chat.tags == ["example"]
        assert [m.role for m in chat.messages] == ["system", "user", "assistant"]
        assert all(m.content for m in chat.messages)
        assert s.undo_label() is None  # the example is where the dataset starts, not a step to undo
        assert "example" in s.tag_counts()
    # Nothing left behind beside it: no temporary file, no -wal.
    assert sorted(p.name for p in path.parent.iterdir()) == ["dataset.lima.db"]


def test_an_existing_default_dataset_is_never_touched(tmp_path: Path) -> None:
    path = default_dataset_file()
    prepare_start({})
    with DatasetStore(path) as s:
        s.delete_chats([r.id for r in s.list_chats()])  # the user deleted the example
        s.create_chat("mine")
    before = digest(path)
    assert prepare_start({}) == path
    assert not create_default_dataset(path)
    assert digest(path) == before
    with DatasetStore(path) as s:
        assert [r.name for r in s.list_chats()] == ["mine"]


@pytest.mark.parametrize("content", [b"", b"not a dataset at all"])
def test_an_existing_file_of_that_name_is_never_overwritten(content: bytes) -> None:
    path = default_dataset_file()
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    assert prepare_start({}) == path
    assert path.read_bytes() == content
    assert not create_default_dataset(path)
    assert path.read_bytes() == content
    assert sorted(p.name for p in path.parent.iterdir()) == ["dataset.lima.db"]


def test_a_file_that_appears_meanwhile_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    """Another lima-tk starting at the same moment: whichever file lands first stays."""
    path = default_dataset_file()
    real_place = first_run._place

    def other_process_first(tmp: Path, target: Path) -> None:
        target.write_bytes(b"")  # the other one was faster
        real_place(tmp, target)

    monkeypatch.setattr(first_run, "_place", other_process_first)
    assert not create_default_dataset(path)
    assert path.read_bytes() == b""
    assert sorted(p.name for p in path.parent.iterdir()) == ["dataset.lima.db"]


def test_without_hard_links_it_still_never_overwrites(monkeypatch: pytest.MonkeyPatch) -> None:
    path = default_dataset_file()

    def no_links(src: object, dst: object) -> None:
        raise PermissionError(1, "Operation not permitted")  # as on file systems without hard links

    monkeypatch.setattr(os, "link", no_links)
    assert create_default_dataset(path)
    with DatasetStore(path) as s:
        assert s.count_chats() == 1
    before = digest(path)
    assert not create_default_dataset(path)
    assert digest(path) == before


def test_which_dataset_opens(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    default = default_dataset_file()
    assert start_dataset({}) == default  # at first the default one
    last = tmp_path / "work.lima.db"
    last.write_bytes(b"")
    assert start_dataset({"last_dataset": str(last)}) == last  # then the last one used
    assert start_dataset({"last_dataset": str(tmp_path / "gone.lima.db")}) == default  # unless it is gone
    monkeypatch.setenv("LIMA_TK_DB", str(tmp_path / "env.lima.db"))
    assert start_dataset({"last_dataset": str(last)}) == tmp_path / "env.lima.db"


def test_no_example_in_a_dataset_that_is_not_the_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the default dataset gets the example: not $LIMA_TK_DB, not the last one used."""
    monkeypatch.setenv("LIMA_TK_DB", str(tmp_path / "env.lima.db"))
    assert prepare_start({}) == tmp_path / "env.lima.db"
    assert not (tmp_path / "env.lima.db").exists() and not default_dataset_file().exists()
    monkeypatch.delenv("LIMA_TK_DB")
    last = tmp_path / "last.lima.db"
    DatasetStore(last).close()
    assert prepare_start({"last_dataset": str(last)}) == last
    assert not default_dataset_file().exists()
    with DatasetStore(last) as s:
        assert s.count_chats() == 0


def test_first_run_when_the_data_folder_cannot_be_made(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "data-is-a-file"
    blocker.write_text("")
    monkeypatch.setenv("XDG_DATA_HOME", str(blocker))
    assert prepare_start({}) == blocker / "lima-tk" / "dataset.lima.db"  # no exception: the window says why


def test_example_is_valid_training_data(tmp_path: Path) -> None:
    """The example must itself pass the linter and export as OpenAI fine-tuning data."""
    from lima_tk.formats import export_file
    from lima_tk.validate import ERROR, lint_store

    prepare_start({})
    with DatasetStore(default_dataset_file()) as s:
        assert [f for f in lint_store(s) if f.severity == ERROR] == []
        export_file(s, tmp_path / "out.jsonl", fmt="openai")
    (row,) = (json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines())
    assert [m["role"] for m in row["messages"]] == ["system", "user", "assistant"]


def test_the_first_run_asks_once_for_the_welcome_panel() -> None:
    from lima_tk.first_run import WELCOME_KEY
    from lima_tk.settings import load_user_settings

    settings: dict = {}
    prepare_start(settings)
    assert settings[WELCOME_KEY] is True and load_user_settings()[WELCOME_KEY] is True  # saved at once
    saved = load_user_settings()
    saved[WELCOME_KEY] = False  # dismissed in the window
    from lima_tk.settings import save_user_settings

    save_user_settings(saved)
    again = load_user_settings()
    prepare_start(again)  # the default dataset is there: not a first run
    assert again[WELCOME_KEY] is False and load_user_settings()[WELCOME_KEY] is False
