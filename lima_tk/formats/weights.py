"""Assistant turns marked "no train" (weight 0) in formats that cannot say so (issue 11).

ShareGPT, Alpaca, preference pairs and the hf folder without `training_flag` have no per-turn
training switch: a reply kept as a bad example would become a training target. Each such turn is
counted in the export's warnings with the way out, and the `weight0` option picks one:
`keep` (the default: written, and warned about), `drop` (leave such chats out), `cut` (end each
chat before its first such turn; a chat left without an assistant reply is left out).
"""

from __future__ import annotations

import copy

from lima_tk.errors import ValidationError
from lima_tk.formats.base import WriteContext
from lima_tk.model import Chat

MODES = ("keep", "drop", "cut")


def way_out(fmt: str) -> str:
    hf = "--training-flag" if fmt == "hf" else "the hf format with --training-flag, or openai"
    return f"-O weight0=drop (leave such chats out), -O weight0=cut (end the chat before it) or {hf}"


def apply_weight0(chat: Chat, ctx: WriteContext, fmt: str) -> Chat | None:
    """The chat as this format should write it, or None when it is to be left out (counted)."""
    mode = str(ctx.options.get("weight0") or "keep")
    if mode not in MODES:
        raise ValidationError(f"weight0 must be one of {', '.join(MODES)}, got {mode!r}")
    marked = [i for i, m in enumerate(chat.messages) if m.role == "assistant" and m.weight == 0]
    if not marked:
        return chat
    if mode == "drop":
        ctx.skip(chat, 'has replies marked "no train" (weight0=drop)', fold=True)
        return None
    if mode == "cut":
        out = copy.copy(chat)
        out.messages = chat.messages[:marked[0]]
        if not any(m.role == "assistant" for m in out.messages):
            ctx.skip(chat, 'nothing left before its first reply marked "no train" (weight0=cut)', fold=True)
            return None
        return out
    for _ in marked:
        ctx.warn(f'a reply marked "no train" (weight 0) is trained by the {fmt} format, which cannot mark it; '
                 f"the way out: {way_out(fmt)}")
    return chat
