"""How many requests to send one server at once: additive increase, multiplicative decrease (AIMD),
as HTTP clients do (issue 15). No tkinter, no openai: plain data and one lock.

Servers people run at home often serve one request at a time: llama-cpp-python's server cuts the
stream that is running when a second request arrives (it ends with `[DONE]` and no finish
reason); others answer 429 or 503 while they are busy. An `AdaptiveLimit` starts at the caller's
ceiling (`--concurrency`), halves the limit when the server shows it is overloaded (once per
overload: the requests that were already running when it halved do not halve it again), never
below the floor, waits what the server asks (`Retry-After`) or backs off exponentially after a
429/503, and grows by one again after a run of successes (each overload at a level doubles the
run it takes to try that level again, so a one-at-a-time server is probed rarely). The caller
retries the request that was cut or refused.

Use (any thread; the GUI's Tk thread uses only the non-blocking calls):

    limit = AdaptiveLimit(ceiling=4)
    slot = limit.acquire(cancel)           # worker: blocks until a request may start
    slot = limit.try_acquire()             # Tk thread: None now, try again in limit.wait_time() s
    ... run the request; `slot.overlapped` says whether another ran at the same time ...
    outcome = classify(error_or_None, slot) # "ok", "cut", "busy" or "failed"
    limit.release(slot, outcome, retry_after=getattr(error, "retry_after", None))
    if outcome in RETRY: run it again (the caller bounds the attempts)

`shared_limit(base_url, ceiling)` gives every caller in the process the same limit per server, so
several chat windows generating at once share what the server can take.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

OK = "ok"  # the request completed
CUT = "cut"  # its stream was cut while another request ran (llama-cpp-python's way)
BUSY = "busy"  # the server answered 429 or 503: too many requests
FAILED = "failed"  # any other failure: not the server's load, the limit stays
UNUSED = "unused"  # the slot was not used (cancelled before the request started)
RETRY = (CUT, BUSY)  # outcomes whose request is worth sending again
BUSY_STATUSES = (429, 503)


@dataclass(eq=False)
class Slot:
    """One request in flight. `overlapped`: another request was in flight at some moment of
    this one's life (a stream cut while alone is not the server's load)."""

    epoch: int
    started: float
    overlapped: bool = False


@dataclass
class LimitStats:
    """What a run reached, for its report."""

    ceiling: int
    limit: int
    lowest: int
    decreases: int = 0
    increases: int = 0
    cuts: int = 0
    busy: int = 0
    waited: float = 0.0  # seconds new requests were held back after a 429/503


@dataclass
class AdaptiveLimit:
    """AIMD limit of requests in flight to one server. Every method: any thread."""

    ceiling: int
    floor: int = 1
    base_backoff: float = 0.25  # first pause after a 429/503 without Retry-After, doubled each time
    max_backoff: float = 8.0
    patience: int = 4  # successes in a row before the limit grows by one (doubles per overload)
    max_patience: int = 256
    clock: Callable[[], float] = time.monotonic
    limit: int = field(init=False)
    _stats: LimitStats = field(init=False)
    _in_flight: set[Slot] = field(init=False, default_factory=set)
    _cond: threading.Condition = field(init=False, default_factory=threading.Condition)
    _epoch: int = field(init=False, default=0)
    _successes: int = field(init=False, default=0)
    _hold_until: float = field(init=False, default=0.0)
    _backoffs: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        if self.ceiling < 1 or not 1 <= self.floor <= self.ceiling:
            raise ValueError(f"need 1 <= floor <= ceiling, got floor {self.floor}, ceiling {self.ceiling}")
        self.limit = self.ceiling
        self._stats = LimitStats(self.ceiling, self.ceiling, self.ceiling)

    # -- taking and giving back slots ----------------------------------------------------------

    @property
    def in_flight(self) -> int:
        with self._cond:
            return len(self._in_flight)

    def wait_time(self) -> float:
        """Seconds until a new request may start because of a server's pause (0: none); a full
        limit is not counted (a slot frees when a request ends)."""
        with self._cond:
            return max(0.0, self._hold_until - self.clock())

    def try_acquire(self) -> Slot | None:
        """A slot now, or None (the limit is reached, or the server asked for a pause)."""
        with self._cond:
            return self._take()

    def acquire(self, cancel: threading.Event | None = None, timeout: float | None = None) -> Slot | None:
        """Block until a request may start; None when `cancel` is set or `timeout` passes."""
        deadline = None if timeout is None else self.clock() + timeout
        with self._cond:
            while True:
                if cancel is not None and cancel.is_set():
                    return None
                slot = self._take()
                if slot is not None:
                    return slot
                wait = 0.05
                hold = self._hold_until - self.clock()
                if hold > 0:
                    wait = min(wait, hold)
                if deadline is not None:
                    left = deadline - self.clock()
                    if left <= 0:
                        return None
                    wait = min(wait, left)
                self._cond.wait(wait)

    def _take(self) -> Slot | None:
        now = self.clock()
        if len(self._in_flight) >= self.limit or now < self._hold_until:
            return None
        slot = Slot(self._epoch, now)
        if self._in_flight:
            slot.overlapped = True
            for other in self._in_flight:
                other.overlapped = True
        self._in_flight.add(slot)
        return slot

    def release(self, slot: Slot, outcome: str, retry_after: float | None = None) -> None:
        """Give a slot back with how its request ended (OK, CUT, BUSY, FAILED or UNUSED)."""
        with self._cond:
            self._in_flight.discard(slot)
            st = self._stats
            if outcome == OK:
                self._backoffs = 0
                self._successes += 1
                if self._successes >= self.patience and self.limit < self.ceiling:
                    self.limit += 1
                    self._successes = 0
                    st.increases += 1
            elif outcome in RETRY:
                self._successes = 0
                fresh = slot.epoch == self._epoch  # the first news of this overload
                if outcome == CUT:
                    st.cuts += 1
                else:
                    st.busy += 1
                    pause = None
                    if retry_after is not None and retry_after >= 0:
                        pause = retry_after  # the server's word, whenever it comes
                    elif fresh:  # the refusals of one burst back off once, not once each
                        pause = min(self.max_backoff, self.base_backoff * 2 ** self._backoffs)
                        self._backoffs += 1
                    until = self.clock() + min(pause, 60.0) if pause is not None else 0.0
                    if until > self._hold_until:
                        st.waited += until - max(self._hold_until, self.clock())
                        self._hold_until = until
                if fresh:  # once per overload: the others saw the same one
                    self._epoch += 1
                    new = max(self.floor, self.limit // 2)
                    if new < self.limit:
                        self.limit = new
                        st.decreases += 1
                    self.patience = min(self.max_patience, self.patience * 2)
            st.limit = self.limit
            st.lowest = min(st.lowest, self.limit)
            self._cond.notify_all()

    def set_ceiling(self, ceiling: int) -> None:
        """Any thread. A new ceiling; the current limit is kept within it."""
        with self._cond:
            self.ceiling = max(1, ceiling)
            self.floor = min(self.floor, self.ceiling)
            self.limit = min(self.limit, self.ceiling)
            self._stats.ceiling = self.ceiling
            self._cond.notify_all()

    def stats(self) -> LimitStats:
        with self._cond:
            return LimitStats(**vars(self._stats))


def classify(result: Any, slot: Slot) -> str:
    """How a request ended, for `release`: `result` is the reply (or None) when it completed,
    else the lima_tk.assist AssistError it raised (or any exception)."""
    kind = getattr(result, "kind", None)
    if kind is None:
        return OK if not isinstance(result, BaseException) else FAILED
    status = getattr(result, "status", None)
    if kind == "rate" or status in BUSY_STATUSES:
        return BUSY
    if kind in ("interrupted", "broken") and slot.overlapped:
        return CUT
    return FAILED


_shared: dict[str, AdaptiveLimit] = {}
_shared_lock = threading.Lock()


def shared_limit(key: str, ceiling: int) -> AdaptiveLimit:
    """The process-wide limit for one server (key: its base URL), made with `ceiling` the first
    time; a later, different ceiling takes effect (the current limit is kept within it)."""
    with _shared_lock:
        limit = _shared.get(key)
        if limit is None:
            limit = _shared[key] = AdaptiveLimit(ceiling)
        elif limit.ceiling != ceiling:
            limit.set_ceiling(ceiling)
        return limit
