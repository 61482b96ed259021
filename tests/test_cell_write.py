# SPDX-License-Identifier: MIT
"""RcuCell's write side and deferred reclamation (docs/api.md, RcuCell)."""

from __future__ import annotations

import sys
import threading
from typing import Any, List, Optional

import pytest

from qemu_rcu import RcuCell, RcuError, RcuGuard, drain_call_rcu
from qemu_rcu._native import RcuCellBase


class Tracked:
    """A value that records when RCU reclaims it.

    The hook runs on the callback thread, where a failed assert would only
    reach sys.unraisablehook: it counts instead, and the tests check counts.
    """

    def __init__(self, n: int, log: Optional[List[int]] = None) -> None:
        self.n = n
        self.reclaims = 0
        self.log = log

    @property
    def reclaimed(self) -> bool:
        return self.reclaims > 0

    def __rcu_reclaim__(self) -> None:
        self.reclaims += 1
        if self.log is not None:
            self.log.append(self.n)


def test_set_publishes_and_reclaims_the_old_value_after_drain() -> None:
    old, new = Tracked(1), Tracked(2)
    cell = RcuCell(old)
    cell.set(new)
    assert cell.raw_get() is new
    drain_call_rcu()
    assert old.reclaims == 1 and new.reclaims == 0


def test_old_value_lives_while_a_reader_holds_it(held_reader: Any) -> None:
    old = Tracked(1)
    cell: RcuCell[Tracked] = RcuCell(old)
    seen: List[Tracked] = []
    inside, release = threading.Event(), threading.Event()

    def reader() -> None:
        with RcuGuard() as g:
            ref = cell.get(g)
            assert ref is not None
            seen.append(ref.value)
            inside.set()
            release.wait(30)
            seen.append(ref.value)

    t = threading.Thread(target=reader)
    t.start()
    assert inside.wait(10)
    cell.set(Tracked(2))
    assert drain_call_rcu(timeout=0.2) is False
    assert not old.reclaimed
    release.set()
    t.join(10)
    assert seen == [old, old]
    assert drain_call_rcu(timeout=30)
    assert old.reclaims == 1


def test_set_none_empties_the_cell() -> None:
    cell = RcuCell(Tracked(1))
    cell.set(None)
    with RcuGuard() as g:
        assert cell.get(g) is None
    assert cell.raw_get() is None


def test_replace_hands_back_the_old_value_without_reclaiming_it() -> None:
    old = Tracked(1)
    cell = RcuCell(old)
    assert cell.replace(Tracked(2)) is old
    drain_call_rcu()
    assert not old.reclaimed
    assert RcuCell[int]().replace(3) is None


def test_update_publishes_fn_of_old_and_reclaims_old() -> None:
    old = Tracked(1)
    cell = RcuCell(old)
    new = cell.update(lambda v: Tracked(v.n + 1) if v else None)
    assert new is cell.raw_get() and new is not None and new.n == 2
    drain_call_rcu()
    assert old.reclaims == 1


def test_update_that_raises_changes_nothing() -> None:
    old = Tracked(1)
    cell = RcuCell(old)

    def fail(v: Optional[Tracked]) -> Tracked:
        raise KeyError("no")

    with pytest.raises(KeyError):
        cell.update(fail)
    assert cell.raw_get() is old
    drain_call_rcu()
    assert not old.reclaimed
    cell.set(Tracked(2))            # the writer lock was released


def test_updates_from_many_threads_are_serialised() -> None:
    cell: RcuCell[int] = RcuCell(0)

    def bump() -> None:
        for _ in range(500):
            cell.update(lambda v: (v or 0) + 1)

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert cell.raw_get() == 2000


def test_every_replaced_value_is_reclaimed_exactly_once() -> None:
    log: List[int] = []
    cell = RcuCell(Tracked(-1, log))

    def writer(base: int) -> None:
        for i in range(300):
            cell.set(Tracked(base + i, log))

    threads = [threading.Thread(target=writer, args=(k * 1000,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    drain_call_rcu()
    last = cell.raw_get()
    assert last is not None and not last.reclaimed
    assert sorted(log) == sorted([-1] + [k * 1000 + i for k in range(3) for i in range(300)
                                         if k * 1000 + i != last.n])


def test_writing_the_cell_from_its_own_update_raises() -> None:
    cell = RcuCell(1)
    errors: List[BaseException] = []

    def fn(v: Optional[int]) -> int:
        try:
            cell.set(5)
        except RcuError as exc:
            errors.append(exc)
        return 2

    assert cell.update(fn) == 2
    assert len(errors) == 1 and "update" in str(errors[0])
    assert cell.raw_get() == 2


def test_reclaim_hook_errors_go_to_unraisablehook(monkeypatch: pytest.MonkeyPatch) -> None:
    reports: List[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", reports.append)

    class Bad:
        def __rcu_reclaim__(self) -> None:
            raise RuntimeError("reclaim failed")

    cell = RcuCell(Bad())
    cell.set(None)
    drain_call_rcu()
    assert len(reports) == 1 and isinstance(reports[0].exc_value, RuntimeError)


def test_is_generic_at_run_time() -> None:
    cell = RcuCell[int](5)
    assert cell.raw_get() == 5
    assert "RcuCell" in repr(cell)


def test_republishing_the_current_value_does_not_reclaim_it() -> None:
    value = Tracked(1)
    cell = RcuCell(value)
    cell.set(value)
    cell.update(lambda v: v)
    drain_call_rcu()
    assert not value.reclaimed


@pytest.mark.parametrize("init", [
    lambda cell: cell.__init__(Tracked(2)),
    lambda cell: RcuCellBase.__init__(cell, Tracked(2)),
    lambda cell: cell.__init__(),
])
def test_init_again_on_a_live_cell_raises_and_changes_nothing(init: Any) -> None:
    old = Tracked(1)
    cell: RcuCell[Tracked] = RcuCell(old)
    writer = cell._writer
    with pytest.raises(RcuError, match=r"RcuCell.__init__\(\) called on a cell that is already"):
        init(cell)
    assert cell.raw_get() is old and cell._writer is writer
    drain_call_rcu()
    assert not old.reclaimed
    empty: RcuCell[Tracked] = RcuCell()
    with pytest.raises(RcuError, match="already initialised"):
        init(empty)
    assert empty.raw_get() is None
