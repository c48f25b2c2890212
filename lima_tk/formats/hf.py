"""Hugging Face dataset folder (`--format hf OUT_DIR`): `data/train.jsonl` (+ `data/test.jsonl`)
and a `README.md` dataset card whose YAML names the files (`configs:`) and declares the features,
so `datasets.load_dataset(OUT_DIR)` (or the Hub, after `--push`) loads it without casting errors.

Two configurations, each file with one schema (issue 11): `default` holds the plain chats
(`data/train.jsonl`: `id`, `name`, `language`, `tags`, `messages` of `role` and `content` only), and
`tools` the chats with tools, tool calls or message names (`data/tools-train.jsonl`: messages also
have `name`, `tool_calls`, `tool_call_id`, null when not set, and the row has `tools`). So
Llama-3.1's `'tool_calls' in message` test sees no empty `tool_calls` on plain chats.

Tool-call `arguments` and tool `parameters` are JSON objects (option `tool_args=object`, the
default: what transformers' chat templates expect, declared as the `Json` feature, datasets >= 4.7)
or JSON strings (`tool_args=string`: loads with older datasets, but a template then shows the
escaped string). A tool's `strict` flag is not written (no template reads it; listed as lossy).

Options: `test_ratio` (0..1) with `seed` (default 0), or `test_tag` (chats with that tag form the
test split); `training_flag` adds a per-message `training` boolean (assistant messages with weight
unset or 1: true; the rest false); without it, replies marked "no train" follow `weight0` (see
formats/weights.py).

The folder is written to a temporary folder beside the target and renamed into place; an
existing target is replaced only when it is empty or an earlier export of this kind.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import statistics
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lima_tk import __version__
from lima_tk.errors import LimaError, ValidationError
from lima_tk.fileio import check_target, fsync_dir, lock_temp, real_target, sweep_stale, temp_path
from lima_tk.formats.base import Cancelled, ExportReport, Progress, WriteContext, chats_to_write
from lima_tk.formats.weights import apply_weight0
from lima_tk.model import Chat, Message
from lima_tk.store.files import contains_dataset
from lima_tk.tokens import arguments_object

if TYPE_CHECKING:
    from lima_tk.store import ChatFilter, DatasetStore

MARKER = "<!-- written by lima-tk (hf export) -->"
_LANG_CODE = re.compile(r"^[a-z]{2,3}$")


def is_plain(chat: Chat) -> bool:
    """A chat that the plain schema holds: no tools, tool calls, tool messages or message names."""
    return not chat.tools and not any(m.tool_calls or m.role == "tool" or m.name or m.tool_call_id
                                      for m in chat.messages)


def _json_value(value: Any, as_object: bool) -> Any:
    if value is None:
        return None
    if as_object:
        return arguments_object(value) if isinstance(value, str) else value
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def message_row(m: Message, training_flag: bool, plain: bool = False, as_object: bool = True) -> dict[str, Any]:
    row: dict[str, Any] = {"role": m.role, "content": m.content or ""}
    if not plain:
        calls = None
        if m.tool_calls:
            calls = []
            for tc in m.tool_calls:
                fn = tc.get("function") or {}
                calls.append({"id": tc.get("id"), "type": "function", "function": {
                    "name": fn.get("name"), "arguments": _json_value(fn.get("arguments") or "{}", as_object)}})
        row.update({"name": m.name, "tool_calls": calls, "tool_call_id": m.tool_call_id})
    if training_flag:
        row["training"] = m.role == "assistant" and m.weight != 0
    return row


def chat_row(chat: Chat, training_flag: bool = False, as_object: bool = True) -> dict[str, Any]:
    plain = is_plain(chat)
    row = {
        "id": chat.uid,
        "name": chat.name,
        "language": chat.language,
        "tags": list(chat.tags),
        "messages": [message_row(m, training_flag, plain, as_object) for m in chat.messages],
    }
    if not plain:
        row["tools"] = [{"type": "function", "function": {
            "name": t.name, "description": t.description, "parameters": _json_value(t.parameters, as_object)}}
            for t in chat.tools]
    return row


def features_yaml(training_flag: bool, plain: bool = False, as_object: bool = True) -> str:
    """The `dataset_info.features` block of one configuration, matching `chat_row` exactly."""
    training = "\n    - name: training\n      dtype: bool" if training_flag else ""
    head = """  features:
  - name: id
    dtype: string
  - name: name
    dtype: string
  - name: language
    dtype: string
  - name: tags
    sequence: string
  - name: messages
    list:
    - name: role
      dtype: string
    - name: content
      dtype: string"""
    if plain:
        return head + training
    jtype = "json" if as_object else "string"
    return head + f"""
    - name: name
      dtype: string
    - name: tool_calls
      list:
      - name: id
        dtype: string
      - name: type
        dtype: string
      - name: function
        struct:
        - name: name
          dtype: string
        - name: arguments
          dtype: {jtype}
    - name: tool_call_id
      dtype: string{training}
  - name: tools
    list:
    - name: type
      dtype: string
    - name: function
      struct:
      - name: name
        dtype: string
      - name: description
        dtype: string
      - name: parameters
        dtype: {jtype}"""


def _q(s: str) -> str:
    """A YAML double-quoted scalar (a JSON string is one)."""
    return json.dumps(s, ensure_ascii=False)


def _size_category(n: int) -> str:
    for hi, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if n < hi:
            return label
    return "1M<n<10M"


def _options(ctx: WriteContext) -> tuple[float, int, str | None, bool]:
    o = ctx.options
    try:
        ratio = float(o.get("test_ratio") or 0)
        seed = int(o.get("seed") or 0)
    except (TypeError, ValueError):
        raise ValidationError("test_ratio must be a number and seed a whole number") from None
    if not 0 <= ratio < 1:
        raise ValidationError(f"test_ratio must be at least 0 and below 1, got {ratio}")
    tag = o.get("test_tag") or None
    if tag and ratio:
        raise ValidationError("give a test split by ratio or by tag, not both")
    flag = o.get("training_flag", False)
    if isinstance(flag, str):
        flag = flag.lower() in ("1", "true", "yes", "on")
    if str(o.get("tool_args") or "object") not in ("object", "string"):
        raise ValidationError(f"tool_args must be 'object' or 'string', got {o.get('tool_args')!r}")
    return ratio, seed, tag, bool(flag)


def _check_target(out: Path, dataset: Path | None = None) -> None:
    check_target(out, dataset)
    inside = contains_dataset(out, dataset)
    if inside is not None:
        raise LimaError(f"{out}: the folder holds the dataset {inside}; an export replaces the whole folder: "
                        "choose another folder")
    if out.exists() and not out.is_dir():
        raise LimaError(f"{out}: is a file; the hf format writes a folder (give a folder name)")
    if out.is_dir() and any(out.iterdir()):
        readme = out / "README.md"
        ours = readme.is_file() and MARKER in readme.read_text(encoding="utf-8", errors="replace")
        if not ours:
            raise LimaError(f"{out}: the folder is not empty and not an earlier lima-tk hf export; "
                            "choose a new or empty folder")
        # The old folder is replaced whole: anything in it that an export did not write (a git
        # clone's .git, the user's notes, another split) would be deleted with it. Refuse instead.
        theirs = _foreign(out)
        if theirs:
            shown = ", ".join(theirs[:3]) + (f" and {len(theirs) - 3} more" if len(theirs) > 3 else "")
            raise LimaError(f"{out}: holds files that are not from lima-tk ({shown}); nothing was changed: "
                            "choose a new or empty folder, or move them out first")
    if not out.parent.is_dir():
        raise LimaError(f"{out}: cannot write (no folder {out.parent})")


# Every file name an hf export may write under data/ (both configurations, both splits).
DATA_FILES = ("train.jsonl", "test.jsonl", "tools-train.jsonl", "tools-test.jsonl")


def _foreign(out: Path) -> list[str]:
    """What is in an earlier export folder besides README.md and the data files an export writes."""
    theirs = [p.name for p in out.iterdir() if p.name not in ("README.md", "data")]
    data = out / "data"
    if data.is_symlink() or (data.exists() and not data.is_dir()):
        theirs.append("data")
    elif data.is_dir():
        theirs += [f"data/{p.name}" for p in data.iterdir()
                   if p.name not in DATA_FILES or p.is_symlink() or not p.is_file()]
    return sorted(theirs)


def export_folder(
    store: DatasetStore,
    out_path: str | os.PathLike[str],
    chat_filter: ChatFilter | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    options: dict[str, Any] | None = None,
    skip_problems: bool = False,
) -> ExportReport:
    report = ExportReport(str(out_path), "hf")
    ctx = WriteContext(report, options)
    ratio, seed, test_tag, training_flag = _options(ctx)
    _check_target(Path(out_path), Path(store.path))
    out = real_target(out_path)  # through a symlink: the folder it points to is replaced
    total = store.count_chats(chat_filter)
    test_ids: set[int] = set()
    if ratio:
        ids = store.chat_ids(chat_filter)
        k = min(len(ids) - 1, max(1, round(len(ids) * ratio))) if len(ids) > 1 else 0
        test_ids = set(random.Random(seed).sample(ids, k))
    if cancel is not None and cancel.is_set():
        raise Cancelled("cancelled")
    sweep_stale(out, (".tmp", ".old"))  # what killed exports left behind
    tmp = temp_path(out)
    try:
        (tmp / "data").mkdir(parents=True)
        lock_fd = os.open(tmp, os.O_RDONLY)
    except OSError as e:
        raise LimaError(f"{out}: cannot write ({e.strerror or e})") from None
    lock_temp(lock_fd)  # a live export: another export's sweep leaves this folder alone
    as_object = str(ctx.options.get("tool_args") or "object") == "object"
    # (config, split) -> file stem: data/train.jsonl, data/tools-train.jsonl, ...
    parts = [(c, sp) for c in ("default", "tools") for sp in ("train", "test")]
    stem = {(c, sp): sp if c == "default" else f"tools-{sp}" for c, sp in parts}
    stats: dict[tuple[str, str], dict[str, Any]] = {
        p: {"chats": 0, "messages": 0, "ids": [], "languages": {}, "tags": {}} for p in parts}
    try:
        files = {p: open(tmp / "data" / f"{stem[p]}.jsonl", "w", encoding="utf-8", newline="\n") for p in parts}
        try:
            dumps = json.JSONEncoder(ensure_ascii=False).encode
            if progress is not None:
                progress(0, total)
            strict = 0
            for chat in chats_to_write(store, chat_filter, ctx, total, progress, cancel, skip_problems):
                if not training_flag:
                    chat = apply_weight0(chat, ctx, "hf")
                    if chat is None:
                        continue
                split = "test" if (chat.id in test_ids or (test_tag and test_tag in chat.tags)) else "train"
                part = ("default" if is_plain(chat) else "tools", split)
                try:
                    files[part].write(dumps(chat_row(chat, training_flag, as_object)) + "\n")
                except (ValueError, TypeError, UnicodeError) as e:  # name the chat, never die silently
                    ctx.skip(chat, "cannot be written (a lone UTF-16 surrogate in its text)"
                             if isinstance(e, UnicodeEncodeError) else f"cannot be written ({str(e)[:200]})")
                    continue
                strict += sum(1 for t in chat.tools if t.strict is not None)
                s = stats[part]
                s["chats"] += 1
                s["messages"] += len(chat.messages)
                s["ids"].append(chat.id)
                lang = chat.language or "(none)"
                s["languages"][lang] = s["languages"].get(lang, 0) + 1
                for t in chat.tags:
                    s["tags"][t] = s["tags"].get(t, 0) + 1
            if strict:
                ctx.warn(f"the `strict` flag of {strict} tool definitions is not written (no chat template reads it; "
                         "the openai export keeps it)")
            for f in files.values():
                f.flush()
                os.fsync(f.fileno())
        finally:
            for f in files.values():
                f.close()
        # Every config with rows lists its train split (even when empty) and a test split with rows.
        configs = [c for c in ("default", "tools") if stats[c, "train"]["chats"] or stats[c, "test"]["chats"]]
        configs = configs or ["default"]
        written = [(c, sp) for c in configs for sp in ("train", "test") if sp == "train" or stats[c, sp]["chats"]]
        for p in parts:
            if p in written:
                stats[p]["bytes"] = (tmp / "data" / f"{stem[p]}.jsonl").stat().st_size
            else:
                (tmp / "data" / f"{stem[p]}.jsonl").unlink()
        card = dataset_card(store, out.name, written, stats, training_flag, ctx, stem, as_object)
        with open(tmp / "README.md", "w", encoding="utf-8", newline="\n") as f:
            f.write(card)
            f.flush()
            os.fsync(f.fileno())  # like the data files: whole on disk before the folder is renamed in
        _replace(tmp, out)
    except BaseException as e:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(e, OSError):
            raise LimaError(f"{out}: cannot write ({e.strerror or e})") from e
        raise
    finally:
        os.close(lock_fd)
    fsync_dir(out.parent)
    splits = written
    report.chats = sum(stats[s]["chats"] for s in splits)
    report.messages = sum(stats[s]["messages"] for s in splits)
    report.rows = report.chats
    report.files = ["README.md", *(f"data/{stem[p]}.jsonl" for p in splits)]
    report.warnings += ctx.warnings.lines()
    if progress is not None:
        progress(total, total)
    return report


def _replace(tmp: Path, out: Path) -> None:
    """Put the new folder in place: a rename when the target is new; else the old one is moved
    aside first (a rename too) and deleted after. Files that replace earlier ones keep their
    mode (a 0600 export stays 0600); new ones get the umask's."""
    for f in [*(tmp / "data").iterdir(), tmp / "README.md", tmp / "data", tmp]:
        rel = f.relative_to(tmp)
        try:
            mode = os.stat(out / rel).st_mode & 0o7777
        except OSError:
            mode = (0o777 if f.is_dir() else 0o666) & ~_umask()
        os.chmod(f, mode)
    if not out.exists():
        os.rename(tmp, out)
        return
    old = temp_path(out, ".old")
    os.rename(out, old)
    try:
        os.rename(tmp, out)
    except OSError:
        os.rename(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _token_section(store: DatasetStore, ids: list[int]) -> list[str]:
    key = store.active_token_key()
    if key is None:
        return ["Token counts: not counted yet (run `lima-tk tokens`)."]
    totals = store.chat_token_totals(ids, key)
    values = [t.total for t in totals.values()]
    trainable = sum(t.trainable for t in totals.values())
    uncounted = sum(1 for t in totals.values() if t.uncounted)
    if not values:
        return ["Token counts: none."]
    limit = int(store.get_setting("context_limit") or 0)
    mark = "~" if key.estimate else ""
    name = key.setting or "the default tokenizer"
    lines = [
        f"Tokens ({'estimates, ' if key.estimate else ''}tokenizer `{name}`; each chat rendered with the chat "
        "template, tool definitions included):",
        "",
        "| total | min | median | mean | max | over the limit |",
        "|---:|---:|---:|---:|---:|---:|",
        f"| {mark}{sum(values):,} | {mark}{min(values):,} | {mark}{int(statistics.median(values)):,} | "
        f"{mark}{round(statistics.fmean(values)):,} | {mark}{max(values):,} | "
        f"{sum(v > limit for v in values) if limit else '-'}{f' (limit {limit:,})' if limit else ''} |",
    ]
    lines += ["", f"Trainable tokens (replies not marked \"no train\"): {mark}{trainable:,}."]
    if uncounted:
        lines += ["", f"{uncounted:,} chats were not counted since their last change; their numbers are estimates."]
    return lines


def dataset_card(store: DatasetStore, title: str, parts: list[tuple[str, str]], stats: dict[tuple[str, str], Any],
                 training_flag: bool, ctx: WriteContext, stem: dict[tuple[str, str], str],
                 as_object: bool = True) -> str:
    n = sum(stats[p]["chats"] for p in parts)
    langs: dict[str, int] = {}
    tags: dict[str, int] = {}
    for p in parts:
        for k, v in stats[p]["languages"].items():
            langs[k] = langs.get(k, 0) + v
        for k, v in stats[p]["tags"].items():
            tags[k] = tags.get(k, 0) + v
    configs = list(dict.fromkeys(c for c, _ in parts))
    y = ["---", "configs:"]
    for c in configs:
        y += [f"- config_name: {c}", "  data_files:"]
        for cc, sp in parts:
            if cc == c:
                y += [f"  - split: {sp}", f"    path: {_q(f'data/{stem[cc, sp]}.jsonl')}"]
    y += ["dataset_info:"]
    for c in configs:
        y += [f"- config_name: {c}", features_yaml(training_flag, c == "default", as_object), "  splits:"]
        for cc, sp in parts:
            if cc == c:
                y += [f"  - name: {sp}", f"    num_bytes: {stats[cc, sp]['bytes']}",
                      f"    num_examples: {stats[cc, sp]['chats']}"]
    codes = sorted(k for k in langs if _LANG_CODE.match(k))
    if codes:
        y += ["language:", *(f"- {_q(c)}" for c in codes)]
    y += ["task_categories:", "- text-generation", "tags:", "- lima-tk", "- conversational",
          f"size_categories:\n- {_size_category(n)}", "---", ""]
    loads = [f"ds = load_dataset({_q('path/to/' + title)})  # this folder, or \"user/name\" once uploaded"]
    if "tools" in configs and "default" in configs:
        loads.append(f"tool_chats = load_dataset({_q('path/to/' + title)}, \"tools\")  # chats with tools")
    args = ("JSON objects (the `Json` feature: datasets >= 4.7; export with tool_args=string for an older one)"
            if as_object
            else "JSON strings (`json.loads` them)")
    body = [
        f"# {title}",
        "",
        MARKER,
        f"Chat dataset exported by lima-tk {__version__}: {n:,} chats, "
        f"{sum(stats[p]['messages'] for p in parts):,} messages.",
        "",
        "```python",
        "from datasets import load_dataset",
        "",
        *loads,
        "```",
        "",
        "| config | split | file | chats | messages |",
        "|---|---|---|---:|---:|",
        *(f"| {c} | {sp} | data/{stem[c, sp]}.jsonl | {stats[c, sp]['chats']:,} | {stats[c, sp]['messages']:,} |"
          for c, sp in parts),
        "",
        "Rows: `id`, `name`, `language`, `tags`, `messages`. In `default` (chats without tools) a message is "
        "`role` and `content`" + (" and `training`" if training_flag else "") + "; in `tools` it also has `name`, "
        "`tool_calls` and `tool_call_id` (null when not set) and the row has `tools`. Tool-call `arguments` and "
        f"tool `parameters` are {args}.",
    ]
    if training_flag:
        body += ["", "`training` marks the messages to train on (assistant messages whose weight is not 0)."]
    body += ["", "## Languages", "", "| language | chats |", "|---|---:|"]
    body += [f"| {k} | {v:,} |" for k, v in sorted(langs.items(), key=lambda kv: (-kv[1], kv[0]))]
    if tags:
        body += ["", "## Tags", "", "| tag | chats |", "|---|---:|"]
        body += [f"| {k} | {v:,} |" for k, v in sorted(tags.items(), key=lambda kv: (-kv[1], kv[0]))]
    body += ["", "## Tokens", "", *_token_section(store, [i for p in parts for i in stats[p]["ids"]])]
    if ctx.report.skipped:
        body += ["", f"{ctx.report.skipped:,} chats were left out: "
                 + ", ".join(f"{k} ({v:,})" for k, v in ctx.report.skipped_reasons.items()) + "."]
    return "\n".join(y + body) + "\n"


# -- upload ------------------------------------------------------------------------------------


def push_folder(folder: str | os.PathLike[str], repo_id: str, private: bool = False) -> str:
    """Upload an exported folder to a dataset repository on the Hugging Face Hub (created when
    missing). Needs `huggingface_hub` (`pip install 'lima-tk[hub]'`) and a login. Returns its URL."""
    try:
        import huggingface_hub
    except ImportError:
        raise LimaError("--push needs huggingface_hub: pip install 'lima-tk[hub]' (or huggingface_hub)") from None
    if not re.match(r"^[\w.-]+/[\w.-]+$", repo_id):
        raise ValidationError(f"a repository id looks like user/name, got {repo_id!r}")
    token = huggingface_hub.get_token()
    if not token:
        raise LimaError("not logged in to the Hugging Face Hub: run `hf auth login` (or set HF_TOKEN), then retry")
    api = huggingface_hub.HfApi(token=token)
    try:
        api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        api.upload_folder(folder_path=str(folder), repo_id=repo_id, repo_type="dataset",
                          commit_message="Upload dataset exported by lima-tk")
    except Exception as e:  # noqa: BLE001 - network, auth, permissions: one clear line
        raise LimaError(f"upload to {repo_id} failed: {e}") from e
    return f"https://huggingface.co/datasets/{repo_id}"
