"""A real lima-tk window in its own process, driven line by line from stdin (issue 10's tests:
two GUIs on one file). Commands, one per line; each is answered with one line on stdout:

    new NAME     -> Ctrl+N, type NAME in the rename field, Enter   -> "ok new <chat id>"
    export PATH  -> an export on a worker thread (its own store)   -> "ok export <chats>"
    count        -> the number of chats the window's store sees    -> "ok count <n>"
    state        -> read-only? the notice shown? its text           -> "ok state <bool> <bool> <text>"
    quit         -> File > Quit                                    -> "ok quit", then exit 0

Usage: python -m tests.ui.gui_driver DATASET
"""

from __future__ import annotations

import queue
import sys
import threading
from pathlib import Path

from lima_tk.ui import dialogs
from lima_tk.ui.app import App


def main(path: str) -> int:
    # An error dialog would wait for a click that never comes: print it and go on.
    dialogs.show_error = lambda parent, title, text: print(f"dialog: {title}: {text}", file=sys.stderr, flush=True)
    app = App(Path(path), poll_ms=100, debounce_ms=20, job_poll_ms=10)
    root = app.root
    commands: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        for line in sys.stdin:
            commands.put(line.rstrip("\n"))
        commands.put(None)

    threading.Thread(target=read, daemon=True).start()

    def reply(text: str) -> None:
        print(text, flush=True)

    def wait_job(job, then) -> None:
        if job.finished:
            then(job)
        else:
            root.after(10, wait_job, job, then)

    def run(line: str) -> bool:
        cmd, _, arg = line.partition(" ")
        root.update()
        if cmd == "new":
            root.event_generate("<<NewChat>>")
            root.update()
            entry = app.chat_list.rename_entry
            entry.delete(0, "end")
            entry.insert(0, arg)
            entry.focus_force()
            root.update()
            entry.event_generate("<Return>")
            root.update()
            reply(f"ok new {app.store.list_chats(sort='created', descending=True, limit=1)[0].id}")
        elif cmd == "export":
            job = app.run_export(Path(arg), "openai", None)
            wait_job(job, lambda j: reply(f"ok export {j.result[0].chats}" if j.state == "done"
                                          else f"error {j.error}"))
        elif cmd == "count":
            reply(f"ok count {app.store.count_chats()}")
        elif cmd == "state":
            root.update()
            text = app.notice_label.cget("text").replace("\n", " ")
            reply(f"ok state {app.store.readonly} {bool(app.notice.winfo_ismapped())} {text}")
        elif cmd == "quit":
            root.event_generate("<<Quit>>")
            reply("ok quit")
            return False
        else:
            reply(f"error unknown command {cmd}")
        return True

    def poll() -> None:
        try:
            line = commands.get_nowait()
        except queue.Empty:
            root.after(20, poll)
            return
        if line is None or not run(line):
            return
        root.after(20, poll)

    root.after(20, poll)
    root.mainloop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
