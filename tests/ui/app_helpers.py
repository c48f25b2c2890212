"""Shared pieces of the main-window tests: an App factory, chat seeding, clicks and keys."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lima_tk.model import Chat, Message
from lima_tk.store import DatasetStore
from lima_tk.ui.app import App
from tests.ui.conftest import wait_until


def seed(path: Path, n: int, **kw) -> list[int]:
    """n chats named chat 0..n-1 (2 messages each) in the dataset at `path`."""
    chats = [
        Chat(name=kw.get("name", "chat {i}").format(i=i), language=kw.get("language"), tags=list(kw.get("tags", ())),
             messages=[Message("user", f"question {i}"), Message("assistant", f"answer {i}")])
        for i in range(n)
    ]
    with DatasetStore(path) as s:
        r = s.add_chats(chats)
        s.conn.execute("DELETE FROM journal")
        return list(range(r.first_id, r.last_id + 1)) if r.first_id else []


def write_openai_jsonl(path: Path, n: int, prefix: str = "imported") -> Path:
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            f.write(json.dumps({"messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": f"{prefix} question {i}"},
                {"role": "assistant", "content": f"{prefix} answer {i}"},
            ]}) + "\n")
    return path


def app_factory(db_path: Path, count_tokens: bool = False):
    """Body of each test module's `make_app` fixture: an App factory with short poll/debounce
    intervals; every App is closed after the test. Use: `yield from app_factory(db_path)`.

    The background token count is off unless asked for (`count_tokens=True`, as the token tests
    do): it ends with its own status line ("Counted the tokens of ...") at a moment of its own
    choosing, which races every test that reads the status bar about something else. Tests that
    keep it on wait for it with `wait_for_count(app)`."""
    apps: list[App] = []

    def make(path: Path | None = None, **kw) -> App:
        kw.setdefault("poll_ms", 100)
        kw.setdefault("debounce_ms", 20)
        kw.setdefault("job_poll_ms", 10)
        kw.setdefault("count_tokens", count_tokens)
        app = App(path or db_path, **kw)
        app.root.update()
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.close()


def wait_for_count(app: App, timeout: float = 20.0) -> None:
    """Wait until the background token count has started (after its delay) and finished, so it
    cannot change the status line or the list under a test any more."""
    t = app.tokens
    wait_until(lambda: not t.running and t._start_after is None and not t._chats, app.root, timeout)


def settle(app: App) -> None:
    """Let the window lay itself out (page size known, first render done)."""
    cl = app.chat_list
    wait_until(lambda: cl.tree.winfo_ismapped() and cl._height > 1 and (cl._head or not cl.total), app.root)
    app.root.update()


_clock = [10_000_000]


def click_row(app: App, slot: int, modifier: str = "") -> None:
    """Click the visible row `slot` (optionally with "Shift" or "Control" held)."""
    tree = app.chat_list.tree
    iid = app.chat_list._slots[slot]
    x, y, w, h = tree.bbox(iid)
    seq = f"<{modifier}-Button-1>" if modifier else "<Button-1>"
    # Clicks one second apart (event time), so two clicks on one row are not a double-click.
    _clock[0] += 1000
    tree.event_generate(seq, x=x + 10, y=y + h // 2, time=_clock[0])
    tree.event_generate("<ButtonRelease-1>", x=x + 10, y=y + h // 2, time=_clock[0] + 1)
    app.root.update()


def key(widget, keysym: str) -> None:
    """Press a key in `widget` (which gets the focus first)."""
    widget.focus_force()
    widget.update()
    widget.event_generate(keysym)
    widget.update()


def fire(app: App, event: str) -> None:
    app.root.update()
    app.root.event_generate(event)
    app.root.update()


@contextmanager
def rest_of_open_held(timeout: float = 30.0) -> Iterator[threading.Event]:
    """File > Open of a chat file with its rest held back: after the first chats are committed
    and announced, the import waits until the returned event is set (or `timeout`), so a small
    file is not done before the window shows its first chats. For tests and screenshots."""
    import lima_tk.formats as formats

    go = threading.Event()
    real = formats.import_file

    def import_file(*args, first=None, **kw):
        def first_then_wait(n: int) -> None:
            first(n)
            go.wait(timeout)

        return real(*args, first=first_then_wait if first else None, **kw)

    formats.import_file = import_file
    try:
        yield go
    finally:
        formats.import_file = real
        go.set()
