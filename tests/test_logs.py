"""The log file: where it is, levels (--debug), rotation, and no secret in it, ever."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lima_tk.logs import REDACTED, SecretFilter, close_logging, redact, setup_logging
from lima_tk.paths import user_log_dir

ROOT = Path(__file__).resolve().parents[1]


def lima(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lima_tk", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, **(env or {})}, timeout=60)


@pytest.fixture
def fresh_logging():
    """setup_logging() changes process-wide logging: undo it after the test."""
    ours = logging.getLogger("lima_tk")
    level = ours.level
    yield
    close_logging()
    ours.setLevel(level)


def test_log_dir_per_platform(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert user_log_dir() == tmp_path / "state" / "lima-tk"
    monkeypatch.delenv("XDG_STATE_HOME")
    assert user_log_dir() == Path.home() / ".local" / "state" / "lima-tk"
    monkeypatch.setattr(sys, "platform", "darwin")
    assert user_log_dir() == Path.home() / "Library" / "Logs" / "lima-tk"
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / "local"))
    assert user_log_dir() == tmp_path / "local" / "lima-tk" / "Logs"


def test_cli_writes_the_log_and_debug_raises_the_level(tmp_path: Path) -> None:
    db = tmp_path / "d.lima.db"
    log = tmp_path / "state" / "lima-tk" / "lima-tk.log"
    assert lima("--db", str(db), "list").returncode == 0
    text = log.read_text()
    assert "INFO lima_tk.cli: lima-tk 0.1.0: list" in text
    assert "DEBUG" not in text
    assert lima("--debug", "--db", str(db), "list").returncode == 0
    assert "DEBUG lima_tk.cli: python " in log.read_text()


def test_a_failed_command_leaves_its_traceback_in_the_log(tmp_path: Path) -> None:
    bad = tmp_path / "notes.lima.db"
    bad.write_text("not an SQLite file")
    r = lima("--db", str(bad), "list")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1  # one line on stderr...
    text = (tmp_path / "state" / "lima-tk" / "lima-tk.log").read_text()
    assert "ERROR lima_tk.cli: list failed:" in text and "Traceback" in text  # ...the details in the log


def test_the_log_rotates(tmp_path: Path, fresh_logging) -> None:
    path = setup_logging(log_dir=tmp_path, max_bytes=2000, backups=2)
    assert path == tmp_path / "lima-tk.log"
    log = logging.getLogger("lima_tk.test")
    for i in range(200):
        log.info("line %d of a log that must not grow without bound", i)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["lima-tk.log", "lima-tk.log.1", "lima-tk.log.2"]
    assert all((tmp_path / n).stat().st_size <= 2000 for n in names)
    assert "line 199 of" in (tmp_path / "lima-tk.log").read_text()


def test_other_libraries_only_from_warning_up(tmp_path: Path, fresh_logging) -> None:
    setup_logging(log_dir=tmp_path, debug=True)
    other = logging.getLogger("httpx2")
    other.setLevel(logging.DEBUG)
    other.info("HTTP Request: POST https://example.invalid/v1/chat/completions")
    other.warning("a warning from a library")
    logging.getLogger("lima_tk.x").debug("ours at debug")
    text = (tmp_path / "lima-tk.log").read_text()
    assert "HTTP Request" not in text and "a warning from a library" in text and "ours at debug" in text


def test_no_secret_reaches_the_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_logging) -> None:
    env_key = "env-key-7f3a9c1b2d"  # not key-shaped: only known because it is configured
    settings_key = "settings-key-5e8d2a4c"
    other_env = "groq-like-9d8c7b6a5f"
    monkeypatch.setenv("OPENAI_API_KEY", env_key)
    monkeypatch.setenv("GROQ_API_KEY", other_env)
    config = Path(os.environ["LIMA_TK_CONFIG"])
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(json.dumps({"api_key": settings_key}))
    setup_logging(log_dir=tmp_path)
    log = logging.getLogger("lima_tk.assist")
    log.info("using key %s from the environment", env_key)
    log.info("settings say %s", settings_key)
    log.warning("the server said: invalid key sk-proj-AbCdEf0123456789xyz; header Bearer abc.def-123456789")
    log.info("hf token hf_abcdefghijklmnopqrstuvwx and %s", other_env)
    try:
        raise RuntimeError(f"request failed with key {env_key}")
    except RuntimeError:
        log.exception("generation failed")
    # A key changed in Settings while lima-tk runs is known from then on.
    new_key = "changed-key-0a1b2c3d4e"
    config.write_text(json.dumps({"api_key": new_key, "model": "x"}))
    log.info("now %s", new_key)
    text = (tmp_path / "lima-tk.log").read_text()
    for secret in (env_key, settings_key, other_env, new_key, "sk-proj-AbCdEf0123456789xyz", "abc.def-123456789",
                   "hf_abcdefghijklmnopqrstuvwx"):
        assert secret not in text, secret
    assert text.count(REDACTED) >= 8
    assert "generation failed" in text and "Traceback" in text and "RuntimeError: request failed" in text


def test_redact_keeps_ordinary_text() -> None:
    text = "skip the sk-1 step; ask about tokens; model gpt-4o-mini; path /home/u/sk-notes.txt"
    assert redact(text, []) == text
    assert redact("key=abcdef123 and abcdef12345", ["abcdef123", "abcdef12345"]) == f"key={REDACTED} and {REDACTED}"


def test_the_filter_works_on_any_handler() -> None:
    record = logging.LogRecord("lima_tk.x", logging.INFO, __file__, 1, "key %s", ("sk-abcdefghijklmnop",), None)
    assert SecretFilter(lambda: []).filter(record)
    assert record.getMessage() == f"key {REDACTED}"
