"""Token counts with the dataset's tokenizer: loading, estimating, counting, and the cache.

No tkinter here, and `tokenizers` / `huggingface_hub` / `jinja2` are imported only when needed.

The `tokenizer` dataset setting is one of:
- `""`: the default, `DEFAULT_TOKENIZER` (a Hugging Face id that needs no login);
- a Hugging Face id (`org/name`): used from the local hub cache; downloaded (by a worker, with
  `download=True`) the first time; offline and not cached -> an estimate, never an error;
- a `tokenizer.json` file, or a model folder holding `tokenizer.json` (+ `tokenizer_config.json`
  whose `chat_template` renders a chat "as the model sees it");
- `"estimate"`: no tokenizer, a fast heuristic (counts flagged `estimate=True`, shown with "~").

Counts are cached in the dataset (see `DatasetStore.token_key` and docs/tokens.md): by tokenizer
key + sha1 of the text, so only texts never seen under that tokenizer are encoded.

Thread use: everything here is "any thread", but one `DatasetStore` per thread (a worker opens
its own). `load_counter(download=True)` may block on the network: call it from a worker.
"""

from __future__ import annotations

import gc
import hashlib
import json
import logging
import os
import queue
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lima_tk.errors import LimaError
from lima_tk.model import Chat, Message, Tool
from lima_tk.store import DatasetStore

DEFAULT_TOKENIZER = "Qwen/Qwen2.5-0.5B-Instruct"  # Apache-2.0, not gated, has a chat template
ESTIMATE = "estimate"
ESTIMATE_KEY = "estimate:v1"
HUB_ID_RE = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}(/[\w.-]{1,96})?$")

Progress = Callable[[int, int], None]


class TokenizerError(LimaError):
    """A tokenizer setting that cannot be used (bad path, not a tokenizer file, bad hub id)."""


# -- the setting ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenizerSpec:
    kind: str  # "hub", "file", "folder" or "estimate"
    value: str  # hub id, or the resolved path
    setting: str  # the setting as written


def parse_spec(setting: str | None, base_dir: str | Path | None = None) -> TokenizerSpec:
    """What the setting names. Relative paths are tried against `base_dir` (the dataset's folder)
    first, then the working directory. Raises TokenizerError for a path that does not exist."""
    raw = (setting or "").strip()
    if not raw:
        return TokenizerSpec("hub", DEFAULT_TOKENIZER, raw)
    if raw.lower() == ESTIMATE:
        return TokenizerSpec("estimate", "", raw)
    p = Path(raw).expanduser()
    candidates = [p] if p.is_absolute() else [Path(base_dir) / p, p] if base_dir else [p]
    for c in candidates:
        if c.is_dir():
            return TokenizerSpec("folder", str(c.resolve()), raw)
        if c.is_file():
            return TokenizerSpec("file", str(c.resolve()), raw)
    looks_like_path = raw.startswith(("/", "~", ".", "\\")) or raw.endswith(".json") or "\\" in raw \
        or raw.count("/") > 1 or (len(raw) > 1 and raw[1] == ":")
    if looks_like_path:
        raise TokenizerError(f"tokenizer {raw!r}: no such file or folder")
    if not HUB_ID_RE.match(raw):
        raise TokenizerError(
            f"tokenizer {raw!r}: not a Hugging Face id (org/name), a tokenizer.json file or a model folder")
    return TokenizerSpec("hub", raw, raw)


# -- counters ---------------------------------------------------------------------------------


@dataclass
class Counter:
    """Counts tokens of texts. `encoded` counts the texts actually encoded (tests, benchmark)."""

    setting: str
    key: str
    name: str
    estimate: bool = False
    reason: str = ""  # why this is an estimate (or "")
    template: str | None = None  # the default Jinja chat template, when the tokenizer has one
    special: dict[str, str] = field(default_factory=dict)  # bos_token / eos_token / ... for the template
    templates: dict[str, str] = field(default_factory=dict)  # every named template ("default", "tool_use", ...)
    template_source: str = ""  # where the template was found (chat_template.jinja, tokenizer_config.json, ...)
    overhead_chat: int = 0
    overhead_message: int = 0
    needs_download: bool = False  # a hub id that is not cached yet: load again with download=True
    encoded: int = 0
    key_ids: dict[str, int] = field(default_factory=dict, repr=False, compare=False)  # store path -> key id

    def count_batch(self, texts: Sequence[str]) -> list[int]:
        raise NotImplementedError

    def count(self, text: str) -> int:
        return self.count_batch([text])[0]

    def count_spans(self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]) -> list[tuple[int, int]]:
        """(tokens, tokens overlapping the character spans) of each text: the trained tokens, found
        the way transformers builds `assistant_masks` from `{% generation %}` blocks."""
        out = []
        for text, sp in zip(texts, spans, strict=True):
            out.append((self.count(text), sum(self.count(text[a:b]) for a, b in sp)))
        return out

    def template_for(self, has_tools: bool) -> str | None:
        """The template transformers' `get_chat_template` picks: "tool_use" for a chat with tools
        when there is one, else "default" (a single template is "default")."""
        if has_tools and "tool_use" in self.templates:
            return self.templates["tool_use"]
        return self.templates.get("default", self.template)

    @property
    def template_note(self) -> str:
        """Why chats are laid out in the generic ChatML layout instead of the tokenizer's own
        template ("" when the template is used): for the preview, `lima-tk tokens` and the status bar."""
        if self.estimate and self.template is None:
            return ""
        if self.template is None and self.templates:
            return (f"{self.name}: several chat templates and none is named \"default\" "
                    f"({', '.join(sorted(self.templates))}); counts use the generic ChatML layout")
        if self.template is None:
            return (f"{self.name}: no chat template found (looked in {', '.join(TEMPLATE_PLACES)}); "
                    "counts use the generic ChatML layout")
        if not jinja_available():
            return "jinja2 is not installed, so the chat template is not used; counts use the generic ChatML layout"
        return ""


# A rough word-piece heuristic: short Latin runs, digit triples, non-Latin letters in pairs,
# each other symbol, and `<|special|>` markers as one token. Close to BPE on English prose.
_EST_RE = re.compile(r"<\|[^|<>\s]{1,40}\|>|[A-Za-z]{1,6}|\d{1,3}|[^\W\d_A-Za-z]{1,2}|[^\w\s]|_+|\n")


class EstimateCounter(Counter):
    def count_batch(self, texts: Sequence[str]) -> list[int]:
        self.encoded += len(texts)
        findall = _EST_RE.findall
        return [len(findall(t)) for t in texts]


class HFCounter(Counter):
    """A `tokenizers.Tokenizer`; texts are encoded without the post-processor's special tokens."""

    def __init__(self, tokenizer: Any, **kw: Any) -> None:
        super().__init__(**kw)
        self.tokenizer = tokenizer

    def count_batch(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        self.encoded += len(texts)
        # encode_batch_fast skips offsets; it releases the GIL and uses every core.
        return [len(e) for e in self.tokenizer.encode_batch_fast(list(texts), add_special_tokens=False)]

    def count_spans(self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]) -> list[tuple[int, int]]:
        if not texts:
            return []
        self.encoded += len(texts)
        out = []
        for enc, sp in zip(self.tokenizer.encode_batch(list(texts), add_special_tokens=False), spans, strict=True):
            out.append((len(enc), _masked(enc.offsets, sp) if sp else 0))
        return out


def _masked(offsets: Sequence[tuple[int, int]], spans: Sequence[tuple[int, int]]) -> int:
    """Tokens overlapping the spans, as transformers marks `assistant_masks` (both in order)."""
    n = i = 0
    for start, end in offsets:
        while i < len(spans) and start >= spans[i][1]:
            i += 1
        if i == len(spans):
            break
        if end > spans[i][0]:
            n += 1
    return n


def estimate_counter(setting: str = ESTIMATE, reason: str = "no tokenizer chosen") -> Counter:
    c = EstimateCounter(setting=setting, key=ESTIMATE_KEY, name="estimate", estimate=True, reason=reason)
    _set_overheads(c)
    return c


def load_counter(setting: str | None, *, base_dir: str | Path | None = None, download: bool = False,
                 strict: bool = False) -> Counter:
    """A counter for the setting. Any thread; with `download=True` it may block on the network.

    A hub id that is not in the local cache gives an estimate with `needs_download` (when
    `download` is False) or, when the download fails (offline, gated), an estimate whose `reason`
    says why. A bad path or file raises TokenizerError with `strict`, else gives an estimate
    with that message as `reason`.
    """
    setting = (setting or "").strip()
    try:
        spec = parse_spec(setting, base_dir)
        if spec.kind == "estimate":
            return estimate_counter(setting)
        if not tokenizers_available():
            return estimate_counter(setting, reason=_NO_TOKENIZERS)
        if spec.kind == "hub":
            return _load_hub(spec, download)
        if spec.kind == "folder":
            folder = Path(spec.value)
            tj = folder / "tokenizer.json"
            if not tj.is_file():
                raise TokenizerError(f"tokenizer folder {spec.value}: it has no tokenizer.json")
            return _from_file(spec, tj)
        return _from_file(spec, Path(spec.value))
    except TokenizerError as e:
        if strict:
            raise
        return estimate_counter(setting, reason=str(e))


# Where transformers finds a tokenizer's chat template, in its order (PreTrainedTokenizerBase.
# from_pretrained): raw .jinja files win over the config's "chat_template"; chat_template.json is
# the processors' legacy file, read here last for folders whose tokenizer config has none.
TEMPLATE_PLACES = ("chat_template.jinja", "additional_chat_templates/*.jinja", "tokenizer_config.json",
                   "chat_template.json")
RENDER_VERSION = "r2"  # part of the key: bump when the rendering of a template changes


def find_chat_templates(folder: Path, config: dict[str, Any] | None = None) -> tuple[dict[str, str], str]:
    """({name: template}, where they were found) for a model folder, in transformers' order."""
    found: dict[str, str] = {}
    where = []
    jinja = folder / "chat_template.jinja"
    if jinja.is_file():
        found["default"] = jinja.read_text(encoding="utf-8")
        where.append(jinja.name)
    extra = folder / "additional_chat_templates"
    if extra.is_dir():
        for f in sorted(extra.glob("*.jinja")):
            found[f.name.removesuffix(".jinja")] = f.read_text(encoding="utf-8")
        if len(found) > (1 if jinja.is_file() else 0):
            where.append("additional_chat_templates/")
    if found:
        return found, " + ".join(where)
    tpl = (config or {}).get("chat_template")
    if isinstance(tpl, list):  # named templates: [{"name": "default", "template": "..."}, ...]
        found = {t["name"]: t["template"] for t in tpl
                 if isinstance(t, dict) and isinstance(t.get("name"), str) and isinstance(t.get("template"), str)}
    elif isinstance(tpl, str) and tpl.strip():
        found = {"default": tpl}
    if found:
        return found, "tokenizer_config.json"
    legacy = folder / "chat_template.json"
    try:
        data = json.loads(legacy.read_text(encoding="utf-8")) if legacy.is_file() else None
    except (OSError, ValueError):
        data = None
    if isinstance(data, dict) and isinstance(data.get("chat_template"), str) and data["chat_template"].strip():
        return {"default": data["chat_template"]}, "chat_template.json"
    return {}, ""


def tokenizers_available() -> bool:
    """Is the `tokenizers` package installed? lima-tk runs without it, with estimated counts."""
    from lima_tk.deps import available

    return available("tokenizers")


_NO_TOKENIZERS = "the tokenizers package is not installed (pip install tokenizers in lima-tk's environment)"


def _from_file(spec: TokenizerSpec, path: Path, key: str | None = None) -> Counter:
    """A counter for a tokenizer.json; its folder's tokenizer_config.json and chat templates too."""
    from lima_tk.store.files import is_open_dataset

    if is_open_dataset(path):  # reading it with open() would drop this process's SQLite locks
        raise TokenizerError(f"tokenizer {path}: that is the open dataset, not a tokenizer.json file")
    try:
        data = path.read_bytes()
    except OSError as e:
        raise TokenizerError(f"tokenizer {path}: cannot read it ({e.strerror or e})") from e
    try:
        from tokenizers import Tokenizer
    except ImportError as e:  # found but broken (a wheel for another Python, say)
        raise TokenizerError(f"{_NO_TOKENIZERS} ({e})") from None
    try:
        tok = Tokenizer.from_str(data.decode("utf-8"))
    except Exception as e:  # noqa: BLE001 - the Rust side raises plain Exception
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise TokenizerError(f"tokenizer {path}: not a tokenizer.json file ({first})") from e
    config = _read_json(path.with_name("tokenizer_config.json"))
    special = _special_tokens(config)
    templates, source = find_chat_templates(path.parent, config)
    key = key or f"{spec.kind}:{hashlib.sha1(data).hexdigest()[:16]}"
    if templates:
        blob = json.dumps([templates, special, jinja_available()], sort_keys=True).encode("utf-8")
        key += f"+tpl:{hashlib.sha1(blob).hexdigest()[:12]}"
    key += f"+{RENDER_VERSION}"
    name = spec.value if spec.kind == "hub" else path.parent.name if spec.kind == "folder" else path.name
    c = HFCounter(tok, setting=spec.setting, key=key, name=name, template=templates.get("default"),
                  special=special, templates=templates, template_source=source)
    _set_overheads(c)
    return c


def _read_json(path: Path) -> dict[str, Any]:
    try:
        cfg = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return cfg if isinstance(cfg, dict) else {}


def _special_tokens(cfg: dict[str, Any]) -> dict[str, str]:
    """The named special tokens a template sees (bos_token, eos_token, ... and any other `*_token`
    string of the config, as transformers v5 passes its `special_tokens_map`)."""
    special = {}
    for k, v in cfg.items():
        v = v.get("content") if isinstance(v, dict) else v
        if k.endswith("_token") and isinstance(v, str):
            special[k] = v
    return special


def _hub_cache_dir() -> str:
    # Read at call time (huggingface_hub reads its constants once, at import).
    if os.environ.get("HF_HUB_CACHE"):
        return os.environ["HF_HUB_CACHE"]
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "huggingface")
    return os.path.join(home, "hub")


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


log = logging.getLogger(__name__)

# Downloads tried in this process that failed: {repo: reason}. A failed download is not tried
# again until lima-tk restarts, so an offline laptop pays for it once, not at every recount.
_failed_downloads: dict[str, str] = {}
PROBE_TIMEOUT = 2.0  # seconds to reach the hub's host before a download is even tried


def hub_reachable(endpoint: str | None = None, timeout: float = PROBE_TIMEOUT) -> str | None:
    """None when a TCP connection to the hub's host opens within `timeout`, else the reason.

    huggingface_hub retries an unreachable host five times with back-off (~25 s, and a warning
    on the terminal each time); one quick connect first makes "offline" cost two seconds at most.
    Name resolution has no timeout of its own, so the probe runs on a daemon thread."""
    import socket
    from urllib.parse import urlsplit

    url = urlsplit(endpoint or os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    host, port = url.hostname or "", url.port or (443 if url.scheme == "https" else 80)
    result: list[str | None] = []

    def probe() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                result.append(None)
        except OSError as e:
            result.append(f"cannot reach {host} ({e.strerror or e})")

    t = threading.Thread(target=probe, name="lima-tk hub probe", daemon=True)
    t.start()
    t.join(timeout + 0.5)
    return result[0] if result else f"cannot reach {host} (no answer within {timeout:g} s)"


def _quiet_hub() -> None:
    """huggingface_hub prints its retries and warnings on stderr; lima-tk logs one line instead."""
    hub_log = logging.getLogger("huggingface_hub")
    hub_log.setLevel(logging.ERROR)
    hub_log.propagate = False


def _load_hub(spec: TokenizerSpec, download: bool) -> Counter:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # it comes with tokenizers; without it no hub tokenizer can be found
        raise TokenizerError(f"{spec.value}: the huggingface_hub package is not installed, so counts are "
                             "estimates (set a local tokenizer.json, or install tokenizers)") from None

    cache = _hub_cache_dir()
    path = try_to_load_from_cache(spec.value, "tokenizer.json", cache_dir=cache)
    if not isinstance(path, str):
        if not download or hub_offline():
            why = "offline and not in the local cache" if hub_offline() or download else "not downloaded yet"
            c = estimate_counter(spec.setting, reason=f"{spec.value}: {why}")
            c.needs_download = not hub_offline()
            return c
        failed = _failed_downloads.get(spec.value)
        if failed is None:
            failed = hub_reachable()
        if failed is None:
            try:
                # What Tokenizer.from_pretrained does, with the cache folder read at call time.
                from huggingface_hub import hf_hub_download

                _quiet_hub()
                path = hf_hub_download(spec.value, "tokenizer.json", cache_dir=cache)
                for extra in ("tokenizer_config.json", "chat_template.jinja", "chat_template.json"):
                    try:  # the config and the template are optional; most repos lack one of them
                        hf_hub_download(spec.value, extra, cache_dir=cache)
                    except Exception:  # noqa: BLE001
                        pass
                log.info("tokenizer %s: downloaded to %s", spec.value, cache)
            except Exception as e:  # noqa: BLE001 - offline, gated, unknown repo: all fall back
                failed = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        if failed is not None:
            if spec.value not in _failed_downloads:
                _failed_downloads[spec.value] = failed
                log.info("tokenizer %s: could not download (%s); counts are estimates", spec.value, failed)
            return estimate_counter(spec.setting, reason=f"{spec.value}: could not download ({failed}); "
                                    "counts are estimates: set a local tokenizer.json or model folder in "
                                    "Settings > Dataset to count exactly offline")
    tj = Path(path)
    # The snapshot folder is named by the commit, which identifies the tokenizer exactly.
    return _from_file(spec, tj, key=f"hub:{spec.value}@{tj.parent.name}")


# -- what is counted --------------------------------------------------------------------------


def message_text(content: str | None, tool_calls: str | list | None) -> str:
    """The text of a message that is counted: its content plus each tool call as
    `{"name": ..., "arguments": ...}` (arguments exactly as stored), one per line."""
    text = content or ""
    if tool_calls:
        calls = json.loads(tool_calls) if isinstance(tool_calls, str) else tool_calls
        parts = []
        for call in calls or ():
            fn = call.get("function", call) if isinstance(call, dict) else {}
            name = json.dumps(fn.get("name", ""), ensure_ascii=False)
            parts.append(f'{{"name": {name}, "arguments": {fn.get("arguments", "")}}}')
        text = "\n".join([text, *parts]) if text else "\n".join(parts)
    return text


def text_hash(text: str) -> bytes:
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).digest()


# -- counting the dataset ---------------------------------------------------------------------


def token_key_id(store: DatasetStore, counter: Counter) -> int:
    """The store's id for the counter's key (registered once per store and counter)."""
    memo = counter.key_ids
    tok = memo.get(str(store.path))
    if tok is None or not store.has_token_key(tok, counter.key):
        tok = memo[str(store.path)] = store.token_key(counter.key, counter.setting, counter.estimate,
                                                      counter.overhead_chat, counter.overhead_message)
    return tok


@dataclass
class CountResult:
    key: str
    estimate: bool
    messages: int = 0  # messages that had no count under this key
    chats: int = 0  # chats rendered (they had no rendered count under this key)
    encoded: int = 0  # distinct message texts encoded (the rest came from the cache)
    rendered: int = 0  # rendered chat texts encoded (the rest came from the cache)
    cancelled: bool = False
    reason: str = ""  # why the counts are estimates, when they are
    note: str = ""  # why chats are laid out in ChatML rather than the tokenizer's template, when they are
    template_failed: int = 0  # chats rendered in ChatML because the template failed on them
    note_detail: str = ""  # the first of those failures


def count_dataset(store: DatasetStore, counter: Counter, progress: Progress | None = None,
                  cancel: threading.Event | None = None, chat_ids: Iterable[int] | None = None,
                  chunk: int = 8192, activate: bool = True, chat_chunk: int = 256) -> CountResult:
    """Count every message (or those of `chat_ids`) missing from the cache; the store must be
    this thread's own. Only texts never counted under this tokenizer are encoded, so a warm
    cache encodes nothing and an edit costs one message. Cancel between chunks with `cancel`."""
    tok = token_key_id(store, counter)
    result = CountResult(counter.key, counter.estimate, reason=counter.reason, note=counter.template_note)
    if chat_ids is not None:
        todo_ids = store.uncounted_message_ids(tok, chat_ids)
    else:
        missing = store.count_uncounted(tok)
        todo_ids = []
        if 0 < missing <= 100:
            # After an edit the missing ones are in the chats changed last: look there first, and
            # scan everything only when that does not account for all of them.
            todo_ids = store.uncounted_message_ids(tok, store.recently_updated_chats())
        if len(todo_ids) != missing:
            todo_ids = store.uncounted_message_ids(tok)
    if chat_ids is not None:
        chat_todo = store.uncounted_chat_ids(tok, chat_ids)
    else:
        missing = store.count_uncounted_chats(tok)
        chat_todo = []
        if 0 < missing <= 100:  # as above: an edit changed the chats changed last
            chat_todo = store.uncounted_chat_ids(tok, store.recently_updated_chats())
        if len(chat_todo) != missing:
            chat_todo = store.uncounted_chat_ids(tok) if missing else []
    total = len(todo_ids) + len(chat_todo)
    if progress:
        progress(0, total)
    if todo_ids:
        _count_ids(store, counter, tok, todo_ids, result, progress, cancel, chunk, total)
    if chat_todo and not result.cancelled:
        _count_chats(store, counter, tok, chat_todo, result, progress, cancel, chat_chunk, total)
    active = store.active_token_key()
    if activate and (active is None or (active.id != tok and not result.cancelled)):
        store.activate_token_key(tok)
    return result


def _count_ids(store: DatasetStore, counter: Counter, tok: int, todo_ids: list[int], result: CountResult,
               progress: Progress | None, cancel: threading.Event | None, chunk: int, total: int) -> None:
    # Many misses: read the whole cache once; a few: look their hashes up.
    known: dict[bytes, int] = store.token_counts_for(tok) if len(todo_ids) > 2000 else {}
    bulk = len(todo_ids) > 2000
    inflight: set[bytes] = set()
    # Pipeline: chunk i is encoded on a helper thread (tokenizers releases the GIL and uses every
    # core) while this thread reads and hashes chunk i+1 and then stores chunk i.
    with ThreadPoolExecutor(1, thread_name_prefix="lima-tk-encode") as pool:
        pending: tuple | None = None
        for start in range(0, len(todo_ids), chunk):
            if cancel is not None and cancel.is_set():
                result.cancelled = True
                break
            version = store.data_version()
            rows = store.message_texts(todo_ids[start:start + chunk])
            hashes = []
            new: dict[bytes, str] = {}
            for _mid, content, calls in rows:
                text = message_text(content, calls)
                h = text_hash(text)
                hashes.append(h)
                if h not in known and h not in inflight:
                    new[h] = text
            if not bulk and new:
                known.update(store.token_counts_for(tok, list(new)))
                new = {h: t for h, t in new.items() if h not in known}
            inflight.update(new)
            job = pool.submit(counter.count_batch, list(new.values()))
            if pending is not None:
                _store_chunk(store, tok, known, inflight, result, progress, total, *pending)
            pending = (version, rows, hashes, list(new), job)
        if pending is not None:
            _store_chunk(store, tok, known, inflight, result, progress, total, *pending)


def _store_chunk(store: DatasetStore, tok: int, known: dict[bytes, int], inflight: set[bytes], result: CountResult,
                 progress: Progress | None, total: int, version: int, rows: list, hashes: list[bytes],
                 new: list[bytes], job: Future) -> None:
    counts = dict(zip(new, job.result(), strict=True))
    known.update(counts)
    inflight.difference_update(new)
    result.encoded += len(counts)
    with store.derived_write():
        keep: Iterable[int] = range(len(rows))
        if store.data_version() != version:
            # Another connection committed meanwhile: record only texts that did not change.
            now = {r[0]: text_hash(message_text(r[1], r[2])) for r in store.message_texts([r[0] for r in rows])}
            keep = [i for i, r in enumerate(rows) if now.get(r[0]) == hashes[i]]
        store.put_token_counts(tok, sorted(counts.items()))
        store.set_message_tokens(tok, [(rows[i][0], known[hashes[i]]) for i in keep])
    result.messages += len(rows)
    if progress:
        progress(result.messages, total)


def _count_chats(store: DatasetStore, counter: Counter, tok: int, todo: list[int], result: CountResult,
                 progress: Progress | None, cancel: threading.Event | None, chunk: int, total: int) -> None:
    """Render each chat with the template and count the rendered text (cached by its hash, so an
    undo or a copy encodes nothing) and its trained tokens. Chunk i is encoded on a helper thread
    while this thread renders chunk i+1 (tokenizers releases the GIL)."""
    from lima_tk.store import ChatFilter

    done_before = result.messages
    with ThreadPoolExecutor(1, thread_name_prefix="lima-tk-encode") as pool:
        pending: tuple | None = None
        for start in range(0, len(todo), chunk):
            if cancel is not None and cancel.is_set():
                result.cancelled = True
                break
            version = store.data_version()
            ids = todo[start:start + chunk]
            chats = list(store.iter_chats(ChatFilter(ids=ids), batch=len(ids)))
            work = _render_work(store, counter, tok, chats, result)
            job = pool.submit(_encode_work, counter, work)
            if pending is not None:
                _store_chats(store, counter, tok, result, *pending)
                if progress:
                    progress(done_before + result.chats, total)
            pending = (version, chats, work, job)
        if pending is not None:
            _store_chats(store, counter, tok, result, *pending)
            if progress:
                progress(done_before + result.chats, total)
    if result.template_failed and not result.note:  # say it, as for a folder without a template
        n = result.template_failed
        result.note = (f"the chat template failed on {n:,} chat{'s' if n != 1 else ''} ({result.note_detail}); "
                       f"{'it is' if n == 1 else 'they are'} counted in the generic ChatML layout")


@dataclass
class _ChatWork:
    """What one chat's counts need: its rendered text (and trained spans), the hashes to look up."""

    chat_id: int
    text_hash: bytes
    text: str | None  # None: the count is in the cache
    spans: list[tuple[int, int]] | None
    span_hash: bytes | None  # cache entry of the trained-token count (generation blocks / ChatML)
    trained: list[bytes]  # message-text hashes of the trainable assistant messages (no spans)
    counts: dict[bytes, int] = field(default_factory=dict)


def _chat_signature(text: str, spans: list[tuple[int, int]]) -> bytes:
    return text_hash(f"{text}\x00trained:{spans}")


def _render_work(store: DatasetStore, counter: Counter, tok: int, chats: list[Chat],
                 result: CountResult | None = None) -> list[_ChatWork]:
    work = []
    for chat in chats:
        r = render_chat(chat, counter)
        if result is not None and r.how == "chatml" and r.note.startswith("the chat template failed"):
            result.template_failed += 1
            result.note_detail = result.note_detail or r.note.removeprefix("the chat template failed: ")
        trained = []
        if r.spans is None:
            trained = [text_hash(message_text(m.content, m.tool_calls)) for m in chat.messages
                       if m.role == "assistant" and m.weight != 0]
        h = text_hash(r.text)
        work.append(_ChatWork(chat.id or 0, h, r.text, r.spans,
                              _chat_signature(r.text, r.spans) if r.spans is not None else None, trained))
    wanted = {w.text_hash for w in work} | {w.span_hash for w in work if w.span_hash} | \
        {h for w in work for h in w.trained}
    known = store.token_counts_for(tok, list(wanted))
    for w in work:
        w.counts = known
        if w.text_hash in known and (w.span_hash is None or w.span_hash in known):
            w.text = None
    return work


def _encode_work(counter: Counter, work: list[_ChatWork]) -> dict[bytes, int]:
    """Counts of what the cache did not have: rendered texts (with their trained spans) and the
    texts of trainable messages. Runs on the helper thread."""
    new: dict[bytes, int] = {}
    todo = list({w.text_hash: w for w in work if w.text is not None}.values())  # equal texts once
    with_spans = [w for w in todo if w.spans is not None]
    plain = [w for w in todo if w.spans is None]
    for w, (n, trained) in zip(with_spans, counter.count_spans([w.text or "" for w in with_spans],
                                                               [w.spans or [] for w in with_spans]), strict=True):
        new[w.text_hash] = n
        new[w.span_hash or b""] = trained
    for w, n in zip(plain, counter.count_batch([w.text or "" for w in plain]), strict=True):
        new[w.text_hash] = n
    return new


def _store_chats(store: DatasetStore, counter: Counter, tok: int, result: CountResult, version: int,
                 chats: list[Chat], work: list[_ChatWork], job: Future) -> None:
    new = job.result()
    known = dict(work[0].counts) if work else {}
    known.update(new)
    missing_msgs = {h for w in work for h in w.trained if h not in known}
    if missing_msgs:  # trainable messages not counted by the message pass (it was cancelled)
        texts = {text_hash(message_text(m.content, m.tool_calls)): message_text(m.content, m.tool_calls)
                 for c in chats for m in c.messages}
        miss = sorted(missing_msgs)
        new.update(zip(miss, counter.count_batch([texts[h] for h in miss]), strict=True))
        known.update(new)
    result.rendered += len({w.text_hash for w in work if w.text is not None})
    with store.derived_write():
        keep = work
        if store.data_version() != version:
            # Another connection committed meanwhile: record only chats that render the same now.
            from lima_tk.store import ChatFilter

            now = {c.id: text_hash(render_chat(c, counter).text)
                   for c in store.iter_chats(ChatFilter(ids=[w.chat_id for w in work]), batch=len(work))}
            keep = [w for w in work if now.get(w.chat_id) == w.text_hash]
        store.put_token_counts(tok, sorted(new.items()))
        rows = []
        for w in keep:
            trained = known[w.span_hash] if w.span_hash is not None else sum(known[h] for h in w.trained)
            rows.append((w.chat_id, known[w.text_hash], trained))
        store.set_chat_tokens(tok, rows)
    result.chats += len(work)


def counting_needed(store: DatasetStore) -> bool:
    """Whether a count pass has anything to do: not when every message and chat is counted under
    a key made from the current tokenizer setting. Loads no tokenizer. Any thread."""
    if store.readonly or not store.has_messages():
        return False
    setting = str(store.get_setting("tokenizer") or "")
    key = store.active_token_key()
    # An estimate standing in for a real tokenizer is retried: it may be in the cache by now.
    settled = key is not None and key.setting == setting and (not key.estimate or setting.lower() == ESTIMATE)
    return not (settled and key is not None and store.count_uncounted(key.id) == 0
                and store.count_uncounted_chats(key.id) == 0)


def ensure_counted(store: DatasetStore, download: bool = False, progress: Progress | None = None,
                   cancel: threading.Event | None = None) -> CountResult | None:
    """Count what is missing for the dataset's tokenizer setting; None when nothing was to do.
    Cheap when everything is counted: no tokenizer is loaded (nor `tokenizers` imported)."""
    if not counting_needed(store):
        return None
    setting = store.get_setting("tokenizer")
    key = store.active_token_key()
    # An estimate standing in for a real tokenizer is retried: it may be in the cache by now.
    settled = key is not None and key.setting == setting and (not key.estimate or setting.lower() == ESTIMATE)
    if settled and key is not None and store.count_uncounted(key.id) == 0 and store.count_uncounted_chats(key.id) == 0:
        return None
    counter = load_counter(setting, base_dir=store.path.parent, download=download)
    with frozen_heap():  # the stats board runs this on a worker beside the Tk loop
        return count_dataset(store, counter, progress, cancel)


@dataclass
class ChatCount:
    """Counts of one chat: per message, their sum, the rendered total (template, tool definitions,
    default system prompt) and the overhead that adds to the messages, and the trained tokens."""

    per_message: dict[int, int]
    content: int
    overhead: int
    total: int
    estimate: bool
    limit: int
    trainable: int = 0

    @property
    def over_limit(self) -> bool:
        return bool(self.limit) and self.total > self.limit

    def label(self) -> str:
        """E.g. '~812 / 4096' for the properties panel."""
        mark = "~" if self.estimate else ""
        return f"{mark}{self.total:,} / {self.limit:,}" if self.limit else f"{mark}{self.total:,}"


def count_chat(store: DatasetStore, counter: Counter, chat_id: int) -> ChatCount:
    """Count one chat (its messages and its rendering; cache first): what the editor shows."""
    count_dataset(store, counter, chat_ids=[chat_id], activate=store.active_token_key() is None)
    tok = token_key_id(store, counter)
    per = store.message_token_counts(chat_id, tok)
    content = sum(per.values())
    rendered = store.chat_tokens_of(chat_id, tok)
    if rendered is not None:
        total, trainable = rendered
    else:  # no messages (or a read-only dataset): the message sum and the overhead
        total = content + (counter.overhead_chat + counter.overhead_message * len(per) if per else 0)
        trainable = 0
    limit = int(store.get_setting("context_limit") or 0)
    return ChatCount(per, content, total - content, total, counter.estimate, limit, trainable)


def format_count(n: int | None, estimate: bool = False) -> str:
    """'1,234' or '~1,234' (the list column and the editor); '' for None."""
    return "" if n is None else f"{'~' if estimate else ''}{n:,}"


# -- the chat "as the model sees it" ----------------------------------------------------------


@dataclass
class Rendered:
    text: str
    how: str  # "template" (the tokenizer's Jinja chat template) or "chatml" (the generic layout)
    note: str = ""  # why the template was not used, when it was not
    # Character spans of the trained text: the template's `{% generation %}` blocks (or, in the
    # ChatML layout, the assistant turns) of assistant messages with weight 1 or unset. None when
    # the template has no generation blocks (the trained tokens are then the messages' own).
    spans: list[tuple[int, int]] | None = None
    template: str = ""  # the name of the template used ("default", "tool_use")


def template_messages(chat: Chat) -> tuple[list[dict[str, Any]], list[dict[str, Any]] | None]:
    """Messages and tools as a trainer hands them to `apply_chat_template` (the hf export's rows):
    keys without a value left out (transformers drops None values too), tool-call arguments as
    objects, tools as OpenAI function objects without `strict` (no template reads it, and the hf
    export does not carry it)."""
    msgs = []
    for m in chat.messages:
        d: dict[str, Any] = {"role": m.role, "content": m.content or ""}
        if m.name:
            d["name"] = m.name
        if m.tool_call_id:
            d["tool_call_id"] = m.tool_call_id
        if m.tool_calls:
            d["tool_calls"] = [_template_call(c) for c in m.tool_calls]
        msgs.append(d)
    tools = [_template_tool(t.to_openai()) for t in chat.tools] or None
    return msgs, tools


def _template_call(c: dict[str, Any]) -> dict[str, Any]:
    fn = dict(c.get("function", {}))
    fn["arguments"] = arguments_object(fn.get("arguments"))
    return {"id": c.get("id"), "type": "function", "function": fn}


def _template_tool(t: dict[str, Any]) -> dict[str, Any]:
    fn = {k: v for k, v in t["function"].items() if k != "strict"}
    return {"type": "function", "function": fn}


def arguments_object(args: Any) -> Any:
    """Tool-call arguments as the object templates expect; a string that is not a JSON object is
    kept as it is (a template then shows it as a string)."""
    if not isinstance(args, str):
        return args
    try:
        obj = json.loads(args or "{}")
    except ValueError:
        return args
    return obj if isinstance(obj, dict) else args


def render_chatml(chat: Chat) -> str:
    """The generic ChatML layout (used when there is no template, or jinja2 is missing)."""
    return _chatml(chat)[0]


def _chatml(chat: Chat) -> tuple[str, list[tuple[int, int]]]:
    """ChatML text and the spans of the trainable assistant turns (content, calls and <|im_end|>)."""
    msgs, tools = template_messages(chat)
    weights = [m.weight for m in chat.messages]
    if tools:
        listing = "\n".join(json.dumps(t, ensure_ascii=False) for t in tools)
        block = f"# Tools\n\n<tools>\n{listing}\n</tools>"
        if msgs and msgs[0]["role"] == "system":
            msgs = [{**msgs[0], "content": f"{msgs[0]['content']}\n\n{block}"}, *msgs[1:]]
        else:
            msgs = [{"role": "system", "content": block}, *msgs]
            weights = [None, *weights]
    out: list[str] = []
    spans: list[tuple[int, int]] = []
    pos = 0
    for m, w in zip(msgs, weights, strict=True):
        parts = [m["content"]] if m["content"] else []
        for c in m.get("tool_calls") or ():
            call = {"name": c["function"].get("name"), "arguments": c["function"].get("arguments")}
            parts.append(f"<tool_call>\n{json.dumps(call, ensure_ascii=False)}\n</tool_call>")
        head = f"<|im_start|>{m['role']}\n"
        body = "\n".join(parts) + "<|im_end|>"
        if m["role"] == "assistant" and w != 0:
            spans.append((pos + len(head), pos + len(head) + len(body)))
        piece = head + body + "\n"
        out.append(piece)
        pos += len(piece)
    return "".join(out), spans


def jinja_available() -> bool:
    try:
        import jinja2  # noqa: F401
    except ImportError:
        return False
    return True


def render_chat(chat: Chat, counter: Counter) -> Rendered:
    """The chat as the model sees it: the tokenizer's chat template when it has one and jinja2 is
    importable (a dependency, but a broken install should still count), otherwise ChatML; with
    the spans of the trained text (see `Rendered.spans`)."""
    source = counter.template_for(bool(chat.tools))
    if source is None or not jinja_available():
        text, spans = _chatml(chat)
        return Rendered(text, "chatml", counter.template_note or "the tokenizer has no chat template", spans)
    name = "tool_use" if source is counter.templates.get("tool_use") and chat.tools else "default"
    try:
        text, blocks = _render_jinja(source, chat, counter.special)
    except Exception as e:  # noqa: BLE001 - a template may raise anything (raise_exception)
        text, spans = _chatml(chat)
        return Rendered(text, "chatml", f"the chat template failed: {e}", spans)
    return Rendered(text, "template", spans=_trained_blocks(chat, blocks), template=name)


def _trained_blocks(chat: Chat, blocks: list[tuple[int, int]] | None) -> list[tuple[int, int]] | None:
    """The generation blocks of assistant messages with weight 1 or unset. Templates write one
    block per assistant message, in order; when the numbers differ, every block counts."""
    if blocks is None:
        return None
    weights = [m.weight for m in chat.messages if m.role == "assistant"]
    if len(weights) != len(blocks):
        return blocks
    return [b for b, w in zip(blocks, weights, strict=True) if w != 0]


_GENERATION_RE = re.compile(r"\{%-?\s*generation\s*-?%\}")
_TEMPLATES: dict[str, Any] = {}
_TRACK: Any = None  # contextvars.ContextVar of the (blocks, spans) of the rendering under way


def _compile(source: str) -> Any:
    """A template compiled as transformers compiles chat templates: a sandbox with trim/lstrip
    blocks, loop controls, `{% generation %}` blocks (their body is rendered and its span noted),
    `tojson` without HTML escaping, `raise_exception`, `strftime_now`, `dict`, `namespace`."""
    global _TRACK
    tpl = _TEMPLATES.get(source)
    if tpl is not None:
        return tpl
    from contextvars import ContextVar
    from datetime import datetime

    import jinja2
    from jinja2 import nodes
    from jinja2.ext import Extension
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    if _TRACK is None:
        _TRACK = ContextVar("lima_tk_generation", default=None)
    track = _TRACK

    class Generation(Extension):
        tags = {"generation"}

        def parse(self, parser: Any) -> Any:
            lineno = next(parser.stream).lineno
            body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
            return nodes.CallBlock(self.call_method("_block"), [], [], body).set_lineno(lineno)

        def _block(self, caller: Any) -> str:
            rv = caller()
            state = track.get()
            if state is not None:
                done, spans = state
                start = sum(len(b) for b in done)
                spans.append((start, start + len(rv)))
            return rv

    def raise_exception(message: str) -> None:
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x: Any, ensure_ascii: bool = False, indent: int | None = None, separators: Any = None,
               sort_keys: bool = False) -> str:
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[Generation, "jinja2.ext.loopcontrols"])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    env.globals["dict"] = dict
    tpl = _TEMPLATES[source] = env.from_string(source)
    return tpl


def _render_jinja(source: str, chat: Chat, special: dict[str, str]) -> tuple[str, list[tuple[int, int]] | None]:
    """(text, generation spans or None when the template has no generation blocks)."""
    tpl = _compile(source)
    msgs, tools = template_messages(chat)
    args = {**special, "messages": msgs, "tools": tools, "documents": None, "add_generation_prompt": False}
    if not _GENERATION_RE.search(source):
        return tpl.render(**args), None
    done: list[str] = []
    spans: list[tuple[int, int]] = []
    token = _TRACK.set((done, spans))
    try:
        for block in tpl.generate(**args):
            done.append(block)
    finally:
        _TRACK.reset(token)
    return "".join(done), spans


_CUT = "\ue000lima-continue\ue001"  # private-use characters no template or text contains


def continuation_template(counter: Counter | None) -> Callable[[list[dict[str, Any]], str], str] | None:
    """A prompt renderer for continuing a reply (assist.continue_request's `template`) from the
    tokenizer's own chat template, or None when it has none (the caller then uses ChatML).

    The chat is rendered with the partial reply plus a marker as its last assistant turn, and the
    prompt is cut at the marker: the model sees its own format up to the last written character,
    without the end-of-turn token the template would add."""
    if counter is None or counter.template is None or not jinja_available():
        return None
    template, special = counter.template, counter.special

    def render(history: list[dict[str, Any]], partial: str, tools: list[dict[str, Any]] | None = None) -> str:
        text, _ = _render_jinja(template, _continued_chat(history, partial, tools), special)
        return _cut_at_marker(text)

    return render


def chatml_continuation(history: list[dict[str, Any]], partial: str = "",
                        tools: list[dict[str, Any]] | None = None) -> str:
    """The prompt to continue a reply when there is no chat template: the generic ChatML layout
    the counts use (`render_chatml`: the tool definitions in a `# Tools` block of the system
    turn, calls as `<tool_call>` blocks), cut right after the partial reply."""
    return _cut_at_marker(render_chatml(_continued_chat(history, partial, tools)))


def _continued_chat(history: list[dict[str, Any]], partial: str, tools: list[dict[str, Any]] | None) -> Chat:
    """OpenAI-shape messages (and tools) + the partial reply with the cut marker, as a Chat."""
    msgs = [Message(m["role"], m.get("content"), m.get("name"), m.get("tool_calls"), m.get("tool_call_id"))
            for m in history]
    return Chat(messages=[*msgs, Message("assistant", partial + _CUT)],
                tools=[Tool.from_openai(t) for t in tools or ()])


def _cut_at_marker(text: str) -> str:
    cut = text.rfind(_CUT)
    if cut < 0:
        raise LimaError("the chat template leaves out the reply being continued; use the chat method")
    return text[:cut]


def count_rendered(counter: Counter, chat: Chat, store: DatasetStore | None = None) -> tuple[int, Rendered]:
    """Tokens of the rendered chat (cached by its text when a store is given) and the rendering."""
    r = render_chat(chat, counter)
    if store is None:
        return counter.count(r.text), r
    tok = token_key_id(store, counter)
    h = text_hash(r.text)
    hit = store.token_counts_for(tok, [h])
    if h in hit:
        return hit[h], r
    n = counter.count(r.text)
    if not store.readonly:
        store.put_token_counts(tok, [(h, n)])
    return n, r


def _set_overheads(c: Counter) -> None:
    """Template overhead as `chat + message * n`, measured on probe chats, so list totals and
    the over-limit filter stay plain SQL sums. Zero when the tokenizer has no chat template."""
    if c.template is None or not jinja_available():
        return
    from lima_tk.model import Message

    words = ["Hello", "Hi", "Thanks", "Sure"]
    try:
        sizes = []
        for n in (2, 4):
            chat = Chat(messages=[Message("user" if i % 2 == 0 else "assistant", words[i]) for i in range(n)])
            r = render_chat(chat, c)
            if r.how != "template":
                return
            sizes.append(c.count(r.text) - sum(c.count_batch(words[:n])))
        per_message = max(0, (sizes[1] - sizes[0]) // 2)
        c.overhead_message = per_message
        c.overhead_chat = max(0, sizes[0] - 2 * per_message)
    finally:
        c.encoded = 0  # probes are not dataset work


# -- a worker for the GUI ---------------------------------------------------------------------


_frozen_lock = threading.Lock()
_frozen_depth = 0


@contextmanager
def frozen_heap() -> Iterator[None]:
    """Any thread. While a long count runs beside a UI: `gc.freeze()` the objects that exist
    now (the app, its modules, the tokenizer just loaded) and `gc.unfreeze()` them afterwards.

    A garbage collection runs in C holding the GIL over every tracked object of the process, so
    the counting thread's allocations froze the Tk loop for up to ~140 ms each time they set off
    a full collection (issue 15); frozen objects are skipped. Nothing is collected here (a
    collection on a worker could run Tk finalizers off the Tk thread), and unfreezing at the end
    hands anything that died in a cycle meanwhile back to the collector. Nested or concurrent
    counts unfreeze when the last one ends."""
    global _frozen_depth
    with _frozen_lock:
        _frozen_depth += 1
        gc.freeze()
    try:
        yield
    finally:
        with _frozen_lock:
            _frozen_depth -= 1
            if _frozen_depth == 0:
                gc.unfreeze()


def count_missing(db_path: str | Path, status: Callable[[str], None], progress: Progress | None = None,
                  cancel: threading.Event | None = None, download: bool = True) -> CountResult:
    """Load the dataset's tokenizer and count what is missing, with a store of its own; `status`
    gets "Loading tokenizer …" (and why counts are estimates, when they are). Any thread
    (blocking: the windows run it on a worker)."""
    with DatasetStore(db_path) as store:
        setting = store.get_setting("tokenizer")
        status(f"Loading tokenizer {setting or DEFAULT_TOKENIZER}…")
        counter = load_counter(setting, base_dir=Path(db_path).parent, download=download)
        if counter.estimate:
            status(f"Token counts are estimates: {counter.reason}")
        with frozen_heap():  # beside the Tk loop: no full collections of the app's objects
            return count_dataset(store, counter, progress, cancel)


def start_count_job(db_path: str | Path, events: queue.Queue, cancel: threading.Event | None = None,
                    download: bool = True) -> threading.Thread:
    """Load the dataset's tokenizer and count what is missing on a daemon thread, with its own
    store. Puts ("status", str), ("progress", (done, total)), ("done", CountResult) or
    ("error", str) on `events`; the Tk side drains the queue with after(). Any thread."""

    def run() -> None:
        try:
            result = count_missing(db_path, lambda text: events.put(("status", text)),
                                   lambda d, t: events.put(("progress", (d, t))), cancel, download)
            events.put(("done", result))
        except Exception as e:  # noqa: BLE001 - reported to the UI, never silent
            events.put(("error", str(e) or type(e).__name__))

    t = threading.Thread(target=run, name="lima-tk-tokens", daemon=True)
    t.start()
    return t
