"""lima-tk without its optional packages: no crash at import, one clear line where a feature
needs one (openai: AI assist; tokenizers: exact counts). In this process a missing package is
`sys.modules[name] = None` (import fails); in a subprocess an import hook refuses it. Also the
diagnostics for Help > About, and `--version`."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
from pathlib import Path

import pytest

from lima_tk import __version__, deps
from lima_tk.assist import AssistConfig, AssistError, Job, list_models, reply_request
from lima_tk.diagnostics import format_report, gather
from lima_tk.model import Chat, Message
from lima_tk.tokens import load_counter
from tests.launcher_helpers import blocker_dir
from tests.tokenizer_fixtures import bpe_tokenizer_json

ROOT = Path(__file__).resolve().parents[1]


def lima(tmp_path: Path, *args: str, block: str = "openai,tokenizers,huggingface_hub") -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(blocker_dir(tmp_path / "hooks")), str(ROOT)]),
           "LIMA_TK_TEST_BLOCK": block, "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "lima_tk", *args], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=60)


@pytest.fixture
def no_openai(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "openai", None)


@pytest.fixture
def no_tokenizers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tokenizers", None)
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)


# -- which packages are there --------------------------------------------------------------------


def test_missing_lists_what_is_lost(no_openai, no_tokenizers) -> None:
    missing = {d.package: d for d in deps.missing()}
    assert set(missing) == {"openai", "tokenizers"}
    assert "no AI assist" in missing["openai"].without and not missing["openai"].required
    assert "estimates" in missing["tokenizers"].without
    versions = deps.versions()
    assert versions["openai"] is None and versions["sqlite-utils"]


def test_the_launcher_check_runs_in_a_subprocess(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(blocker_dir(tmp_path / "hooks")), str(ROOT)]),
           "LIMA_TK_TEST_BLOCK": "openai"}
    r = subprocess.run([sys.executable, "-m", "lima_tk.deps"], capture_output=True, text=True, env=env, timeout=60)
    report = json.loads(r.stdout)
    assert [d["package"] for d in report["missing"]] == ["openai"]
    assert report["missing"][0]["requirement"] == "openai>=1.0" and report["pip"] is True


# -- AI assist without openai --------------------------------------------------------------------


def test_generate_without_openai_is_an_error_event_not_a_crash(no_openai) -> None:
    chat = Chat(name="c", messages=[Message("user", "Hi")])
    events: queue.Queue = queue.Queue()
    job = Job(AssistConfig(base_url="http://127.0.0.1:9/v1", model="m"), reply_request(chat), events=events)
    job.start()
    assert job.join(10)
    kinds = []
    while not events.empty():
        kinds.append(events.get_nowait())
    (kind, err), = kinds
    assert kind == "error" and isinstance(err, AssistError) and err.kind == "client"
    assert str(err).startswith("AI assist needs the openai package: install it into lima-tk's environment with ")
    assert f'{sys.executable} -m pip install "openai>=1.0"' in str(err)
    with pytest.raises(AssistError, match="AI assist needs the openai package"):
        list_models(AssistConfig())


def test_cli_without_openai_and_tokenizers(tmp_path: Path) -> None:
    db = str(tmp_path / "d.lima.db")
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"messages": [{"role": "user", "content": "Hello there"},
                                            {"role": "assistant", "content": "Hi! How can I help?"}]}) + "\n"
                   + json.dumps({"messages": [{"role": "user", "content": "Pending question"}]}) + "\n")
    r = lima(tmp_path, "--db", db, "import", str(src))
    assert r.returncode == 0 and "imported 2 chats" in r.stdout, r.stderr
    r = lima(tmp_path, "--db", db, "tokens", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["estimate"] is True and "tokenizers package is not installed" in out["reason"]
    r = lima(tmp_path, "--db", db, "stats")
    assert r.returncode == 0 and "~" in r.stdout, r.stderr
    r = lima(tmp_path, "--db", db, "validate")
    assert r.returncode == 1 and "2 chats checked" in r.stdout  # the pending chat has no reply
    r = lima(tmp_path, "--db", db, "export", str(tmp_path / "out.jsonl"))
    assert r.returncode == 0, r.stderr
    r = lima(tmp_path, "--db", db, "generate", "--base-url", "http://127.0.0.1:9/v1", "--model", "m")
    assert r.returncode == 1
    assert "AI assist needs the openai package" in r.stderr and "Traceback" not in r.stderr
    r = lima(tmp_path, "--db", db, "tokens", "--tokenizer", str(bpe_tokenizer_json(tmp_path / "tok.json")))
    assert r.returncode == 0 and "tokenizers package is not installed" in r.stderr, r.stderr


# -- token counts without tokenizers ---------------------------------------------------------------


def test_counts_are_estimates_without_tokenizers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tj = bpe_tokenizer_json(tmp_path / "tokenizer.json")  # made while tokenizers is still there
    assert not load_counter(str(tj)).estimate
    monkeypatch.setitem(sys.modules, "tokenizers", None)
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)
    for setting in ("", "Qwen/Qwen2.5-0.5B-Instruct", str(tj)):
        c = load_counter(setting, download=True)
        assert c.estimate and not c.needs_download
        assert c.reason.startswith("the tokenizers package is not installed")
        assert c.count("Hello there, how are you?") > 0
    assert load_counter(str(tj), strict=True).estimate  # --tokenizer X: no crash either


# -- diagnostics and --version ---------------------------------------------------------------------


def test_diagnostics_never_hold_the_key(monkeypatch: pytest.MonkeyPatch, no_openai) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env-0123456789abcdef")
    settings = {"api_key": "sk-settings-0123456789", "base_url": "https://user:pw@example.invalid/v1?key=abc",
                "model": "m1", "use_env_key": True}
    info = gather("/data/x.lima.db", tk_version="8.6.13", settings=settings)
    text = format_report(info) + json.dumps(info)
    for secret in ("sk-env", "sk-settings", "pw@", "key=abc"):
        assert secret not in text
    assert info["api key"] == "$OPENAI_API_KEY"
    assert info["lima-tk"] == __version__ and info["dataset"] == str(Path("/data/x.lima.db"))
    assert info["tk"] == "8.6.13" and info["sqlite"] and info["python"].startswith(sys.version.split()[0])
    assert info["packages"]["openai"] == "not installed" and info["packages"]["sqlite-utils"] != "not installed"
    assert "packages: click " in format_report(info)
    monkeypatch.delenv("OPENAI_API_KEY")
    assert gather(settings=settings)["api key"] == "settings"
    assert gather(settings={})["api key"] == "none"


def test_about_and_version_on_the_command_line(tmp_path: Path) -> None:
    r = lima(tmp_path, "--version")
    assert (r.returncode, r.stdout.strip()) == (0, f"lima-tk, version {__version__}")
    r = lima(tmp_path, "--db", str(tmp_path / "d.lima.db"), "about", "--json")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["dataset"] == str(tmp_path / "d.lima.db")
    assert info["packages"]["openai"] == "not installed" and info["packages"]["tokenizers"] == "not installed"
    assert info["log"] == str(tmp_path / "state" / "lima-tk" / "lima-tk.log")
