"""The one worker mechanism of the windows (lima_tk/ui/worker.py): work runs on a worker thread,
what it reports arrives on the Tk thread in order, cancel and close (teardown) behave, and no
timer is left behind."""

from __future__ import annotations

import gc
import threading
import tkinter as tk

import pytest

from lima_tk.errors import Cancelled
from lima_tk.ui.worker import Job, JobGroup, Ticker, run_in_thread
from tests.ui.conftest import wait_until


@pytest.fixture
def root():
    gc.collect()
    r = tk.Tk()
    r.withdraw()
    yield r
    r.destroy()
    gc.collect()


def pending_afters(root: tk.Tk) -> list[str]:
    return list(root.tk.splitlist(root.tk.call("after", "info")))


def test_a_job_runs_off_the_tk_thread_and_reports_in_order_on_it(root):
    seen: list[tuple] = []
    gate = threading.Event()

    def work(job: Job) -> str:
        seen.append(("work", threading.current_thread() is threading.main_thread()))
        job.post("status", "loading")
        for i in range(1, 4):
            job.progress(i, 3)
        gate.wait(5)
        return "result"

    def tk_side(*what):
        seen.append((*what, threading.current_thread() is threading.main_thread()))

    job = Job(root, work, on_event=lambda k, p: tk_side(k, p), on_progress=lambda d, t: tk_side("progress", d, t),
              on_done=lambda r: tk_side("done", r), poll_ms=5).start()
    wait_until(lambda: job.done_count == 3, root)
    assert job.state == "working" and not job.finished
    gate.set()
    wait_until(lambda: job.finished, root)
    assert job.state == "done" and job.result == "result"
    assert seen[0] == ("work", False)  # the work ran on a worker thread
    tk_events = seen[1:]
    assert all(on_tk for *_, on_tk in tk_events)  # every callback ran on the Tk thread
    kinds = [e[0] for e in tk_events]
    assert kinds[0] == "status" and kinds[-1] == "done" and ("progress", 3, 3, True) in tk_events
    assert not pending_afters(root)  # the poll stopped by itself


def test_an_error_goes_to_on_error_and_a_cancelled_work_to_on_cancelled(root):
    got: list[object] = []
    job = Job(root, lambda job: 1 / 0, on_error=got.append, on_done=lambda r: got.append("done"), poll_ms=5).start()
    wait_until(lambda: job.finished, root)
    assert job.state == "failed" and isinstance(got[0], ZeroDivisionError)

    started = threading.Event()

    def slow(job: Job) -> None:
        started.set()
        while True:
            job.check_cancelled()
            job.cancel_event.wait(0.01)

    job = Job(root, slow, on_cancelled=lambda: got.append("cancelled"), on_error=got.append, poll_ms=5).start()
    started.wait(5)
    job.cancel()
    assert job.state == "cancelling"
    wait_until(lambda: job.finished, root)
    assert job.state == "cancelled" and got[-1] == "cancelled"
    # Cancelled raised without a cancel is an error like any other
    job = Job(root, lambda job: (_ for _ in ()).throw(Cancelled("x")), on_error=got.append, poll_ms=5).start()
    wait_until(lambda: job.finished, root)
    assert job.state == "failed" and isinstance(got[-1], Cancelled)


def test_close_delivers_nothing_more_and_leaves_no_timer(root):
    got: list[object] = []
    gate = threading.Event()

    def work(job: Job) -> str:
        gate.wait(5)
        job.post("late", 1)
        return "late result"

    job = Job(root, work, on_done=got.append, on_event=lambda k, p: got.append(k), poll_ms=5).start()
    root.update()
    assert pending_afters(root)
    job.close()
    assert job.state == "closed" and job.cancelled and not pending_afters(root)
    gate.set()
    assert job.join(5)
    for _ in range(5):
        root.update()
    assert got == [] and job.state == "closed"


def test_a_waiting_worker_is_polled_only_while_asked_and_woken(root):
    """The filter query's shape: a long-lived worker; polling pauses while nothing is expected."""
    requests: list[int] = []
    answers: list[object] = []
    expecting = {"n": 0}
    ready = threading.Event()

    def work(job: Job) -> None:
        while not job.cancelled:
            if ready.wait(0.01):
                ready.clear()
                job.post("answer", len(requests))

    def answered(kind: str, payload: object) -> None:
        answers.append(payload)
        expecting["n"] -= 1

    job = Job(root, work, on_event=answered, poll_ms=5, keep_polling=lambda: expecting["n"] > 0).start()
    wait_until(lambda: not pending_afters(root), root)  # nothing expected: no polling
    requests.append(1)
    expecting["n"] += 1
    ready.set()
    job.wake()
    wait_until(lambda: answers == [1], root)
    wait_until(lambda: not pending_afters(root), root)
    job.close()
    assert job.join(5)


def test_run_in_thread_and_a_group_closed_together(root):
    got: list[object] = []
    gate = threading.Event()
    group = JobGroup()
    group.add(run_in_thread(root, lambda: 6 * 7, got.append, poll_ms=5))
    wait_until(lambda: got == [42], root)
    group.add(run_in_thread(root, lambda: gate.wait(5), got.append, poll_ms=5))
    assert group.busy
    group.close()
    gate.set()
    for _ in range(5):
        root.update()
    assert got == [42] and not group.busy and not pending_afters(root)


def test_a_ticker_stops_when_told_and_when_its_tick_says_so(root):
    n = {"ticks": 0}

    def tick() -> bool:
        n["ticks"] += 1
        return n["ticks"] < 3

    t = Ticker(root, tick, 5).start()
    wait_until(lambda: not t.running, root)
    assert n["ticks"] == 3
    t2 = Ticker(root, lambda: True, 5).start()
    root.update()
    t2.close()
    assert not pending_afters(root)
    t2.start()  # a closed ticker stays closed
    assert not t2.running


def test_a_progress_call_held_back_by_the_rate_limit_comes_before_the_next_event(root):
    """File > Open posts "first" right after reporting how far it read: the window must show that
    figure with the first chats, not the 0 % it reported a moment before (issue 15)."""
    seen: list[tuple] = []
    gate = threading.Event()

    def work(job: Job) -> None:
        job.progress(0, 100)
        job.progress(40, 100)  # within the rate limit: held back
        job.post("first", 200)
        gate.wait(5)

    job = Job(root, work, on_event=lambda k, p: seen.append((k, p)),
              on_progress=lambda d, t: seen.append(("progress", d)), poll_ms=5).start()
    wait_until(lambda: ("first", 200) in seen, root)
    assert seen[-2:] == [("progress", 40), ("first", 200)]  # (progress is coalesced per tick)
    gate.set()
    wait_until(lambda: job.finished, root)
