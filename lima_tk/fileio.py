"""Atomic file writes: a temp file in the destination folder, then os.replace. A reader (or a
crash) never sees a half-written file, and an existing file stays as it was on any error.

What else every write of ours does (issue 10):
- refuses a destination that is an open dataset (or its -wal/-shm): replacing it would lose the
  dataset, see lima_tk/store/files.py;
- writes through a symlink (the link stays, the file it points to is replaced);
- keeps the mode of the file it replaces (a 0600 export stays 0600);
- flushes the data to disk (fsync) before the rename, so a crash never leaves an empty file;
- removes the stale temp files a killed earlier write of the same file left behind. A live
  writer holds an flock() on its temp file, so only abandoned ones are removed.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

try:
    import fcntl
except ImportError:  # Windows: no flock; stale temp files are judged by age alone
    fcntl = None  # type: ignore[assignment]

# An abandoned temp file is at least this old (a writer creates and locks its temp file at once;
# this only covers the instant between the two).
STALE_AFTER_S = 10.0
STALE_AFTER_NO_LOCKS_S = 24 * 3600.0


def real_target(path: str | os.PathLike[str]) -> Path:
    """The file a write to `path` must replace: through symlinks (a dangling one too)."""
    p = Path(path)
    return Path(os.path.realpath(p)) if p.is_symlink() else p


def temp_path(out: Path, suffix: str = ".tmp") -> Path:
    return out.parent / f".{out.name}.{secrets.token_hex(4)}{suffix}"


def _temp_pattern(out: Path, suffixes: tuple[str, ...]) -> re.Pattern[str]:
    ends = "|".join(re.escape(s) for s in suffixes)
    return re.compile(rf"^\.{re.escape(out.name)}\.[0-9a-f]{{8}}(?:{ends})$")


def lock_temp(fd: int) -> None:
    """Mark a temp file (or folder) as in use by a live writer, until `fd` is closed."""
    if fcntl is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            pass


def _abandoned(path: Path, now: float) -> bool:
    try:
        st = path.lstat()
    except OSError:
        return False
    age = now - st.st_mtime
    if fcntl is None:
        return age > STALE_AFTER_NO_LOCKS_S
    if age < STALE_AFTER_S:
        return False
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False  # a live writer holds it
    finally:
        os.close(fd)


def sweep_stale(out: Path, suffixes: tuple[str, ...] = (".tmp",)) -> list[Path]:
    """Remove the temp files (or folders) that killed writes of `out` left in its folder:
    `.OUT.xxxxxxxx.tmp` that no live writer holds. Returns what was removed; never raises."""
    pattern = _temp_pattern(out, suffixes)
    removed: list[Path] = []
    try:
        entries = list(os.scandir(out.parent))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        if not pattern.match(entry.name):
            continue
        p = Path(entry.path)
        if not _abandoned(p, now):
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(p)
            else:
                p.unlink()
            removed.append(p)
        except OSError:
            pass
    return removed


def fsync_dir(folder: Path) -> None:
    """Make a rename in `folder` durable (best effort: not every platform can open a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def keep_mode(fd: int, target: Path) -> None:
    """Give the temp file (open as `fd`) the mode, and when allowed the owner, of the file it
    will replace."""
    try:
        st = os.stat(target)
    except OSError:
        return
    if not hasattr(os, "fchmod"):
        return
    os.fchmod(fd, st.st_mode & 0o7777)
    if hasattr(os, "fchown"):
        try:
            os.fchown(fd, st.st_uid, st.st_gid)
        except OSError:
            pass  # not ours to give away: the new file is ours, with the same mode


def check_target(path: str | os.PathLike[str], dataset: str | os.PathLike[str] | None = None) -> None:
    """Refuse a destination that is `dataset` or a dataset open in this process (DatasetError)."""
    from lima_tk.store.files import refuse_dataset_target

    refuse_dataset_target(path, dataset)


@contextmanager
def atomic_write(path: str | os.PathLike[str], *, private: bool = False, newline: str | None = None,
                 fsync: bool = True, dataset: str | os.PathLike[str] | None = None) -> Iterator[TextIO]:
    """Yield a UTF-8 text file that replaces `path` when the block ends without an error.

    `private` makes it owner-only (0600, for files that may hold an API key); otherwise a file
    that is replaced keeps its mode and a new one gets the umask's (mkstemp would force 0600).
    `dataset`: the dataset the caller works on; writing over it (or any open one) is refused."""
    check_target(path, dataset)
    path = real_target(path)
    sweep_stale(path)
    tmp = temp_path(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if private else 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline=newline) as f:
            lock_temp(fd)
            if not private:
                keep_mode(fd, path)
            yield f
            f.flush()
            if fsync:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    if fsync:
        fsync_dir(path.parent)
