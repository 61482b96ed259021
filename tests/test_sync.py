# SPDX-License-Identifier: MIT
"""synchronize_rcu and thread registration (docs/api.md; docs/design.md,
"Grace periods")."""

from __future__ import annotations

import threading
import time
from typing import Any, List

import pytest

import qemu_rcu
from qemu_rcu import (
    RcuDeadlockError,
    RcuError,
    RcuGuard,
    call_rcu,
    drain_call_rcu,
    read_lock_held,
    register_thread,
    synchronize_rcu,
    unregister_thread,
)


def registered_threads() -> int:
    stats = qemu_rcu.ffi.new("struct rcu_stats *")
    qemu_rcu.lib.rcu_get_stats(stats)
    return int(stats.registered_threads)


def test_returns_true_with_no_reader() -> None:
    assert synchronize_rcu() is True
    assert synchronize_rcu(timeout=5) is True


def synchronize_then_set(finished: threading.Event) -> None:
    synchronize_rcu()
    finished.set()


def test_waits_for_a_reader_that_was_inside(held_reader: Any) -> None:
    finished = threading.Event()
    with held_reader() as reader:
        writer = threading.Thread(target=synchronize_then_set, args=(finished,))
        writer.start()
        assert not finished.wait(0.2)
        reader.release.set()
        reader.thread.join(10)
        assert finished.wait(30)
        writer.join(10)


def grace_period_started_since(counter: int) -> bool:
    """Wait (bounded) until a grace period advances the reader counter."""
    deadline = time.monotonic() + 30
    while qemu_rcu.lib.rcu_gp_ctr == counter:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.001)
    return True


def test_does_not_wait_for_readers_that_start_later(held_reader: Any) -> None:
    finished = threading.Event()
    drain_call_rcu()            # no callback's grace period can run meanwhile
    with held_reader() as first:
        counter = qemu_rcu.lib.rcu_gp_ctr
        writer = threading.Thread(target=synchronize_then_set, args=(finished,))
        writer.start()
        # The second reader must enter after the writer's grace period began.
        assert grace_period_started_since(counter)
        assert not finished.is_set()
        with held_reader():
            first.release.set()
            first.thread.join(10)
            assert finished.wait(30)     # while the second reader is still inside
        writer.join(10)


def test_times_out_while_a_reader_blocks(held_reader: Any) -> None:
    with held_reader():
        start = time.monotonic()
        assert synchronize_rcu(timeout=0.15) is False
        assert time.monotonic() - start >= 0.14
    assert synchronize_rcu(timeout=30) is True


def test_inside_a_section_raises_and_changes_nothing() -> None:
    with RcuGuard() as g:
        with pytest.raises(RcuDeadlockError, match="synchronize_rcu"):
            synchronize_rcu()
        assert g.active
    assert not qemu_rcu.read_lock_held()


def test_works_inside_a_callback_with_a_timeout(held_reader: Any) -> None:
    results: List[bool] = []
    entered, go, done = threading.Event(), threading.Event(), threading.Event()

    def callback() -> None:
        results.append(synchronize_rcu(timeout=10))
        entered.set()
        go.wait(10)
        results.append(synchronize_rcu(timeout=0.1))   # a reader holds it up
        done.set()

    call_rcu(callback)
    assert entered.wait(10)
    with held_reader():
        go.set()
        assert done.wait(10)
    drain_call_rcu()
    assert results == [True, False]


def test_gil_is_released_while_waiting(held_reader: Any) -> None:
    progress = [0]
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            progress[0] += 1

    with held_reader():
        spinner = threading.Thread(target=spin)
        spinner.start()
        before = progress[0]
        synchronize_rcu(timeout=0.2)
        during = progress[0] - before
        stop.set()
        spinner.join(10)
    assert during > 1000


def this_thread_registered() -> bool:
    lib = qemu_rcu.lib
    return bool(lib.get_ptr_rcu_reader().depth != lib.QEMU_RCU_DEPTH_UNREGISTERED)


def test_register_and_unregister_are_idempotent() -> None:
    seen: List[bool] = []

    def body() -> None:
        seen.append(this_thread_registered())
        register_thread()
        register_thread()
        seen.append(this_thread_registered())
        unregister_thread()
        unregister_thread()
        seen.append(this_thread_registered())

    t = threading.Thread(target=body)
    t.start()
    t.join(10)
    assert seen == [False, True, False]


def test_unregister_inside_a_section_raises_and_stays_registered() -> None:
    errors: List[BaseException] = []
    still_registered: List[bool] = []

    def body() -> None:
        with RcuGuard():
            try:
                unregister_thread()
            except RcuError as exc:
                errors.append(exc)
            still_registered.append(this_thread_registered())

    t = threading.Thread(target=body)
    t.start()
    t.join(10)
    assert len(errors) == 1 and "read-side section" in str(errors[0])
    assert still_registered == [True]


def test_thread_exit_unregisters_even_inside_a_section() -> None:
    entered = []

    def body() -> None:
        qemu_rcu.lib.rcu_read_lock()      # left open: the thread exits inside it
        entered.append(read_lock_held())

    t = threading.Thread(target=body)
    t.start()
    t.join(10)
    assert entered == [True]
    # Still registered, its open section would hold every grace period up.
    # (The C thread-exit destructor may run a moment after join() returns.)
    assert synchronize_rcu(timeout=10) is True


def test_not_delayed_by_slow_callbacks() -> None:
    blocker = threading.Event()
    call_rcu(blocker.wait, 30)          # occupies the callback thread
    call_rcu(lambda: None)
    try:
        # The blocked callback would hold a queued wait for 30 s.
        assert synchronize_rcu(timeout=10) is True
    finally:
        blocker.set()
    assert drain_call_rcu(timeout=30)
