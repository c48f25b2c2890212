"""Hub tokenizers (issue 17): where the cache is, what "offline" means, which host is probed, and a
real download from a loopback stand-in for the Hugging Face hub (huggingface_hub's own client
talks to it: HEAD then GET of /<repo>/resolve/main/<file>), so the whole path runs offline."""

from __future__ import annotations

import hashlib
import http.server
import logging
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from lima_tk import tokens
from tests.assist_fixtures import refused_port
from tests.tokenizer_fixtures import CHATML_TEMPLATE, word_tokenizer_json

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("HF_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME", "HF_HUB_OFFLINE", "HF_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(tokens, "_failed_downloads", {})


# -- where the cache is, what offline means ---------------------------------------------------


def test_the_hub_cache_folder_follows_huggingface_hubs_variables(monkeypatch: pytest.MonkeyPatch,
                                                                   tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert tokens._hub_cache_dir() == str(home / ".cache" / "huggingface" / "hub")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert tokens._hub_cache_dir() == str(tmp_path / "xdg" / "huggingface" / "hub")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    assert tokens._hub_cache_dir() == str(tmp_path / "hf" / "hub")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    assert tokens._hub_cache_dir() == str(tmp_path / "cache")
    monkeypatch.setenv("HF_HUB_CACHE", "")  # empty is unset, as for huggingface_hub
    assert tokens._hub_cache_dir() == str(tmp_path / "hf" / "hub")


@pytest.mark.parametrize("value, offline", [
    ("1", True), ("true", True), ("TRUE", True), (" yes ", True), ("on", True),
    ("0", False), ("false", False), ("", False), ("no", False), ("offline", False), (None, False)])
def test_hub_offline_values(monkeypatch: pytest.MonkeyPatch, value: str | None, offline: bool) -> None:
    if value is not None:
        monkeypatch.setenv("HF_HUB_OFFLINE", value)
    assert tokens.hub_offline() is offline


# -- the probe --------------------------------------------------------------------------------


@pytest.fixture
def listening() -> Iterator[int]:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(8)
    yield s.getsockname()[1]
    s.close()


def test_the_probe_succeeds_on_a_listening_host(listening: int, monkeypatch: pytest.MonkeyPatch) -> None:
    assert tokens.hub_reachable(f"http://127.0.0.1:{listening}") is None
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{listening}/some/path")  # the endpoint of the hub
    assert tokens.hub_reachable() is None
    closed = refused_port()
    assert tokens.hub_reachable(f"http://127.0.0.1:{closed}", timeout=1.0) == \
        "cannot reach 127.0.0.1 (Connection refused)"  # the reason in words, not "[Errno 111] ..."


def test_the_probe_goes_to_the_endpoints_host_and_default_port(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a port, https is 443 and http 80; without an endpoint, huggingface.co."""
    seen: list[tuple[str, int, float]] = []

    class Conn:
        def __enter__(self) -> Conn:
            return self

        def __exit__(self, *exc: object) -> None:
            pass

    def connect(address: tuple[str, int], timeout: float) -> Conn:
        seen.append((*address, timeout))
        return Conn()

    monkeypatch.setattr(socket, "create_connection", connect)
    assert tokens.hub_reachable("https://hub.example") is None
    assert tokens.hub_reachable("http://hub.example", timeout=0.5) is None
    assert tokens.hub_reachable("https://hub.example:8443/x") is None
    assert tokens.hub_reachable() is None
    monkeypatch.setenv("HF_ENDPOINT", "http://mirror.example:8080")
    assert tokens.hub_reachable() is None
    assert seen == [("hub.example", 443, tokens.PROBE_TIMEOUT), ("hub.example", 80, 0.5),
                    ("hub.example", 8443, tokens.PROBE_TIMEOUT), ("huggingface.co", 443, tokens.PROBE_TIMEOUT),
                    ("mirror.example", 8080, tokens.PROBE_TIMEOUT)]
    assert tokens.PROBE_TIMEOUT == 2.0  # offline costs two seconds at most (issue 12)


def test_a_probe_that_hangs_gives_up_after_its_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()

    daemon: list[bool] = []

    def hang(address: tuple[str, int], timeout: float) -> None:
        daemon.append(threading.current_thread().daemon)  # a hung probe never keeps lima-tk from exiting
        release.wait(10)  # as name resolution can, which has no timeout of its own
        raise OSError("late")

    monkeypatch.setattr(socket, "create_connection", hang)
    try:
        assert tokens.hub_reachable("https://slow.example", timeout=0.1) == \
            "cannot reach slow.example (no answer within 0.1 s)"
        assert daemon == [True]
    finally:
        release.set()


def test_quiet_hub_silences_huggingface_hubs_logger() -> None:
    hub_log = logging.getLogger("huggingface_hub")
    level, propagate = hub_log.level, hub_log.propagate
    try:
        hub_log.setLevel(logging.NOTSET)
        hub_log.propagate = True
        tokens._quiet_hub()
        assert hub_log.level == logging.ERROR and hub_log.propagate is False
    finally:
        hub_log.setLevel(level)
        hub_log.propagate = propagate


# -- a download from a loopback hub -----------------------------------------------------------


class Hub(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, files: dict[str, bytes]) -> None:
        super().__init__(("127.0.0.1", 0), HubHandler)
        self.files = files  # "<repo>/<file>" -> bytes
        self.requests: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class HubHandler(http.server.BaseHTTPRequestHandler):
    server: Hub

    def log_message(self, *args: object) -> None:
        pass

    def _answer(self, body: bool) -> None:
        self.server.requests.append(f"{self.command} {self.path}")
        repo_file = self.path.split("?")[0].lstrip("/").replace("/resolve/main/", "/")
        data = self.server.files.get(repo_file)
        if data is None:
            self.send_response(404)
            self.send_header("X-Error-Code", "EntryNotFound")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("X-Repo-Commit", COMMIT)
        self.send_header("ETag", '"' + hashlib.sha256(data).hexdigest() + '"')
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if body:
            self.wfile.write(data)

    def do_HEAD(self) -> None:  # noqa: N802
        self._answer(False)

    def do_GET(self) -> None:  # noqa: N802
        self._answer(True)


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hub]:
    tj = word_tokenizer_json(tmp_path / "src" / "tokenizer.json").read_bytes()
    cfg = b'{"chat_template": ' + __import__("json").dumps(CHATML_TEMPLATE).encode() + b', "bos_token": ""}'
    server = Hub({"acme/words/tokenizer.json": tj, "acme/words/tokenizer_config.json": cfg})
    threading.Thread(target=server.serve_forever, daemon=True).start()
    from huggingface_hub import constants

    # huggingface_hub reads HF_ENDPOINT and HF_HUB_OFFLINE once, at import (another test may have
    # imported it offline); lima-tk reads them at call time.
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", server.url)
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE",
                        server.url + "/{repo_id}/resolve/{revision}/{filename}")
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    yield server
    server.shutdown()
    server.server_close()


def test_a_hub_tokenizer_is_downloaded_with_its_template_and_then_read_from_the_cache(hub: Hub,
                                                                                   tmp_path: Path) -> None:
    before = tokens.load_counter("acme/words", download=False)  # never touches the network
    assert before.estimate and before.needs_download and "acme/words: not downloaded yet" in before.reason
    assert hub.requests == []
    c = tokens.load_counter("acme/words", download=True)
    assert not c.estimate and not c.needs_download, (c.reason, hub.requests)
    assert c.key.startswith(f"hub:acme/words@{COMMIT}+")
    assert c.template == CHATML_TEMPLATE
    assert c.count("hello world one two") == 4
    snap = tmp_path / "cache" / "models--acme--words" / "snapshots" / COMMIT
    assert (snap / "tokenizer.json").exists() and (snap / "tokenizer_config.json").exists()
    assert not (snap / "chat_template.jinja").exists()  # asked for, not there: no harm
    assert any(r.endswith("/chat_template.jinja") for r in hub.requests)
    # From the cache now, without the network (and with it off: same key, same template).
    hub.requests.clear()
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        again = tokens.load_counter("acme/words", download=True)
    finally:
        del os.environ["HF_HUB_OFFLINE"]
    assert hub.requests == [] and again.key == c.key and again.template == CHATML_TEMPLATE


def test_an_unknown_repo_is_an_estimate_that_says_why_once(hub: Hub, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="lima_tk.tokens")
    c = tokens.load_counter("acme/missing", download=True)
    assert c.estimate and not c.needs_download
    assert c.reason.startswith("acme/missing: could not download (")
    assert c.reason.endswith("counts are estimates: set a local tokenizer.json or model folder in "
                             "Settings > Dataset to count exactly offline")
    assert "\n" not in c.reason
    assert "acme/missing" in tokens._failed_downloads
    n = len(hub.requests)
    again = tokens.load_counter("acme/missing", download=True)  # not tried again in this process
    assert again.estimate and again.reason == c.reason and len(hub.requests) == n
    assert [r.getMessage() for r in caplog.records if "could not download" in r.getMessage()] == [
        f"tokenizer acme/missing: could not download ({tokens._failed_downloads['acme/missing']}); counts are "
        "estimates"]


def test_offline_with_download_asked_is_an_estimate_that_needs_no_download(hub: Hub,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    c = tokens.load_counter("acme/words", download=True)
    assert c.estimate and not c.needs_download
    assert c.reason == "acme/words: offline and not in the local cache"
    assert hub.requests == []


def test_the_count_job_downloads_and_the_stats_pass_does_not(hub: Hub, tmp_path: Path) -> None:
    """The window's count job fetches a hub tokenizer (download=True by default); ensure_counted
    (the stats board and the CLI's read-only paths) never reaches the network by default."""
    import queue

    from lima_tk.model import Message
    from lima_tk.store import DatasetStore

    db = tmp_path / "d.lima.db"
    with DatasetStore(db) as s:
        s.create_chat("c", messages=[Message("user", "hello world"), Message("assistant", "one two three")])
        s.set_setting("tokenizer", "acme/words")
        r = tokens.ensure_counted(s)
        assert r is not None and r.estimate and "not downloaded yet" in r.reason
    assert hub.requests == []
    events: queue.Queue = queue.Queue()
    tokens.start_count_job(db, events).join(timeout=60)
    got = []
    while not events.empty():
        got.append(events.get())
    kind, result = got[-1]
    assert kind == "done" and not result.estimate and result.key.startswith(f"hub:acme/words@{COMMIT}+")
    assert any(r.startswith("GET /acme/words/resolve/main/tokenizer.json") for r in hub.requests)
    with DatasetStore(db) as s:
        assert s.active_token_key().key == result.key
        assert sum(s.message_token_counts(s.list_chats()[0].id).values()) == 5


def test_a_template_only_in_chat_template_json_is_downloaded_too(hub: Hub, tmp_path: Path,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="lima_tk.tokens")
    tj = hub.files["acme/words/tokenizer.json"]
    hub.files["acme/legacy/tokenizer.json"] = tj
    hub.files["acme/legacy/chat_template.json"] = b'{"chat_template": "{{ messages[0].content }}"}'
    c = tokens.load_counter("acme/legacy", download=True)
    assert not c.estimate and c.template == "{{ messages[0].content }}"
    assert f"tokenizer acme/legacy: downloaded to {tmp_path / 'cache'}" in [r.getMessage() for r in caplog.records]


@pytest.mark.parametrize("error, why", [(RuntimeError("first line\nsecond line"), "first line"),
                                        (RuntimeError("  "), "RuntimeError")])
def test_a_failed_download_says_why_in_one_line(hub: Hub, monkeypatch: pytest.MonkeyPatch, error: Exception,
                                                why: str) -> None:
    import huggingface_hub

    def fail(*args: object, **kwargs: object) -> str:
        raise error

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fail)
    c = tokens.load_counter("acme/words", download=True)
    assert c.estimate and c.setting == "acme/words"
    assert c.reason.startswith(f"acme/words: could not download ({why}); counts are estimates")


def test_without_huggingface_hub_a_hub_id_is_an_estimate_that_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "huggingface_hub", None)
    c = tokens.load_counter("acme/words", download=True)
    assert c.estimate and c.setting == "acme/words"
    assert c.reason == ("acme/words: the huggingface_hub package is not installed, so counts are estimates "
                        "(set a local tokenizer.json, or install tokenizers)")
    with pytest.raises(tokens.TokenizerError, match="huggingface_hub package is not installed"):
        tokens.load_counter("acme/words", strict=True)


def test_the_count_job_without_download_and_its_errors(hub: Hub, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import queue

    from lima_tk.model import Message
    from lima_tk.store import DatasetStore

    db = tmp_path / "d.lima.db"
    with DatasetStore(db) as s:
        s.create_chat("c", messages=[Message("user", "hello world")])
        s.set_setting("tokenizer", "acme/words")
    events: queue.Queue = queue.Queue()
    tokens.start_count_job(db, events, download=False).join(timeout=60)
    got = []
    while not events.empty():
        got.append(events.get())
    assert got[-1][0] == "done" and got[-1][1].estimate and hub.requests == []

    def fail(*args: object, **kwargs: object) -> None:
        raise RuntimeError()

    monkeypatch.setattr(tokens, "count_missing", fail)
    events = queue.Queue()
    tokens.start_count_job(db, events).join(timeout=60)
    assert events.get_nowait() == ("error", "RuntimeError")  # an error without a message is named
