"""What the AI-assist parts of a message card show: the colours of the markers and pills, the
provenance marker ("generated · model", amber when the reply did not complete) and the words for
replies that did not complete. Shared by the assist view and the versions menu. No Tk calls.
"""

from __future__ import annotations

from typing import Any

from lima_tk.model import Message
from lima_tk.ui import editor_style as st

# Marker colours (text, background).
MARK_PLAIN = (st.MUTED, "#eef0f3")
MARK_WARN = ("#8a5a00", "#fdefc8")  # amber: not a complete reply
MARK_LIVE = (st.ACCENT, "#e3ecfc")
PILL_STOP = (st.DANGER, st.ERROR_BG)
PILL_GENERATE = (st.ACCENT, "#e3ecfc")
PILL_NAV = (st.TEXT, "#e9ecf0")
PILL_REJECTED = ("#8a2c0d", "#fbe4d8")  # "2/3 · 1 rejected": versions marked for preference pairs

# finish -> (word, tooltip) for replies that did not complete.
UNFINISHED = {
    None: ("incomplete", "This reply has no finish reason: its stream never ended (the program was closed "
                         "or stopped while it was generated). It may be cut off."),
    "interrupted": ("interrupted", "The stream ended before the model finished: the reply may be cut off."),
    "cancelled": ("cancelled", "Generation was stopped before the model finished: the reply may be cut off."),
    "length": ("max tokens", "The model reached the max tokens limit: the reply is probably cut off "
                             "(Ctrl+Shift+G continues it)."),
    "content_filter": ("filtered", "The server's content filter stopped this reply."),
}

ASSIST_ACTIONS = ("generate", "regenerate", "continue", "stop", "alt_prev", "alt_next", "versions", "provenance",
                  "retry", "dismiss_error", "settings", "show_partial")


def short_model(model: str | None, limit: int = 28) -> str:
    """A model name for the marker: the last path part ('/models/x.gguf' -> 'x.gguf'), shortened."""
    if not model:
        return ""
    name = model.rstrip("/").rsplit("/", 1)[-1] or model
    return name if len(name) <= limit else name[: limit - 1] + "…"


def provenance(m: Message, live: Any = None) -> tuple[str, str, tuple[str, str]] | None:
    """(label, tooltip, colours) of a message's provenance marker; None for a person's text.
    `live`: the stream filling the message (its `calling`), when one is."""
    model = short_model(m.model)

    def with_model(word: str) -> str:
        return f"{word} · {model}" if model else word

    if live is not None:
        what = f"calling {live.calling}…" if live.calling else "generating…"
        return with_model(what), "Esc or ■ stop stops it; the text so far is kept", MARK_LIVE
    if m.source not in ("generated", "edited"):
        return None
    full = f" by {m.model}" if m.model else ""
    complete = m.finish in ("stop", "tool_calls", "function_call")
    if m.source == "edited":
        if complete:
            return with_model("edited"), f"Generated{full}, then edited by hand (or a person's text continued).", \
                MARK_PLAIN
        # Changed by hand, but the generated part did not complete: keep saying so.
        word, tip = UNFINISHED.get(m.finish, (str(m.finish), ""))
        return f"edited · {word}", f"Generated{full} and edited by hand. {tip}", MARK_WARN
    if complete:
        return with_model("generated"), f"Generated{full}; the model finished ({m.finish}).", MARK_PLAIN
    word, tip = UNFINISHED.get(m.finish, (str(m.finish), f"The reply ended with finish reason {m.finish!r}."))
    return with_model(word), f"Generated{full}. {tip}", MARK_WARN


def rejected_count(m: Message) -> int:
    """Versions of a message marked rejected (for preference pairs)."""
    return sum(1 for a in m.alternatives or () if a.get("rejected"))
