"""A GUI process for the kill -9 test (issue 10, item 10): the real main window and chat editor
on a dataset, with the REAL default save delays, typing into the last message of a chat with
after() callbacks at a steady pace. Prints "key <i> <time.time()>" after each key and "done"
after the last one, then keeps running until it is killed.

    python tests/ui/gui_typist.py DB CHAT_ID TEXT MS_PER_KEY
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from lima_tk.ui.app import App  # noqa: E402
from lima_tk.ui.chat_editor import open_chat_editor  # noqa: E402
from tests.ui.process_helpers import KEYSYMS  # noqa: E402


def main() -> None:
    db, chat_id, text, ms = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    app = App(db)
    ed = open_chat_editor(app, chat_id)

    def start() -> None:
        if not ed.ready:
            app.root.after(20, start)
            return
        card = ed.cards[ed.order[-1]]
        ed.focus_message(card.mid, index="end-1c")
        card.text.focus_force()
        print(f"ready {time.time():.6f}", flush=True)
        app.root.after(ms, lambda: key(card.text, 0))

    def key(widget, i: int) -> None:
        widget.focus_force()
        widget.event_generate("<KeyPress>", keysym=KEYSYMS.get(text[i], text[i]))
        print(f"key {i} {time.time():.6f}", flush=True)
        if i + 1 < len(text):
            app.root.after(ms, lambda: key(widget, i + 1))
        else:
            print("done", flush=True)

    app.root.after(50, start)
    app.root.mainloop()


if __name__ == "__main__":
    main()
