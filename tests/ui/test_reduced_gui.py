"""The windows without the optional packages (`sys.modules[name] = None`: every import fails):
Generate and Test connection say "AI assist needs the openai package: ..." in plain words;
token counts fall back to estimates, with the reason in the status bar."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.tokenizer_fixtures import word_tokenizer_json
from tests.ui.app_helpers import app_factory, settle
from tests.ui.conftest import wait_until
from tests.ui.test_chat_editor_helpers import card_at, open_editor, seed_chat, stand_in_app
from tests.ui.test_tokens_gui import counted, seed

NEEDS_OPENAI = "AI assist needs the openai package: install it into lima-tk's environment with"


@pytest.fixture
def app(store):
    yield from stand_in_app(store, base_url="http://127.0.0.1:9/v1", model="m", use_env_key=False)


@pytest.fixture
def make_app(db_path: Path):
    yield from app_factory(db_path)


def test_generate_without_openai_explains_itself(app, store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "openai", None)
    cid = seed_chat(store, [("user", "Tell me a story")])
    ed = open_editor(app, cid)
    ed.event_generate("<<GenerateReply>>")
    wait_until(lambda: not ed.assist.streaming(), ed, 10)
    assert ed.assist.last.result == "error"
    card = card_at(ed, 1)
    assert NEEDS_OPENAI in card.error_label.cget("text")
    assert NEEDS_OPENAI in app.statuses[-1]
    # The chat stays editable and nothing half-made is kept as a reply.
    assert store.get_chat(cid).messages[-1].content in ("", None)


def test_test_connection_without_openai(make_app, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "openai", None)
    app = make_app(user_settings={"base_url": "http://127.0.0.1:9/v1", "use_env_key": False, "model": "m"})
    dlg = app.settings_dialog()
    wait_until(lambda: NEEDS_OPENAI in dlg.models_note.cget("text"), app.root)
    dlg.test_connection()
    wait_until(lambda: NEEDS_OPENAI in dlg.test_result.cget("text"), app.root)
    dlg.destroy()


def test_counts_are_estimates_without_tokenizers(make_app, db_path: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    words = word_tokenizer_json(tmp_path / "words" / "tokenizer.json")
    ids = seed(db_path, str(words))
    monkeypatch.setitem(sys.modules, "tokenizers", None)
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)
    app = make_app(count_delay_ms=0, count_tokens=True)
    settle(app)
    counted(app)
    cells = [app.chat_list.token_text(i) for i in ids]
    assert all(c.startswith("~") for c in cells), cells
    assert app.tokens.result.estimate
    assert "tokenizers package is not installed" in app.status_text
