"""lima_tk.concurrency.AdaptiveLimit: AIMD on the requests in flight to one server (issue 15),
driven with a fake clock: halving once per overload, the floor and the ceiling, the server's
pause (Retry-After) and the backoff without one, growing back, and the outcome of a request."""

from __future__ import annotations

import threading

import pytest

from lima_tk.concurrency import BUSY, CUT, FAILED, OK, UNUSED, AdaptiveLimit, Slot, classify, shared_limit


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def take(limit: AdaptiveLimit, n: int) -> list[Slot]:
    slots = [limit.try_acquire() for _ in range(n)]
    assert all(s is not None for s in slots)
    return slots  # type: ignore[return-value]


def test_starts_at_the_ceiling_and_never_passes_the_limit():
    lim = AdaptiveLimit(3, clock=Clock())
    slots = take(lim, 3)
    assert lim.try_acquire() is None and lim.in_flight == 3
    assert all(s.overlapped for s in slots)
    lim.release(slots[0], OK)
    assert lim.try_acquire() is not None


def test_an_overload_halves_once_then_again_at_the_new_level():
    lim = AdaptiveLimit(8, clock=Clock())
    slots = take(lim, 8)
    lim.release(slots[0], CUT)
    assert lim.limit == 4
    for s in slots[1:6]:  # the others were cut by the same overload: no further halving
        lim.release(s, CUT)
    assert lim.limit == 4
    for s in slots[6:]:
        lim.release(s, OK)
    again = take(lim, 2)
    lim.release(again[0], CUT)
    assert lim.limit == 2
    assert lim.in_flight == 1 and lim.try_acquire() is not None and lim.try_acquire() is None
    lim.release(again[1], OK)
    lim.release(next(iter(lim._in_flight)), OK)
    s = lim.try_acquire()
    lim.release(s, CUT)
    assert lim.limit == 1
    s = lim.try_acquire()
    lim.release(s, CUT)
    assert lim.limit == 1, "never below the floor"
    st = lim.stats()
    assert (st.ceiling, st.lowest, st.limit, st.decreases, st.cuts) == (8, 1, 1, 3, 9)


def test_grows_back_after_successes_and_waits_longer_after_each_overload():
    lim = AdaptiveLimit(4, patience=2, clock=Clock())
    s = take(lim, 4)
    lim.release(s[0], CUT)  # 4 -> 2, patience 2 -> 4
    for x in s[1:]:
        lim.release(x, UNUSED)
    assert lim.limit == 2
    for _ in range(3):
        lim.release(lim.try_acquire(), OK)
    assert lim.limit == 2
    lim.release(lim.try_acquire(), OK)
    assert lim.limit == 3
    for _ in range(4):
        lim.release(lim.try_acquire(), OK)
    assert lim.limit == 4
    for _ in range(20):
        lim.release(lim.try_acquire(), OK)
    assert lim.limit == 4, "never above the ceiling"
    assert lim.stats().increases == 2


def test_busy_with_retry_after_pauses_new_requests():
    clock = Clock()
    lim = AdaptiveLimit(2, clock=clock)
    a, b = take(lim, 2)
    lim.release(a, BUSY, retry_after=1.5)
    assert lim.limit == 1 and lim.wait_time() == pytest.approx(1.5)
    lim.release(b, OK)
    assert lim.try_acquire() is None, "held back for the pause the server asked for"
    clock.now += 1.49
    assert lim.try_acquire() is None
    clock.now += 0.02
    assert lim.try_acquire() is not None and lim.wait_time() == 0
    assert lim.stats().waited == pytest.approx(1.5)


def test_busy_without_retry_after_backs_off_exponentially_until_a_success():
    clock = Clock()
    lim = AdaptiveLimit(1, base_backoff=0.25, max_backoff=1.0, clock=clock)
    waits = []
    for _ in range(5):
        s = lim.try_acquire()
        assert s is not None
        lim.release(s, BUSY)
        waits.append(round(lim.wait_time(), 3))
        clock.now += lim.wait_time()
    assert waits == [0.25, 0.5, 1.0, 1.0, 1.0]
    lim.release(lim.try_acquire(), OK)
    lim.release(lim.try_acquire(), BUSY)
    assert lim.wait_time() == pytest.approx(0.25)


def test_a_plain_failure_changes_nothing():
    lim = AdaptiveLimit(4, clock=Clock())
    s = take(lim, 4)
    lim.release(s[0], FAILED)
    assert lim.limit == 4 and lim.wait_time() == 0


def test_acquire_blocks_until_a_slot_frees_or_cancel():
    lim = AdaptiveLimit(1)
    first = lim.acquire()
    got: list[Slot | None] = []
    t = threading.Thread(target=lambda: got.append(lim.acquire(timeout=10)))
    t.start()
    lim.release(first, OK)
    t.join(10)
    assert got and got[0] is not None
    assert lim.acquire(timeout=0.05) is None
    cancel = threading.Event()
    cancel.set()
    assert lim.acquire(cancel) is None


class _Err(Exception):
    def __init__(self, kind: str, status: int | None = None) -> None:
        super().__init__(kind)
        self.kind, self.status = kind, status


def test_classify_outcomes():
    alone, together = Slot(0, 0.0), Slot(0, 0.0, overlapped=True)
    assert classify(object(), alone) == OK
    assert classify(_Err("rate", 429), alone) == BUSY
    assert classify(_Err("server", 503), alone) == BUSY
    assert classify(_Err("server", 500), together) == FAILED
    assert classify(_Err("interrupted"), together) == CUT
    assert classify(_Err("broken"), together) == CUT
    assert classify(_Err("interrupted"), alone) == FAILED, "cut while alone: not the server's load"
    assert classify(_Err("auth", 401), together) == FAILED
    assert classify(ValueError("x"), alone) == FAILED


def test_shared_limit_per_server():
    a = shared_limit("http://a.test/v1", 4)
    assert shared_limit("http://a.test/v1", 4) is a
    assert shared_limit("http://b.test/v1", 4) is not a
    assert shared_limit("http://a.test/v1", 2) is a and a.ceiling == 2 and a.limit <= 2
    with pytest.raises(ValueError):
        AdaptiveLimit(0)


def test_the_refusals_of_one_burst_back_off_once():
    clock = Clock()
    lim = AdaptiveLimit(4, base_backoff=0.25, clock=clock)
    slots = take(lim, 4)
    for s in slots[:3]:  # three requests refused together: one overload
        lim.release(s, BUSY)
    assert lim.limit == 2 and lim.wait_time() == pytest.approx(0.25)
    lim.release(slots[3], BUSY, retry_after=2.0)  # but the server's own word always counts
    assert lim.wait_time() == pytest.approx(2.0)
