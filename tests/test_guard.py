# SPDX-License-Identifier: MIT
"""RcuGuard, read_lock and read_lock_held: the C read path (csrc/python/types.c;
docs/design.md, "The read path")."""

from __future__ import annotations

import copy
import gc
import itertools
import pickle
import sys
import threading
import warnings
from typing import Any, Callable

import pytest

from qemu_rcu._native import RcuGuard, read_lock, read_lock_held
from qemu_rcu.errors import RcuError, RcuGuardExpired, RcuThreadError

pytestmark = pytest.mark.timeout(60)


def foreign(owner: int, me: int) -> str:
    return f"RcuGuard belongs to thread {owner}, not this thread {me}"


# ---- creating, entering, ending ---------------------------------------------


def test_guard_enters_a_section_until_unlocked() -> None:
    assert read_lock_held() is False
    g = RcuGuard()
    assert g.active is True
    assert read_lock_held() is True
    g.unlock()
    assert g.active is False
    assert read_lock_held() is False


def test_read_lock_is_rcuguard() -> None:
    g = read_lock()
    assert type(g) is RcuGuard
    assert g.active and read_lock_held()
    g.unlock()
    assert not read_lock_held()


@pytest.mark.parametrize("make", [lambda: RcuGuard(1),  # type: ignore[call-arg]
                                  lambda: RcuGuard(x=1),  # type: ignore[call-arg]
                                  lambda: read_lock(1)])  # type: ignore[call-arg]
def test_constructors_take_no_arguments(make: Callable[[], Any]) -> None:
    with pytest.raises(TypeError, match="takes no arguments"):
        make()
    assert not read_lock_held()


def test_dunder_new_also_enters() -> None:
    g = RcuGuard.__new__(RcuGuard)
    assert g.active and read_lock_held()
    g.unlock()


def test_with_returns_the_guard_and_ends_it() -> None:
    with RcuGuard() as g:
        assert type(g) is RcuGuard
        assert g.active and read_lock_held()
    assert not g.active
    assert not read_lock_held()


def test_enter_returns_the_same_object() -> None:
    g = RcuGuard()
    assert g.__enter__() is g
    g.unlock()


def test_exit_returns_none_and_never_swallows() -> None:
    with pytest.raises(KeyError, match="boom"):
        with RcuGuard():
            raise KeyError("boom")
    assert not read_lock_held()
    g = RcuGuard()
    assert g.__exit__(KeyError, KeyError("x"), None) is None  # type: ignore[func-returns-value]
    assert not g.active


def test_exit_ends_exactly_once() -> None:
    outer = RcuGuard()
    g = RcuGuard()
    g.__exit__(None, None, None)
    g.__exit__(None, None, None)
    assert read_lock_held(), "a second __exit__ ended the outer guard's section"
    outer.unlock()
    assert not read_lock_held()


def test_unlock_inside_with_then_exit_is_a_no_op() -> None:
    outer = RcuGuard()
    with RcuGuard() as g:
        g.unlock()
        assert not g.active
    assert read_lock_held(), "__exit__ after unlock() unlocked a second time"
    outer.unlock()


def test_second_unlock_is_a_no_op() -> None:
    outer = RcuGuard()
    g = RcuGuard()
    assert g.unlock() is None  # type: ignore[func-returns-value]
    assert g.unlock() is None  # type: ignore[func-returns-value]
    assert read_lock_held()
    outer.unlock()
    assert not read_lock_held()


@pytest.mark.parametrize("enter", [lambda g: g.__enter__(), lambda g: g.__enter__.__call__()])
def test_enter_after_end_raises_expired(enter: Callable[[RcuGuard], Any]) -> None:
    g = RcuGuard()
    g.unlock()
    with pytest.raises(RcuGuardExpired,
                       match="RcuGuard was used after it ended; create a new guard"):
        enter(g)
    assert not g.active and not read_lock_held()


def test_with_on_ended_guard_raises_expired() -> None:
    g = RcuGuard()
    g.unlock()
    with pytest.raises(RcuGuardExpired):
        with g:
            pytest.fail("the body ran")
    assert not read_lock_held()


def test_active_is_read_only() -> None:
    g = RcuGuard()
    with pytest.raises(AttributeError):
        g.active = False  # type: ignore[misc]
    assert g.active
    g.unlock()


def test_error_hierarchy() -> None:
    assert issubclass(RcuGuardExpired, RcuError)
    assert issubclass(RcuThreadError, RcuError)
    assert issubclass(RcuError, RuntimeError)


# ---- nesting ------------------------------------------------------------------


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_nested_guards_end_in_any_order(order: tuple[int, ...]) -> None:
    guards = [RcuGuard() for _ in range(3)]
    for step, i in enumerate(order):
        assert read_lock_held()
        guards[i].unlock()
        ended = order[: step + 1]
        assert [g.active for g in guards] == [j not in ended for j in range(3)]
        assert read_lock_held() is (step < 2)


def test_nested_with_blocks() -> None:
    with RcuGuard() as a:
        with read_lock() as b:
            assert a.active and b.active and read_lock_held()
        assert not b.active and read_lock_held()
    assert not read_lock_held()


def test_inner_with_outliving_outer_guard() -> None:
    outer = RcuGuard()
    with RcuGuard():
        outer.unlock()
        assert read_lock_held()
    assert not read_lock_held()


def test_deep_nesting() -> None:
    guards = [RcuGuard() for _ in range(1000)]
    for g in reversed(guards[1:]):
        g.unlock()
    assert read_lock_held()
    guards[0].unlock()
    assert not read_lock_held()


# ---- threads ------------------------------------------------------------------


def test_guard_belongs_to_the_creating_thread(worker: Any) -> None:
    g = worker.call(RcuGuard)
    assert worker.call(read_lock_held) is True
    assert read_lock_held() is False
    assert g.active
    worker.call(g.unlock)
    assert worker.call(read_lock_held) is False


@pytest.mark.parametrize("name", ["unlock", "__exit__", "__enter__"])
def test_foreign_thread_raises_and_changes_nothing(worker: Any, name: str) -> None:
    g = RcuGuard()
    me = threading.get_ident()
    args = (None, None, None) if name == "__exit__" else ()
    with pytest.raises(RcuThreadError, match=foreign(me, worker.ident)):
        worker.call(getattr(g, name), *args)
    assert g.active
    assert read_lock_held() is True
    assert worker.call(read_lock_held) is False
    g.unlock()
    assert not read_lock_held()


def test_foreign_thread_with_statement(worker: Any) -> None:
    g = RcuGuard()

    def use() -> None:
        with g:
            pytest.fail("the body ran")

    with pytest.raises(RcuThreadError, match="only be used on the thread that created"):
        worker.call(use)
    assert g.active and read_lock_held()
    g.unlock()


def test_foreign_thread_is_checked_before_expiry(worker: Any) -> None:
    g = RcuGuard()
    g.unlock()
    with pytest.raises(RcuThreadError):
        worker.call(g.unlock)
    assert not g.active


def test_guard_of_an_exited_thread_cannot_be_ended_by_a_newcomer() -> None:
    box: list[Any] = []

    def make() -> None:
        box.append(RcuGuard())
        box.append(threading.get_ident())

    def try_unlock(g: RcuGuard, out: list[Any]) -> None:
        out.append(threading.get_ident())
        try:
            g.unlock()
        except RcuThreadError as exc:
            out.append(str(exc))
        out.append(read_lock_held())

    t = threading.Thread(target=make)
    t.start()
    t.join(30)
    dead_ident = box[1]
    # The section ended with its thread (the core unregisters it), but the
    # guard never did: nobody may end it now, above all not a thread that
    # inherits the dead thread's id and has a depth counter of its own.
    for _ in range(50):
        out: list[Any] = []
        t = threading.Thread(target=try_unlock, args=(box[0], out))
        t.start()
        t.join(30)
        ident, message, held = out
        assert held is False
        if ident == dead_ident:
            assert message == (f"RcuGuard belongs to thread {dead_ident}, which has exited; "
                               "this thread reuses its id but does not own the guard")
            break
        assert message.startswith(foreign(dead_ident, ident))
    else:
        pytest.skip("no thread reused the exited thread's id")
    with pytest.warns(ResourceWarning, match="cannot unlock"):
        box.clear()
        gc.collect()


# ---- guards that are never ended --------------------------------------------


def test_leaked_guard_warns_and_unlocks_on_its_thread() -> None:
    g = RcuGuard()
    ident = threading.get_ident()
    with pytest.warns(ResourceWarning, match="never ended") as rec:
        del g
        gc.collect()
    assert not read_lock_held()
    message = str(rec[0].message)
    assert f"RcuGuard of thread {ident} was never ended" in message
    assert "it was unlocked when it was collected" in message


def test_leaked_inner_guard_leaves_outer_section() -> None:
    outer = RcuGuard()
    with pytest.warns(ResourceWarning, match="never ended"):
        RcuGuard()
        gc.collect()
    assert read_lock_held()
    outer.unlock()
    assert not read_lock_held()


def test_ended_guard_collects_silently(nothing_reported: Any) -> None:
    g = RcuGuard()
    g.unlock()
    with nothing_reported():
        del g
        gc.collect()


def test_leaked_guard_collected_on_another_thread(worker: Any, nothing_reported: Any) -> None:
    g = worker.call(RcuGuard)
    me = threading.get_ident()
    with pytest.warns(ResourceWarning) as rec:
        del g
        gc.collect()
    message = str(rec[0].message)
    assert f"RcuGuard of thread {worker.ident} was never ended" in message
    assert f"collected on thread {me}, which cannot unlock it" in message
    assert f"until thread {worker.ident} exits" in message
    # Nothing could unlock it: the worker is still inside the section.
    assert worker.call(read_lock_held) is True
    # The warning kept the guard (its source) alive, and it is still active.
    holder = [rec[0].source]
    del rec
    assert type(holder[0]) is RcuGuard and holder[0].active
    with nothing_reported():
        # Dropped again on its owner thread: unlocked, and not warned twice.
        worker.call(holder.clear)
    assert worker.call(read_lock_held) is False


def test_leaked_guard_warns_only_once(worker: Any, nothing_reported: Any) -> None:
    g = worker.call(RcuGuard)
    with pytest.warns(ResourceWarning) as rec:
        del g
    holder = [rec[0].source]
    del rec
    with nothing_reported():
        holder.clear()  # dies on a foreign thread again: nothing new to say
    assert worker.call(read_lock_held) is True


def test_warning_turned_error_goes_to_unraisablehook(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", seen.append)
    g = RcuGuard()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        del g
        gc.collect()
    assert not read_lock_held()
    assert len(seen) == 1
    assert issubclass(seen[0].exc_type, ResourceWarning)


def test_leaked_guard_collected_while_an_exception_unwinds() -> None:
    zero = 0
    with pytest.warns(ResourceWarning, match="never ended"):
        with pytest.raises(ZeroDivisionError):
            # The guard is on the evaluation stack when 1 / zero raises, so
            # it is deallocated while the exception is being raised.
            (RcuGuard(), 1 / zero)
    assert not read_lock_held()


# ---- the type itself ------------------------------------------------------------


def test_not_subclassable() -> None:
    with pytest.raises(TypeError):
        type("MyGuard", (RcuGuard,), {})


@pytest.mark.parametrize("how", [copy.copy, copy.deepcopy] +
                         [lambda g, p=p: pickle.dumps(g, protocol=p)
                          for p in range(pickle.HIGHEST_PROTOCOL + 1)])
def test_not_copyable_or_picklable(how: Callable[[RcuGuard], Any]) -> None:
    with RcuGuard() as g:
        with pytest.raises(TypeError, match="RcuGuard objects cannot be copied or pickled"):
            how(g)
        assert read_lock_held()


def test_repr_shows_state_and_owner() -> None:
    g = RcuGuard()
    ident = threading.get_ident()
    assert repr(g) == f"<RcuGuard active, owner thread {ident}>"
    g.unlock()
    assert repr(g) == f"<RcuGuard ended, owner thread {ident}>"


def test_read_lock_held_is_a_bool() -> None:
    assert read_lock_held() is False
    with RcuGuard():
        assert read_lock_held() is True
