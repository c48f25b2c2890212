"""`lima-tk generate`: fill the next assistant reply of chats that end with a user message.

Worker threads run the requests (`lima_tk.assist.Job`) and hand finished replies back through a
queue; only the main thread touches the store, one short transaction per reply. So whatever has
been generated is on disk when the run stops, be it the end, an error or Ctrl+C (the first
Ctrl+C stops cleanly: in-flight requests are cancelled and their partial text dropped, so the
chats stay pending for the next run; a second Ctrl+C stops at once).
"""

from __future__ import annotations

import os
import queue
import signal
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from lima_tk.errors import LimaError, NotFound

DB_HELP = "Dataset file (default: $LIMA_TK_DB or dataset.lima.db in the user data directory)."


# How often one chat's request is sent again after the server cut its stream or answered
# 429/503 (each time at a lower concurrency, or after the pause the server asked for).
MAX_RETRIES = 8


@dataclass
class _Task:
    chat_id: int
    request: Any  # lima_tk.assist.AssistRequest
    retries: int = 0


@dataclass
class _Run:
    """Main-thread bookkeeping of one `generate` run."""

    total: int
    planned_last: dict[int, int]  # chat id -> id of the user message the reply answers
    names: dict[int, str]
    message_of: dict[int, int] = field(default_factory=dict)  # chat id -> the generated message
    replies: int = 0
    alternatives: int = 0
    truncated: int = 0
    received: int = 0
    failures: dict[int, list[str]] = field(default_factory=lambda: defaultdict(list))
    failure_kinds: set[str] = field(default_factory=set)
    stopped_by: str | None = None
    retried: int = 0  # requests sent again after a cut stream or a 429/503
    limit: Any = None  # the lima_tk.concurrency.AdaptiveLimit of the run


@click.command("generate")
@click.option("--chat", "chat_ids", type=int, multiple=True, help="Only this chat (repeatable).")
@click.option("--tag", default=None, help="Only chats with this tag.")
@click.option("--model", default=None, help="Model name (default: the one in the user settings).")
@click.option("--base-url", default=None, help="Server, e.g. http://127.0.0.1:8080/v1 (default: user settings).")
@click.option("--api-key-env", default=None, metavar="NAME",
              help="Read the API key from this environment variable (default: $OPENAI_API_KEY, else the user "
                   "settings; with none, local servers get a placeholder).")
@click.option("--concurrency", "-j", default=4, show_default=True, type=click.IntRange(1, 256),
              help="Most requests in flight at once. Fewer while the server cuts streams or answers 429/503 "
                   "(then those chats are retried), more again when it keeps up.")
@click.option("--alternatives", "-k", default=1, show_default=True, type=click.IntRange(1, 50),
              help="Replies per chat: the first one back is shown, the others are kept as its alternatives.")
@click.option("--max-tokens", type=click.IntRange(1), default=None, help="Longest reply, in tokens.")
@click.option("--temperature", type=float, default=None, help="Sampling temperature.")
@click.option("--timeout", type=float, default=None, help="Seconds to wait for the server (default: settings).")
@click.option("--retries", type=click.IntRange(0, 10), default=0, show_default=True,
              help="Retries of a request that fails to start (connection errors, 429, 5xx).")
@click.option("--db", "db", type=click.Path(dir_okay=False, path_type=Path), help=DB_HELP)
@click.pass_context
def generate_cmd(ctx: click.Context, chat_ids: tuple[int, ...], tag: str | None, model: str | None,
                 base_url: str | None, api_key_env: str | None, concurrency: int, alternatives: int,
                 max_tokens: int | None, temperature: float | None, timeout: float | None, retries: int,
                 db: Path | None) -> None:
    """Generate the next assistant reply for chats ending with a user message (all such chats, or
    those given by --chat / --tag). Exit code 1 when any chat failed."""
    from lima_tk.assist import AssistConfig, reply_request
    from lima_tk.paths import default_dataset_path
    from lima_tk.store import ChatFilter, DatasetStore

    cfg = AssistConfig.from_settings()
    cfg.model = model or cfg.model
    cfg.base_url = base_url or cfg.base_url
    cfg.max_tokens = max_tokens or cfg.max_tokens
    cfg.temperature = cfg.temperature if temperature is None else temperature
    cfg.timeout = timeout or cfg.timeout
    cfg.max_retries = retries
    if api_key_env:
        key = os.environ.get(api_key_env)
        if not key:
            raise LimaError(f"the environment variable {api_key_env} is not set")
        cfg.api_key, cfg.key_source = key, f"${api_key_env}"

    path = db or (ctx.obj or {}).get("db") or default_dataset_path()
    with DatasetStore(path) as store:
        flt = ChatFilter(tag=tag, ids=list(chat_ids) or None)
        for cid in chat_ids:
            store.get_chat(cid)  # an unknown id is an error before anything is sent
        pending, skipped = _pending(store, flt)
        for cid in skipped if chat_ids else []:
            click.echo(f"chat {cid}: does not end with a user message; skipped", err=True)
        if not pending:
            click.echo("nothing to generate: no chat ends with a user message")
            return
        tasks: queue.Queue[_Task] = queue.Queue()
        names: dict[int, str] = {}
        for cid in pending:
            chat = store.get_chat(cid)
            names[cid] = chat.name
            request = reply_request(chat)
            for _ in range(alternatives):
                tasks.put(_Task(cid, request))
        run = _Run(total=tasks.qsize(), planned_last=pending, names=names)
        _execute(store, cfg, tasks, run, concurrency)
    _report(run, alternatives, concurrency)
    if run.stopped_by == "interrupt":
        sys.exit(130)
    if run.failures:
        sys.exit(1)


def _pending(store: Any, flt: Any) -> tuple[dict[int, int], list[int]]:
    """({chat id: id of its last message} for chats ending with a user message, [other chat ids])."""
    rows = store.last_messages(flt)
    pending = {cid: mid for cid, mid, role in rows if role == "user"}
    return pending, [cid for cid, _, role in rows if role != "user"]


def _execute(store: Any, cfg: Any, tasks: queue.Queue[_Task], run: _Run, concurrency: int) -> None:
    """Worker threads run the requests under an AdaptiveLimit (lima_tk/concurrency.py): a stream
    cut while others ran, or a 429/503, lowers the concurrency and the chat is sent again; only
    final outcomes come back to this (the main) thread, which alone writes the store."""
    from lima_tk.assist import AssistError, Job
    from lima_tk.concurrency import RETRY, UNUSED, AdaptiveLimit, classify

    results: queue.Queue[tuple[int, Any]] = queue.Queue()
    stop = threading.Event()
    lock = threading.Lock()
    in_flight: set[Job] = set()
    limit = run.limit = AdaptiveLimit(concurrency)
    finished = 0  # tasks with a final outcome (workers end when every task has one)
    started = 0

    def worker() -> None:
        nonlocal finished, started
        while not stop.is_set():
            try:
                task = tasks.get(timeout=0.05)
            except queue.Empty:
                with lock:
                    if finished >= run.total:
                        return
                continue
            slot = None
            while slot is None and not stop.is_set():
                slot = limit.acquire(stop, timeout=0.2)
            if slot is None:
                return
            with lock:
                if stop.is_set():
                    limit.release(slot, UNUSED)
                    return
                started += 1
                job = Job(cfg, task.request, events=None)
                in_flight.add(job)
            try:
                out: Any = job.run()
            except AssistError as e:
                out = e
            with lock:
                in_flight.discard(job)
            outcome = UNUSED if getattr(out, "cancelled", False) else classify(out, slot)
            limit.release(slot, outcome, getattr(out, "retry_after", None))
            if outcome in RETRY and task.retries < MAX_RETRIES and not stop.is_set():
                task.retries += 1
                with lock:
                    run.retried += 1
                tasks.put(task)  # sent again once the limit lets it (its partial text is dropped)
                continue
            with lock:
                finished += 1
            results.put((task.chat_id, out))

    interrupted = threading.Event()
    previous = _install_sigint(interrupted)
    threads = [threading.Thread(target=worker, name=f"lima-generate-{i}", daemon=True)
               for i in range(min(concurrency, run.total))]
    for t in threads:
        t.start()
    progress = _Progress(run, in_flight)
    try:
        while run.received < run.total:
            if interrupted.is_set() and run.stopped_by is None:
                run.stopped_by = "interrupt"
                with lock:
                    stop.set()
                    jobs = list(in_flight)
                for job in jobs:
                    job.cancel()  # their partial replies come back as cancelled and are dropped
            # Stopped: once every worker has ended no result can come any more (threads first,
            # then the queue, so a result put by a worker just before it ended is still saved).
            if stop.is_set() and not any(t.is_alive() for t in threads) and results.empty():
                break
            try:
                chat_id, out = results.get(timeout=0.1)
            except queue.Empty:
                progress.show()
                continue
            run.received += 1
            _save(store, cfg, run, chat_id, out)
            if isinstance(out, AssistError) and out.kind in AssistError.FATAL and run.stopped_by is None:
                run.stopped_by = out.message  # every other request would fail the same way
                stop.set()
            progress.show()
    finally:
        _restore_sigint(previous)
        progress.end()
        with lock:  # on any way out, nothing keeps running behind our back
            stop.set()
            jobs = list(in_flight)
        for job in jobs:
            job.cancel()
        deadline = time.monotonic() + 2
        for t in threads:
            t.join(timeout=max(0.0, deadline - time.monotonic()))


def _save(store: Any, cfg: Any, run: _Run, chat_id: int, out: Any) -> None:
    """Main thread only: write one finished reply (one transaction, one undo step)."""
    from lima_tk.assist import AssistError

    if isinstance(out, AssistError):
        run.failures[chat_id].append(out.message)
        run.failure_kinds.add(out.kind)
        return
    if out.cancelled:
        return
    content = out.text if (out.text or not out.tool_calls) else None
    model = out.model or cfg.model
    try:
        mid = run.message_of.get(chat_id)
        if mid is None:
            if store.last_message_id(chat_id) != run.planned_last[chat_id]:
                run.failures[chat_id].append("the chat changed while its reply was generated; reply not saved")
                return
            with store.change("Generate reply", "generate"):
                mid = store.add_message(chat_id, "assistant", content, tool_calls=out.tool_calls,
                                        source="generated", model=model, finish=out.finish)
            run.message_of[chat_id] = mid
        else:
            store.add_alternative(mid, content, out.tool_calls, model, out.finish, show=False)
            run.alternatives += 1
    except NotFound:
        run.failures[chat_id].append("the chat was deleted while its reply was generated")
        return
    except LimaError as e:
        run.failures[chat_id].append(f"could not save the reply: {e}")
        return
    run.replies += 1
    run.truncated += out.finish == "length"


class _Progress:
    """A `\\r` progress line on stderr when it is a terminal (at most 10 updates a second)."""

    def __init__(self, run: _Run, in_flight: set[Any]) -> None:
        self.run = run
        self.in_flight = in_flight
        self.tty = sys.stderr.isatty()
        self.last = 0.0
        self.shown = False

    def show(self) -> None:
        now = time.monotonic()
        if not self.tty or now - self.last < 0.1:
            return
        self.last = now
        r = self.run
        failed = sum(len(v) for v in r.failures.values())
        lim = f" (at most {r.limit.limit})" if r.limit is not None and r.limit.limit < r.limit.ceiling else ""
        click.echo(f"\rgenerating: {r.received}/{r.total} done, {len(self.in_flight)} in flight{lim}, "
                   f"{failed} failed ", err=True, nl=False)
        self.shown = True

    def end(self) -> None:
        if self.shown:
            click.echo("", err=True)


def _report(run: _Run, alternatives: int, concurrency: int) -> None:
    chats = len(run.message_of)
    extra = f" ({run.alternatives} kept as alternatives)" if alternatives > 1 else ""
    click.echo(f"generated {run.replies} replies for {chats} chat{'s' if chats != 1 else ''}{extra}")
    _report_concurrency(run)
    if run.truncated:
        click.echo(f"  {run.truncated} replies stopped at the token limit (finish: length)", err=True)
    if run.stopped_by == "interrupt":
        left = len(run.planned_last) - chats
        click.echo(f"interrupted: everything generated so far is saved; {left} chats still wait for a reply "
                   "(run again to fill them)", err=True)
    elif run.stopped_by:
        left = len(run.planned_last) - chats - len(run.failures)
        click.echo(f"stopped early: {run.stopped_by}" + (f"; {left} chats not tried" if left > 0 else ""), err=True)
    if run.failures:
        click.echo(f"failed: {len(run.failures)} chat{'s' if len(run.failures) != 1 else ''}", err=True)
        by_message: dict[str, list[int]] = defaultdict(list)
        for cid, messages in run.failures.items():
            for m in dict.fromkeys(messages):
                by_message[m].append(cid)
        for message, ids in by_message.items():
            if len(ids) <= 3:
                for cid in ids:
                    click.echo(f"  chat {cid} {run.names.get(cid, '')!r}: {message}", err=True)
            else:
                shown = ", ".join(map(str, ids[:5])) + (", …" if len(ids) > 5 else "")
                click.echo(f"  {len(ids)} chats ({shown}): {message}", err=True)


def _report_concurrency(run: _Run) -> None:
    """One stderr line when the server made the run slow down: why, how low, where it ended."""
    if run.limit is None:
        return
    st = run.limit.stats()
    if not (st.decreases or st.cuts or st.busy):
        return
    why = []
    if st.cuts:
        why.append(f"cut {st.cuts} stream{'s' if st.cuts != 1 else ''} while others ran")
    if st.busy:
        why.append(f"answered {st.busy} request{'s' if st.busy != 1 else ''} with 429/503")
    waited = f", waited {st.waited:.1f} s as asked" if st.waited >= 0.05 else ""
    click.echo(f"concurrency: the server {' and '.join(why)}; lowered from {st.ceiling} to {st.lowest}"
               f"{waited}, {st.limit} at the end; {run.retried} request{'s' if run.retried != 1 else ''} "
               "sent again", err=True)


def _install_sigint(flag: threading.Event) -> Any:
    """First Ctrl+C sets `flag` (a clean stop); a second one interrupts at once."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum: int, frame: Any) -> None:
        if flag.is_set():
            signal.default_int_handler(signum, frame)
        flag.set()
        click.echo("\nstopping: saving what is done, cancelling the rest (Ctrl+C again to quit now)", err=True)

    return signal.signal(signal.SIGINT, handler)


def _restore_sigint(previous: Any) -> None:
    if previous is not None:
        signal.signal(signal.SIGINT, previous)
