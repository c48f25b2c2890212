"""Offline is quiet and fast (issue 12): a hub tokenizer that cannot be fetched costs one quick
connect, prints no retry noise, logs one line, and is not tried again in the same process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lima_tk import tokens
from tests.assist_fixtures import refused_port


def test_unreachable_hub_gives_estimates_without_retry_noise(tmp_path: Path) -> None:
    port = refused_port()
    env = dict(os.environ, HF_ENDPOINT=f"http://127.0.0.1:{port}", HF_HUB_CACHE=str(tmp_path / "hub"),
               XDG_STATE_HOME=str(tmp_path / "state"))
    env.pop("HF_HUB_OFFLINE", None)
    r = subprocess.run([sys.executable, "-m", "lima_tk", "--db", str(tmp_path / "d.lima.db"), "tokens"],
                       capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    out = r.stdout + r.stderr
    assert "Retrying" not in out and "thrown while requesting" not in out, out
    assert "could not download (cannot reach 127.0.0.1" in out
    assert "set a local tokenizer.json" in out
    log = (tmp_path / "state" / "lima-tk" / "lima-tk.log").read_text()
    assert log.count("could not download") == 1, log
    assert "huggingface_hub" not in log  # no retry warnings in the log either


def test_a_failed_download_is_tried_once_per_process(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(tokens, "_failed_downloads", {})
    probes: list[str] = []

    def probe(endpoint: str | None = None, timeout: float = 0) -> str:
        probes.append("probe")
        return "cannot reach example.invalid (test)"

    monkeypatch.setattr(tokens, "hub_reachable", probe)
    for _ in range(3):
        c = tokens.load_counter("someone/some-model", download=True)
        assert c.estimate and "cannot reach example.invalid" in c.reason
    assert probes == ["probe"]
    # Another repo is its own attempt.
    tokens.load_counter("someone/other-model", download=True)
    assert probes == ["probe", "probe"]


def test_probe_says_why() -> None:
    port = refused_port()
    assert tokens.hub_reachable(f"http://127.0.0.1:{port}", timeout=1.0).startswith("cannot reach 127.0.0.1")
