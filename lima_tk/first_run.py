"""First run: the default dataset, made once with one short example chat.

Which dataset opens: the one given (`--db`, $LIMA_TK_DB), else the last dataset you used, at first
the default one (`dataset.lima.db` in the user data directory). Only that default file is ever
created here, and never over an existing file (an empty file included): the example is written to
a temporary file beside it and linked into place, which fails when the name is taken.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from lima_tk.model import Message
from lima_tk.paths import DATASET_SUFFIX, user_data_dir

log = logging.getLogger(__name__)

WELCOME_KEY = "show_welcome"  # user setting: the main window shows its welcome panel
EXAMPLE_NAME = "Example: how a chat looks"
EXAMPLE_TAG = "example"
EXAMPLE_MESSAGES = (
    ("system", "You are a concise, friendly assistant."),
    ("user", "What is lima-tk for?"),
    ("assistant", "It helps you write a small, high-quality set of chats by hand, to fine-tune your own "
                  "model. Each chat is a list of turns like this one. Edit any turn, add the next one "
                  "with Ctrl+Enter, or let a model draft a reply with Ctrl+G. Delete this example when "
                  "you no longer need it."),
)


def default_dataset_file() -> Path:
    """The default dataset in the user data directory (what opens on the very first start)."""
    return user_data_dir() / f"dataset{DATASET_SUFFIX}"


def start_dataset(settings: dict[str, Any]) -> Path:
    """The dataset the window opens without --db: $LIMA_TK_DB, else the last one used while it
    still exists, else the default one."""
    if os.environ.get("LIMA_TK_DB"):
        return Path(os.environ["LIMA_TK_DB"]).expanduser()
    last = settings.get("last_dataset")
    if isinstance(last, str) and last and Path(last).is_file():
        return Path(last)
    return default_dataset_file()


def create_default_dataset(path: Path | None = None) -> bool:
    """Create the default dataset with the example chat. False (and nothing touched) when a file
    of that name exists already, whatever it holds. Raises OSError/DatasetError when it cannot
    be written; a half-made temporary file is removed."""
    from lima_tk.store import DatasetStore

    path = path or default_dataset_file()
    if os.path.lexists(path):
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".first-run-", suffix=DATASET_SUFFIX, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        tmp.unlink()  # DatasetStore creates the file itself; the unique name stays ours
        with DatasetStore(tmp) as store:
            store.create_chat(name=EXAMPLE_NAME, language="en", tags=[EXAMPLE_TAG],
                              messages=[Message(role, text) for role, text in EXAMPLE_MESSAGES])
            store.journal.clear()  # the example is where a dataset starts, not a step to undo
            store.checkpoint()
        # Closed: the file is complete without its -wal. link() refuses an existing name (rename
        # would replace it on POSIX); Windows' rename refuses it too.
        try:
            _place(tmp, path)
        except FileExistsError:
            return False
    finally:
        for suffix in ("", "-wal", "-shm"):
            try:
                os.unlink(f"{tmp}{suffix}")
            except OSError:
                pass
    log.info("first run: created %s with an example chat", path)
    return True


def _place(tmp: Path, path: Path) -> None:
    """Put the finished file at `path`, or raise FileExistsError when that name is taken."""
    if os.name == "nt":
        os.rename(tmp, path)  # Windows' rename never replaces a file
        return
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise
    except OSError:  # a file system without hard links: copy into a file only we create
        with open(path, "xb") as f:
            f.write(tmp.read_bytes())


def prepare_start(settings: dict[str, Any]) -> Path:
    """Called before the window opens without --db: on the first run, create the default dataset
    with its example chat. Returns the dataset that will open. Never raises for a dataset that
    cannot be made: the window then reports the problem itself."""
    path = start_dataset(settings)
    if path == default_dataset_file() and not os.path.lexists(path):
        try:
            created = create_default_dataset(path)
        except Exception as e:  # noqa: BLE001 - opening it will say what is wrong, in the window
            log.warning("first run: could not create %s: %s", path, e)
        else:
            if created:
                ask_for_welcome(settings)
    return path


def ask_for_welcome(settings: dict[str, Any]) -> None:
    """Remember (in the user settings file) that the window should show its welcome panel: set
    once, on the first run, and cleared when the user dismisses the panel."""
    from lima_tk.settings import save_user_settings

    settings[WELCOME_KEY] = True
    try:
        save_user_settings(settings)
    except OSError as e:  # no welcome panel is better than no start
        log.warning("first run: could not save the settings: %s", e)
