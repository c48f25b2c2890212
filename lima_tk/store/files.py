"""The dataset's files on disk, and the one rule about them.

SQLite guards a database shared by several processes with POSIX `fcntl()` locks, and POSIX drops
*every* lock a process holds on a file as soon as the process closes *any* descriptor of that
file. So while a connection to a dataset is open in this process, nothing but SQLite may open
the dataset file or its `-wal`/`-shm`: not to sniff its header, not to copy it, not to hash it.
Otherwise another lima-tk that exits believes it is the last connection and deletes the WAL this
process still writes into (SQLite's "How To Corrupt An SQLite Database File", section 2.2).
`os.stat()` opens nothing and is always fine.

This module keeps a registry of the datasets open in this process (every `DatasetStore`
registers itself), so code about to open a file with Python can ask first (`refuse_open`), and
it tells whether a path a command is about to write is a dataset file or one of its companions
(`dataset_part`), through symlinks and hard links.
"""

from __future__ import annotations

import os
import threading
import weakref

from lima_tk.errors import DatasetError

# Files SQLite keeps beside a database: the write-ahead log, its shared-memory index, and the
# rollback journal of a database not (yet) in WAL mode.
COMPANIONS = ("-wal", "-shm", "-journal")

_lock = threading.Lock()
# store -> real path of the dataset it has open (a store that is collected unclosed drops out).
_open: weakref.WeakKeyDictionary[object, str] = weakref.WeakKeyDictionary()


def dataset_files(path: str | os.PathLike[str]) -> list[str]:
    """The dataset file and the names of its companions (they need not exist)."""
    p = os.fspath(path)
    return [p, *(p + s for s in COMPANIONS)]


def _key(st: os.stat_result) -> tuple[int, int]:
    return (st.st_dev, st.st_ino)


def _stat(path: str) -> os.stat_result | None:
    try:
        return os.stat(path)
    except (OSError, ValueError):
        return None


def dataset_part(target: str | os.PathLike[str], dataset: str | os.PathLike[str]) -> str | None:
    """Which file of `dataset` `target` is: "" for the dataset file itself, "-wal", "-shm" or
    "-journal" for a companion, None when it is none of them. Compares real paths (symlinks
    resolved, also for files that do not exist yet) and, for files that exist, device and inode
    (hard links, bind mounts, case-insensitive file systems). Only stat(), never open()."""
    t = os.fspath(target)
    real_t = os.path.realpath(t)
    st_t = _stat(t)
    d = os.fspath(dataset)
    real_d = os.path.realpath(d)
    for suffix in ("", *COMPANIONS):
        names = {os.path.realpath(d + suffix), real_d + suffix}
        if real_t in names:
            return suffix
        if st_t is not None:
            for name in names:
                st = _stat(name)
                if st is not None and _key(st) == _key(st_t):
                    return suffix
    return None


def refuse_dataset_target(target: str | os.PathLike[str], dataset: str | os.PathLike[str] | None) -> None:
    """Raise DatasetError when a command would write `target` over `dataset` (or a companion of
    it), or over any dataset open in this process."""
    datasets = [os.fspath(dataset)] if dataset is not None else []
    datasets += open_datasets()
    for d in datasets:
        part = dataset_part(target, d)
        if part is not None:
            what = "the dataset" if part == "" else f"the dataset's {part.lstrip('-')} file"
            raise DatasetError(f"{os.fspath(target)} is {what} ({d}); writing there would destroy it: "
                               "choose another file")


def contains_dataset(folder: str | os.PathLike[str], dataset: str | os.PathLike[str] | None) -> str | None:
    """A dataset (the given one or one open in this process) that lies inside `folder`, else None
    (a folder export replaces the whole folder)."""
    real_f = os.path.realpath(os.fspath(folder))
    datasets = [os.fspath(dataset)] if dataset is not None else []
    for d in datasets + open_datasets():
        real_d = os.path.realpath(d)
        if real_d == real_f or real_d.startswith(real_f.rstrip(os.sep) + os.sep):
            return d
    return None


# -- the registry of datasets open in this process --------------------------------------------


def register(owner: object, path: str | os.PathLike[str]) -> None:
    """Note that `owner` (a store) has a connection to the dataset at `path`. Any thread."""
    with _lock:
        _open[owner] = os.path.realpath(os.fspath(path))


def unregister(owner: object) -> None:
    with _lock:
        _open.pop(owner, None)


def open_datasets() -> list[str]:
    """Real paths of the datasets open in this process (each once)."""
    with _lock:
        return list(dict.fromkeys(_open.values()))


def open_dataset_of(path: str | os.PathLike[str]) -> str | None:
    """The dataset open in this process that `path` is (or is a companion of), else None."""
    for d in open_datasets():
        if dataset_part(path, d) is not None:
            return d
    return None


def refuse_open(path: str | os.PathLike[str], what: str = "read") -> None:
    """Call before opening `path` with anything but SQLite: raises DatasetError when it is a
    dataset (or a companion) open in this process, because closing that descriptor would drop
    the process's SQLite locks (see the module doc)."""
    d = open_dataset_of(path)
    if d is not None:
        raise DatasetError(f"{os.fspath(path)} is the open dataset ({d}); it cannot be {what} as a plain file")


def is_open_dataset(path: str | os.PathLike[str]) -> bool:
    return open_dataset_of(path) is not None


__all__ = ["COMPANIONS", "contains_dataset", "dataset_files", "dataset_part", "is_open_dataset",
           "open_dataset_of", "open_datasets", "refuse_dataset_target", "refuse_open", "register", "unregister"]
