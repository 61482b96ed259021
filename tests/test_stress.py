# SPDX-License-Identifier: MIT
"""A Python-level rcutorture: readers must never see a reclaimed value."""

from __future__ import annotations

import threading
import time
from typing import Callable, List

from qemu_rcu import RcuCell, RcuGuard, drain_call_rcu, synchronize_rcu


class Poisonable:
    __slots__ = ("generation", "poisoned")

    def __init__(self, generation: int) -> None:
        self.generation = generation
        self.poisoned = False

    def __rcu_reclaim__(self) -> None:
        self.poisoned = True


def test_no_reader_ever_sees_a_reclaimed_value() -> None:
    cell = RcuCell(Poisonable(0))
    stop = threading.Event()
    reads: List[int] = [0] * 3
    poisoned: List[int] = [0] * 3
    updates: List[int] = [0] * 2
    # An exception in a thread only reaches threading.excepthook, which does
    # not fail the test: every thread reports here instead.
    errors: List[BaseException] = []

    def reporting(fn: Callable[[int], None]) -> Callable[[int], None]:
        def run(i: int) -> None:
            try:
                fn(i)
            except BaseException as exc:  # noqa: BLE001 - handed to the test
                errors.append(exc)
                stop.set()
        return run

    def reader(i: int) -> None:
        while not stop.is_set():
            with RcuGuard() as outer:
                ref = cell.get(outer)
                assert ref is not None
                with RcuGuard():            # nested sections keep it alive too
                    value = ref.value
                    if value.poisoned:
                        poisoned[i] += 1
                if ref.value.poisoned:
                    poisoned[i] += 1
            reads[i] += 1

    def writer(use_update: int) -> None:
        while not stop.is_set():
            if use_update:
                cell.update(lambda old: Poisonable(old.generation + 1) if old else None)
            else:
                old = cell.replace(Poisonable(cell.raw_get().generation + 1))  # type: ignore
                synchronize_rcu()
                if old is not None:
                    old.__rcu_reclaim__()
            updates[use_update] += 1

    threads = [threading.Thread(target=reporting(reader), args=(i,)) for i in range(3)]
    threads += [threading.Thread(target=reporting(writer), args=(flag,)) for flag in (1, 0)]
    for t in threads:
        t.start()
    time.sleep(2.0)
    stop.set()
    for t in threads:
        t.join(30)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    drain_call_rcu()
    print(f"reads={sum(reads)} poisoned={sum(poisoned)} "
          f"generation={cell.raw_get().generation}")  # type: ignore[union-attr]
    assert sum(reads) > 1000
    assert min(updates) > 0       # both ways of writing ran
    assert sum(poisoned) == 0
