# SPDX-License-Identifier: MIT
"""call_rcu and drain_call_rcu (docs/api.md; docs/design.md, "A callback's life")."""

from __future__ import annotations

import math
import sys
import threading
from decimal import Decimal
from fractions import Fraction
from typing import Any, List

import pytest

import qemu_rcu
from qemu_rcu import RcuDeadlockError, RcuGuard, call_rcu, drain_call_rcu


def test_runs_once_with_arguments_after_drain() -> None:
    calls: List[Any] = []
    call_rcu(lambda *a, **k: calls.append((a, k)), 1, 2, key="v")
    assert drain_call_rcu() is True
    assert calls == [((1, 2), {"key": "v"})]
    drain_call_rcu()
    assert len(calls) == 1


def test_fn_may_be_passed_as_keyword_argument_name() -> None:
    seen: List[Any] = []
    call_rcu(lambda **k: seen.append(k), fn="f")    # fn is positional-only
    drain_call_rcu()
    assert seen == [{"fn": "f"}]


def test_not_callable_is_rejected_and_queues_nothing() -> None:
    before = qemu_rcu.ffi.new("struct rcu_stats *")
    qemu_rcu.lib.rcu_get_stats(before)
    with pytest.raises(TypeError, match="callable"):
        call_rcu(42)  # type: ignore[arg-type]
    after = qemu_rcu.ffi.new("struct rcu_stats *")
    qemu_rcu.lib.rcu_get_stats(after)
    assert after.callbacks_queued == before.callbacks_queued


def test_runs_on_the_rcu_thread_holding_the_gil() -> None:
    idents: List[int] = []
    for _ in range(3):
        call_rcu(lambda: idents.append(threading.get_ident()))
    drain_call_rcu()
    assert len(set(idents)) == 1
    assert idents[0] != threading.get_ident()


def test_fifo_from_one_thread() -> None:
    order: List[int] = []
    for i in range(2000):
        call_rcu(order.append, i)
    drain_call_rcu()
    assert order == list(range(2000))


def test_fifo_per_thread_with_many_queuing_threads() -> None:
    seen: List[Any] = []

    def produce(name: int) -> None:
        for i in range(500):
            call_rcu(seen.append, (name, i))
        drain_call_rcu()

    threads = [threading.Thread(target=produce, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    for name in range(4):
        assert [i for n, i in seen if n == name] == list(range(500))


def test_waits_for_a_section_that_was_open_at_enqueue(held_reader: Any) -> None:
    ran = threading.Event()
    with held_reader():
        call_rcu(ran.set)
        assert drain_call_rcu(timeout=0.2) is False
        assert not ran.is_set()
    assert drain_call_rcu(timeout=30) is True
    assert ran.is_set()


def test_call_rcu_inside_a_section_does_not_block() -> None:
    ran = threading.Event()
    with RcuGuard():
        call_rcu(ran.set)          # returns although this section blocks it
        assert not ran.wait(0.05)
    drain_call_rcu()
    assert ran.is_set()


def test_exception_goes_to_unraisablehook_and_later_callbacks_run(
        monkeypatch: pytest.MonkeyPatch) -> None:
    reports: List[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", reports.append)
    after: List[int] = []

    def boom() -> None:
        raise ValueError("boom in callback")

    call_rcu(boom)
    call_rcu(after.append, 1)
    drain_call_rcu()
    assert after == [1]
    assert len(reports) == 1
    assert isinstance(reports[0].exc_value, ValueError)
    assert reports[0].object is boom


def test_callbacks_may_queue_callbacks() -> None:
    done = threading.Event()
    call_rcu(call_rcu, done.set)
    drain_call_rcu()
    drain_call_rcu()
    assert done.is_set()


def test_drain_inside_a_section_raises_and_changes_nothing() -> None:
    with RcuGuard() as g:
        with pytest.raises(RcuDeadlockError, match="read-side section"):
            drain_call_rcu()
        assert g.active
        assert qemu_rcu.read_lock_held()


def test_drain_from_a_callback_raises() -> None:
    errors: List[BaseException] = []

    def cb() -> None:
        try:
            drain_call_rcu()
        except RcuDeadlockError as exc:
            errors.append(exc)

    call_rcu(cb)
    drain_call_rcu()
    assert len(errors) == 1
    assert "callback" in str(errors[0])


def test_drain_times_out_while_a_reader_blocks(held_reader: Any) -> None:
    with held_reader():
        call_rcu(lambda: None)
        assert drain_call_rcu(timeout=0.1) is False
        assert drain_call_rcu(timeout=0) is False
    assert drain_call_rcu(timeout=30) is True


@pytest.mark.parametrize("bad", [
    -1, -0.5, math.nan, -math.inf, Decimal("NaN"), Decimal("sNaN"), Decimal("-1"),
    Fraction(-1, 3), -(10**400),
])
def test_bad_timeouts_are_rejected(bad: Any) -> None:
    with pytest.raises(ValueError, match="timeout"):
        drain_call_rcu(timeout=bad)
    with pytest.raises(ValueError, match="timeout"):
        qemu_rcu.synchronize_rcu(timeout=bad)


@pytest.mark.parametrize("bad", ["1", b"1", 1j, True, [1], object()])
def test_timeouts_that_are_not_numbers_are_a_type_error(bad: Any) -> None:
    with pytest.raises(TypeError, match="timeout must be None or a real number"):
        drain_call_rcu(timeout=bad)
    with pytest.raises(TypeError, match="timeout must be None or a real number"):
        qemu_rcu.synchronize_rcu(timeout=bad)


@pytest.mark.parametrize("huge", [
    1e300, sys.float_info.max, 10**400, Decimal("1e400"), Fraction(10**400, 3),
])
def test_huge_timeouts_wait_as_long_as_needed(huge: Any) -> None:
    call_rcu(lambda: None)
    assert drain_call_rcu(timeout=huge) is True
    assert qemu_rcu.synchronize_rcu(timeout=huge) is True


@pytest.mark.parametrize("timeout", [Decimal("0.05"), Fraction(1, 20), 0])
def test_any_real_timeout_expires(held_reader: Any, timeout: Any) -> None:
    with held_reader():
        assert qemu_rcu.synchronize_rcu(timeout=timeout) is False


def test_infinite_timeout_means_no_timeout() -> None:
    assert drain_call_rcu(timeout=math.inf) is True
    assert qemu_rcu.synchronize_rcu(timeout=math.inf) is True


def test_drain_covers_own_callbacks_when_threads_race_to_queue() -> None:
    # Many threads queue at once; each one's drain must find its own
    # callbacks run, whatever order the queue saw them in.  An exception in
    # a thread would only reach threading.excepthook: it is a failure too,
    # and every thread must get through all its rounds.
    failures: List[str] = []
    rounds = [0] * 4

    def produce(name: int) -> None:
        try:
            for i in range(200):
                ran: List[int] = []
                call_rcu(ran.append, i)
                if drain_call_rcu(timeout=30) is not True:
                    failures.append(f"thread {name}: drain {i} timed out")
                if ran != [i]:
                    failures.append(f"thread {name}: callback {i} had not run after drain")
                rounds[name] += 1
        except Exception as exc:  # noqa: BLE001 - handed to the test
            failures.append(f"thread {name}: {exc!r}")

    threads = [threading.Thread(target=produce, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert failures == []
    assert rounds == [200] * 4


def test_missing_fn_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="fn"):
        call_rcu()  # type: ignore[call-arg]


class _QueuesWhenCollected:
    """In a reference cycle, so only the garbage collector frees it."""

    def __init__(self, log: List[Any], n: int) -> None:
        self.log, self.n, self.me = log, n, self

    def __del__(self) -> None:
        call_rcu(self.log.append, ("del", self.n))


def test_callbacks_queued_by_the_collector_during_call_rcu() -> None:
    # Low thresholds make the collector run inside call_rcu's own
    # allocations (which one depends on the threshold, so try several), and
    # each __del__ queues a callback from there.  Callbacks must still run
    # in the order queued, and a drain must still cover every callback
    # queued before it.
    import gc

    log: List[Any] = []
    append = log.append                 # bound once: no allocation in the loop
    old = gc.get_threshold()
    n = 0
    try:
        for threshold in range(1, 9):
            gc.set_threshold(threshold)
            for _ in range(40):
                _QueuesWhenCollected(log, n)
                call_rcu(append, n)
                n += 1
    finally:
        gc.set_threshold(*old)
    gc.collect()
    assert drain_call_rcu(timeout=30) is True
    assert [x for x in log if isinstance(x, int)] == list(range(n))
    assert sorted(x[1] for x in log if isinstance(x, tuple)) == list(range(n))


def test_keyword_arguments_are_copied_for_callers_from_c() -> None:
    # Python's own calls pass call_rcu a fresh dict; C callers (here through
    # ctypes) may pass one they go on changing.
    import ctypes

    seen: List[Any] = []
    kwargs = {"x": 1}
    py_call = ctypes.pythonapi.PyObject_Call
    py_call.restype = ctypes.py_object
    py_call.argtypes = [ctypes.py_object, ctypes.py_object, ctypes.py_object]
    py_call(call_rcu, (lambda **k: seen.append(k),), kwargs)
    kwargs["x"] = 2
    assert drain_call_rcu(timeout=30) is True
    assert seen == [{"x": 1}]


def test_a_grace_period_head_runs_only_the_callbacks_queued_before_it(held_reader: Any) -> None:
    # Each callback's grace-period head covers the callbacks numbered up to
    # its own.  Here one head runs while a callback queued after it waits for
    # a reader that the head's grace period did not wait for: running it
    # too would run it inside that reader's section.
    first_started, first_go = threading.Event(), threading.Event()
    second_started, second_go = threading.Event(), threading.Event()
    early_ran, late_ran = threading.Event(), threading.Event()

    def block(started: threading.Event, go: threading.Event) -> None:
        started.set()
        go.wait(30)

    call_rcu(block, first_started, first_go)        # holds the callback thread
    try:
        assert first_started.wait(10)
        # Queued together, so one grace period covers both, and it ends
        # before the reader below enters.
        call_rcu(block, second_started, second_go)
        call_rcu(early_ran.set)
        first_go.set()
        assert second_started.wait(10)
        with held_reader():
            call_rcu(late_ran.set)                  # must wait for the reader
            second_go.set()
            assert early_ran.wait(10)
            assert not late_ran.wait(0.2), "a callback ran inside an older section"
        assert drain_call_rcu(timeout=30) is True
        assert late_ran.is_set()
    finally:
        first_go.set()
        second_go.set()
