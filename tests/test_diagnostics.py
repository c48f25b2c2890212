"""Help > Report a problem's text (lima_tk.diagnostics.problem_report): the diagnostics and the
log's tail, never a key, whether it is in the settings in memory, the config file or the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from lima_tk import diagnostics
from lima_tk.logs import log_path
from lima_tk.settings import save_user_settings


def test_the_report_never_holds_a_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    memory_key, file_key, env_key = "in-memory-only-4242424242", "in-the-file-7373737373", "in-the-env-9191919191"
    save_user_settings({"api_key": file_key})
    monkeypatch.setenv("OPENAI_API_KEY", env_key)
    log_path().parent.mkdir(parents=True, exist_ok=True)
    log_path().write_text("".join(f"line {i}\n" for i in range(50)) + f"{memory_key} {file_key} {env_key}\n"
                          "a key sk-abcdefghijklmnop\n", encoding="utf-8")
    settings = {"api_key": memory_key, "base_url": "https://api.openai.com/v1"}
    text = diagnostics.problem_report(diagnostics.gather(tmp_path / "x.lima.db", "8.6.13", settings), settings)
    assert text.startswith("lima-tk problem report\n\nlima-tk: ")
    assert f"dataset: {tmp_path / 'x.lima.db'}" in text and "tk: 8.6.13" in text
    assert "last 30 lines of the log:" in text and "line 19" not in text and "line 49" in text
    for secret in (memory_key, file_key, env_key, "sk-abcdefghijklmnop"):
        assert secret not in text
    assert text.count("[redacted]") == 4


def test_without_a_log_the_report_is_the_diagnostics() -> None:
    text = diagnostics.problem_report(diagnostics.gather(None, None, {}), {})
    assert "log:" in text and "lines of the log" not in text


def test_the_manual_is_found_in_a_source_checkout() -> None:
    path = diagnostics.manual_path()
    assert path is not None and path.name == "manual.md" and path.read_text(encoding="utf-8").startswith("# ")
