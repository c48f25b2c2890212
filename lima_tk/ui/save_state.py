"""The quiet saving state both windows show (issue 13): "Saved", "Saving…" while typing waits for
its write (at most a second), "Not saved" while a write fails and is retried; in the status bar
and, when not saved yet, in the window title. Tk thread only."""

from __future__ import annotations

from collections.abc import Iterable

SAVED = "Saved"
SAVING = "Saving…"
NOT_SAVED = "Not saved"


def title_mark(state: str) -> str:
    """What the window title adds for a state ("" when saved: the title stays quiet)."""
    return {SAVING: " (saving…)", NOT_SAVED: " (not saved)"}.get(state, "")


def combined(states: Iterable[str]) -> str:
    """The state of several windows: the worst of them."""
    states = set(states)
    return NOT_SAVED if NOT_SAVED in states else SAVING if SAVING in states else SAVED
