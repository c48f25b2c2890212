"""The main window's dataset files: which dataset opens at start-up, New…, Open… (a dataset opens;
any other chat file is imported into a new dataset beside it), Open recent, Save a copy as…,
and the import and export jobs with their reports (issue 14: out of the window class).

Slow work runs as a `worker.Job` behind a progress dialog (`progress.run_with_progress`): the
worker opens its own `DatasetStore` (SQLite connections are per thread), reports progress and
checks the cancel flag between chunks. While an import writes, other changes are refused
(`writing`). Save a copy is `DatasetStore.save_copy` (SQLite's backup API, never a file copy).
What it needs from the window is `interfaces.FilesHost`. Tk thread only, except the `work`
functions, which run on the worker.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lima_tk.errors import DatasetError, LimaError
from lima_tk.paths import DATASET_SUFFIX, default_dataset_path
from lima_tk.store import ChatFilter, DatasetStore
from lima_tk.store.files import is_open_dataset, refuse_dataset_target
from lima_tk.store.journal import UNFINISHED
from lima_tk.ui import dialogs
from lima_tk.ui.errors import as_status_line as action
from lima_tk.ui.theme import PAD
from lima_tk.ui.worker import Job

if TYPE_CHECKING:
    import tkinter as tk

    from lima_tk.ui.interfaces import FilesHost

MAX_RECENT = 10
# File > Open of a chat file shows the first chats read-only while the rest is imported (issue 15).
IMPORTING = "the rest of the file is being imported"
# Read-only reasons with a notice of their own (the others say how to edit a copy).
READONLY_NOTICES = {IMPORTING: "Importing: these are the first chats of the file. The list fills in and "
                               "editing comes on when the import is done; Cancel takes it all back."}


class DatasetFiles:
    """Tk thread only."""

    def __init__(self, host: FilesHost, poll_ms: int = 50) -> None:
        self.host = host
        self.poll_ms = poll_ms  # how often a job's progress is read
        self.jobs: list[Job] = []
        self.last_report: Any = None  # the report window of the last import or export, if one opened
        self.recent_menu: tk.Menu | None = None

    # The window's, for the `action` wrapper and the code below.
    @property
    def root(self) -> tk.Tk:
        return self.host.root

    @property
    def store(self) -> DatasetStore | None:
        return self.host.store

    def status(self, text: str, error: bool = False) -> None:
        self.host.status(text, error=error)

    @property
    def writing(self) -> bool:
        """An import is writing the dataset: other changes wait (they would wait for its lock)."""
        return any(not j.finished for j in self.jobs if j.writes)

    def close(self) -> None:
        """Teardown (the window closes): every job is told to stop and no longer polled."""
        for job in self.jobs:
            job.close()

    def make_recent_menu(self, file_menu: tk.Menu) -> None:
        """File > Open recent (a cascade, filled when it opens)."""
        import tkinter as tk

        self.recent_menu = tk.Menu(file_menu, tearoff=False, postcommand=self.fill_recent_menu)
        file_menu.add_cascade(label="Open recent", menu=self.recent_menu, accelerator="Ctrl+R")

    def start_path(self, db_path: str | Path | None) -> Path:
        if db_path:
            return Path(db_path).expanduser()
        if os.environ.get("LIMA_TK_DB"):
            return default_dataset_path()
        last = self.host.user_settings.get("last_dataset")
        if isinstance(last, str) and last and Path(last).is_file():
            return Path(last)
        return default_dataset_path()

    def remember(self, path: Path) -> None:
        p = str(path.resolve())
        recent = [x for x in self.host.user_settings.get("recent_files") or [] if isinstance(x, str) and x != p]
        self.host.user_settings["recent_files"] = [p, *recent][:MAX_RECENT]
        self.host.user_settings["last_dataset"] = p
        self.host.save_settings()

    def fill_recent_menu(self) -> None:
        m = self.recent_menu
        m.delete(0, "end")
        recent = [p for p in self.host.user_settings.get("recent_files") or [] if isinstance(p, str)]
        current = str(self.store.path) if self.store else None
        shown = 0
        for i, p in enumerate(recent):
            if p == current or not Path(p).exists():
                continue
            m.add_command(label=f"{shown + 1}  {short_path(p)}", underline=0,
                          command=lambda p=p: self.open_recent(p))
            shown += 1
            if i >= MAX_RECENT:
                break
        if not shown:
            m.add_command(label="(no other recent datasets)", state="disabled")

    def popup_recent(self) -> None:
        self.fill_recent_menu()
        t = self.host.chat_list.tree
        try:
            self.recent_menu.tk_popup(t.winfo_rootx() + 4 * PAD, t.winfo_rooty() + 4 * PAD)
        finally:
            self.recent_menu.grab_release()

    def open_recent(self, path: str | Path) -> bool:
        return self.open_path(Path(path))

    @action
    def new_dataset(self) -> bool:
        folder = str(self.store.path.parent) if self.store else None
        path = dialogs.ask_save_path(self.root, "New dataset", initialfile=f"dataset{DATASET_SUFFIX}",
                                     defaultextension=DATASET_SUFFIX, filetypes=dialogs.DATASET_TYPES,
                                     initialdir=folder)
        if not path:
            return False
        if not path.name.endswith(".db"):
            path = path.with_name(path.name + DATASET_SUFFIX)
        if path.exists():
            msg = f"{path.name} already exists. Open it with Ctrl+O, or choose another name."
            self.status(msg, error=True)
            dialogs.show_error(self.root, "New dataset", msg)
            return False
        return self.host.open_dataset(path)

    @action
    def open_dialog(self) -> bool:
        folder = str(self.store.path.parent) if self.store else None
        path = dialogs.ask_open_path(self.root, "Open a dataset or a chat file", dialogs.OPEN_TYPES, folder)
        if not path:
            return False
        return self.open_path(path)

    def open_path(self, path: Path) -> bool:
        """A dataset opens directly; any other file is imported into a new dataset beside it."""
        if not path.exists():
            msg = f"{path}: no such file"
            self.status(msg, error=True)
            dialogs.show_error(self.root, "Open", msg)
            return False
        if _is_dataset(path):
            return self.host.open_dataset(path)
        return bool(self.import_as_new(path))

    def import_as_new(self, src: Path, name: str | None = None) -> Job | None:
        """Import a chat file into a NEW dataset next to it (the file itself is never changed)."""
        if name is None:
            name = dialogs.ask_string(
                self.root, "Import into a new dataset",
                f"{src.name} is not a lima-tk dataset. Its chats will be imported into a new dataset in "
                f"the same folder; {src.name} itself is not changed.\n\nName of the new dataset:",
                src.name.split(".")[0] or "dataset",
            )
        if not name:
            return None
        if not name.endswith(".db"):
            name += DATASET_SUFFIX
        dest = src.parent / name
        if dest.exists():
            msg = f"{dest.name} already exists in {dest.parent}; choose another name."
            self.status(msg, error=True)
            dialogs.show_error(self.root, "Import", msg)
            return None
        from lima_tk.ui import interop

        fmt = interop.detect(src)
        if fmt in interop.IMPORT_OPTION_FORMATS:
            return interop.ImportOptionsDialog(  # type: ignore[return-value]
                self.host, src, fmt, lambda options, dup: self._import_new(src, dest, options, dup),
                title="Import into a new dataset", new_dataset=True)
        return self._import_new(src, dest)

    def _import_new(self, src: Path, dest: Path, options: dict[str, Any] | None = None,
                    allow_duplicates: bool = False) -> Job:
        created = threading.Event()  # set by the worker once `dest` is a file it made
        # The window shows the first chats, read-only, while the rest is imported (issue 15);
        # `back` is the dataset it showed before, reopened if the import fails.
        shown: dict[str, Path | None] = {}

        def work(job: Job):
            from lima_tk.formats import import_file

            # Claim the name now, atomically: the check when it was asked may be old (an options
            # dialog was open meanwhile; another import took the name). An existing dataset is
            # never imported into, and so never removed when this import fails.
            try:
                os.close(os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            except FileExistsError:
                raise DatasetError(f"{dest.name} already exists in {dest.parent}; nothing was imported into it "
                                   "(choose another name)") from None
            created.set()
            with DatasetStore(dest) as s:
                return import_file(s, src, "auto", progress=job.progress, cancel=job.cancel_event, options=options,
                                   allow_duplicates=allow_duplicates, first=lambda n: job.post("first", n))

        def show_first(kind: str, n: int):
            back = self.store.path if self.store is not None else None
            if kind != "first" or not self.host.open_dataset(dest, readonly=IMPORTING, quiet=True):
                return
            shown["back"] = back
            self.host.status(f"The first {_n(n, 'chat')} of {src.name}; importing the rest…")

        def done(report):
            self.host.open_dataset(dest)  # again, writable
            self.import_done(report, src)

        def failed(exc: BaseException | None = None):
            if "back" in shown and self.store is not None and self.store.path == dest:
                # Never remove a file the window has open (SQLite's locks, brief rule 10).
                self.host.open_dataset(shown["back"] or default_dataset_path(), quiet=True)
            if created.is_set() and not is_open_dataset(dest):
                _remove_dataset(dest)
            if exc is None:
                self.status(f"Import of {src.name} cancelled; nothing was created")
            else:
                self.job_failed("Import", exc)

        return self.run_job(f"Importing {src.name}", f"Importing {src.name} into {dest.name}…", work,
                             done, failed, lambda: failed(None), unit="bytes", writes=True, on_event=show_first)

    @action
    def import_dialog(self, with_options: bool = False) -> Any:
        """File > Import (Ctrl+I): choose a file; a format with options (a ChatGPT export) asks for
        them first. File > Import with options… (Ctrl+Shift+I) always asks (duplicates too)."""
        if not self.host.writable():
            return None
        path = dialogs.ask_open_path(self.root, "Import into this dataset", dialogs.IMPORT_TYPES,
                                     str(self.store.path.parent))
        if not path:
            return None
        return self.start_import(path, with_options)

    def start_import(self, path: str | Path, with_options: bool = False) -> Any:
        """The import of `path`: the options dialog (returned) when the format has options or
        `with_options`, else the import Job at once."""
        from lima_tk.ui import interop

        src = Path(path)
        fmt = interop.detect(src)
        if with_options or fmt in interop.IMPORT_OPTION_FORMATS:
            return interop.ImportOptionsDialog(
                self, src, fmt, lambda options, dup: self.import_file(src, options=options, allow_duplicates=dup))
        return self.import_file(src)

    def import_file(self, path: str | Path, *, options: dict[str, Any] | None = None,
                    allow_duplicates: bool = False) -> Job | None:
        """Import a chat file into the open dataset on a worker thread (one undo step)."""
        if not self.host.writable():
            return None
        src = Path(path)
        db = self.store.path
        self.host.flush_pending(strict=False)

        def work(job: Job):
            from lima_tk.formats import import_file

            with DatasetStore(db) as s:
                return import_file(s, src, "auto", progress=job.progress, cancel=job.cancel_event, options=options,
                                   allow_duplicates=allow_duplicates)

        return self.run_job(f"Importing {src.name}", f"Importing {src.name} into {db.name}…", work,
                             lambda r: (self.host.data_changed(), self.import_done(r, src)),
                             lambda e: self.job_failed("Import", e),
                             lambda: self.status(f"Import of {src.name} cancelled; the dataset is unchanged"),
                             unit="bytes", writes=True)

    def import_done(self, report: Any, src: Path) -> None:
        from lima_tk.formats import summary
        from lima_tk.ui import interop

        what = interop.IMPORT_LABELS.get(report.format, report.format)
        self.last_report = interop.show_report(self.host, report, summary.import_heading(report, src.name, what),
                                               imported=True)
        self.status(summary.import_status(report, src.name))

    @action
    def export_dialog(self) -> Any:
        if self.store is None:
            self.status("Open a dataset first", error=True)
            return None
        self.host.flush_pending(strict=False)
        from lima_tk.ui.interop import ExportDialog

        return ExportDialog(self.host)

    def run_export(self, out: Path, fmt: str, chat_filter: ChatFilter | None, *,
                   options: dict[str, Any] | None = None, skip_problems: bool = False,
                   push: tuple[str, bool] | None = None) -> Job | None:
        """Export on a worker thread behind a progress dialog. `push` = (repo id, private): then
        upload the exported folder (hf) to the Hugging Face Hub, on the same worker."""
        if self.store is None:
            return None
        self.host.flush_pending(strict=False)
        db, ro = self.store.path, self.store.readonly

        def work(job: Job):
            from lima_tk.errors import LimaError
            from lima_tk.formats import export_file

            with DatasetStore(db, readonly=ro) as s:
                report = export_file(s, out, fmt, chat_filter=chat_filter, progress=job.progress,
                                     cancel=job.cancel_event, options=options, skip_problems=skip_problems)
            uploaded: str | LimaError | None = None
            if push is not None:
                from lima_tk.formats.hf import push_folder

                try:
                    uploaded = push_folder(out, push[0], push[1])
                except LimaError as e:  # the folder is written either way: say what failed
                    uploaded = e
            return report, uploaded

        def done(result):
            from lima_tk.formats import summary
            from lima_tk.ui import interop

            r, uploaded = result
            pref = fmt in interop.PREFERENCE_FORMATS
            text = summary.export_status(r, out.name, preference=pref,
                                         uploaded=uploaded if isinstance(uploaded, str) else None)
            self.last_report = interop.show_report(self.host, r, summary.export_heading(r, out.name, preference=pref),
                                                   imported=False)
            if isinstance(uploaded, Exception):
                self.status(f"{text}; the upload failed: {uploaded}", error=True)
                dialogs.show_error(self.root, "Upload failed", f"{out.name} was written, but the upload failed:"
                                                               f"\n\n{uploaded}")
                return
            self.status(text)

        message = f"Exporting to {out.name}…"
        if push is not None:
            message = f"Exporting to {out.name}, then uploading it to {push[0]}…"
        return self.run_job("Exporting", message, work, done,
                             lambda e: self.job_failed("Export", e),
                             lambda: self.status("Export cancelled; no file was written"), unit="chats")

    @action
    def save_copy_dialog(self) -> Job | None:
        if self.store is None:
            self.status("Open a dataset first", error=True)
            return None
        stem = self.store.path.name.removesuffix(DATASET_SUFFIX)
        path = dialogs.ask_save_path(self.root, "Save a copy as", initialfile=f"{stem} copy{DATASET_SUFFIX}",
                                     defaultextension=DATASET_SUFFIX, filetypes=dialogs.DATASET_TYPES,
                                     initialdir=str(self.store.path.parent))
        if not path:
            return None
        return self.save_copy(path)

    def save_copy(self, dest: str | Path) -> Job | None:
        """Copy the dataset with SQLite's backup API (consistent even while it is in use)."""
        if self.store is None:
            return None
        dest = Path(dest)
        try:  # not the dataset itself, nor its -wal/-shm, through links too (issue 10)
            refuse_dataset_target(dest, self.store.path)
        except DatasetError as e:
            self.status(str(e), error=True)
            dialogs.show_error(self.root, "Save a copy", str(e))
            return None
        self.host.flush_pending(strict=False)
        src_path, ro = self.store.path, self.store.readonly

        def work(job: Job):
            with DatasetStore(src_path, readonly=ro) as src:
                return src.save_copy(dest, job.progress, job.cancel_event)

        return self.run_job("Saving a copy", f"Saving a copy as {dest.name}…", work,
                             lambda d: self.status(f"Saved a copy as {d}"),
                             lambda e: self.job_failed("Save a copy", e),
                             lambda: self.status("Copy cancelled"), unit="pages")

    def run_job(self, title: str, message: str, work, on_done, on_error, on_cancelled, unit: str = "",
                 writes: bool = False, on_event=None) -> Job:
        # run_with_progress collects all garbage first: Tk variables of a closed dialog found by a
        # collection in the worker would be finalized there (a Tcl call off the Tk thread).
        from lima_tk.ui.progress import run_with_progress  # not at start-up: the first job needs it

        job = run_with_progress(self.root, title, message, work, on_done=on_done, on_error=on_error,
                                on_cancelled=on_cancelled, on_event=on_event, unit=unit, poll_ms=self.poll_ms)
        job.writes = writes
        self.jobs[:] = [j for j in self.jobs if not j.finished] + [job]  # the same list: app.jobs
        return job

    def job_failed(self, what: str, exc: BaseException) -> None:
        if isinstance(exc, (LimaError, OSError, sqlite3.Error)):
            msg = str(exc)
            self.status(f"{what} failed: {msg}", error=True)
            dialogs.show_error(self.root, f"{what} failed", msg)
        else:
            raise exc


# -- helpers -------------------------------------------------------------------------------------


def unfinished_import(store: DatasetStore) -> str:
    """For the status line when a dataset opens: its newest step is the first part of a File >
    Open import whose rest never came in (a crash between its two commits)."""
    label = store.undo_label() or ""
    return " - its import did not finish: Edit > Undo removes what came in" if label.endswith(UNFINISHED) else ""


def _n(n: int, word: str) -> str:
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


def short_path(path: str) -> str:
    """A path for a narrow place: the home folder as ~."""
    home = str(Path.home())
    return "~" + path[len(home):] if path.startswith(home + os.sep) else path


def _is_dataset(path: Path) -> bool:
    if path.name.endswith(DATASET_SUFFIX) or is_open_dataset(path):
        return True  # never open() a dataset that is open: that would drop SQLite's locks
    try:
        with open(path, "rb") as f:
            return f.read(16) == b"SQLite format 3\x00"
    except OSError:
        return False


def _remove_dataset(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        try:
            os.unlink(f"{path}{suffix}")
        except OSError:
            pass
