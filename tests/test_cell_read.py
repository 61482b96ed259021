# SPDX-License-Identifier: MIT
"""RcuCellBase and RcuRef: the C read path of RcuCell (csrc/python/types.c;
docs/design.md, "The read path")."""

from __future__ import annotations

import copy
import gc
import pickle
import threading
import types
import weakref
from typing import Any, Callable, Generic, Optional, TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qemu_rcu._native import RcuCellBase, RcuGuard, RcuRef, read_lock_held
from qemu_rcu.errors import RcuError, RcuGuardExpired, RcuThreadError

pytestmark = pytest.mark.timeout(60)

T = TypeVar("T")


class Cell(RcuCellBase, Generic[T]):
    """The shape of qemu_rcu.cell.RcuCell: a slotted, generic subclass."""

    __slots__ = ("_lock",)
    _lock: object


class WeakCell(RcuCellBase):
    __slots__ = ("__weakref__",)


class Box:
    """A value that can be weakly referenced and can point back at a ref."""

    def __init__(self, n: int = 0) -> None:
        self.n = n
        self.back: Any = None


# ---- RcuCellBase --------------------------------------------------------------


def test_empty_cell() -> None:
    c = RcuCellBase()
    assert c.raw_get() is None
    with RcuGuard() as g:
        assert c.get(g) is None


def test_none_is_stored_as_empty() -> None:
    c = RcuCellBase(None)
    with RcuGuard() as g:
        assert c.get(g) is None
    assert c.raw_get() is None


def test_get_returns_a_ref_to_the_value() -> None:
    v = Box(1)
    c = RcuCellBase(v)
    with RcuGuard() as g:
        r = c.get(g)
        assert type(r) is RcuRef
        assert r.active is True
        assert r.value is v
        assert c.get(g) is not r  # one ref per get()


def test_init_by_keyword_and_argument_errors() -> None:
    assert RcuCellBase(value=5).raw_get() == 5
    with pytest.raises(TypeError):
        RcuCellBase(1, 2)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        RcuCellBase(other=1)  # type: ignore[call-arg]


def test_init_again_is_refused_and_keeps_the_value() -> None:
    c = RcuCellBase(1)
    with pytest.raises(RcuError, match=r"RcuCellBase.__init__\(\) called on a cell that is"):
        c.__init__(2)  # type: ignore[misc]
    assert c.raw_get() == 1


@pytest.mark.parametrize("bad", [None, 1, "guard", object(), RcuGuard])
def test_get_needs_exactly_an_rcuguard(bad: Any) -> None:
    c = RcuCellBase(1)
    with pytest.raises(TypeError, match=f"RcuCellBase.get\\(\\) needs an RcuGuard, not "
                                        f"{type(bad).__name__}"):
        c.get(bad)


def test_get_error_names_the_subclass() -> None:
    with pytest.raises(TypeError, match=r"^Cell.get\(\) needs an RcuGuard, not int$"):
        Cell(1).get(1)  # type: ignore[arg-type]


def test_get_with_an_ended_guard_raises_expired() -> None:
    c = RcuCellBase(1)
    g = RcuGuard()
    g.unlock()
    with pytest.raises(RcuGuardExpired,
                       match="RcuGuard was used after it ended; create a new guard"):
        c.get(g)
    empty = RcuCellBase()
    with pytest.raises(RcuGuardExpired):
        empty.get(g)  # checked even when there is nothing to return


def test_get_with_a_foreign_guard_raises_thread_error(worker: Any) -> None:
    c = RcuCellBase(1)
    g = worker.call(RcuGuard)
    me = threading.get_ident()
    with pytest.raises(RcuThreadError,
                       match=f"RcuGuard belongs to thread {worker.ident}, not this thread {me}"):
        c.get(g)
    assert g.active

    def read_on_owner() -> Any:
        r = c.get(g)
        return None if r is None else r.value

    assert worker.call(read_on_owner) == 1
    worker.call(g.unlock)


def test_raw_get_needs_no_guard() -> None:
    v = Box()
    assert RcuCellBase(v).raw_get() is v


def test_exchange_hands_over_the_previous_value() -> None:
    a, b = Box(1), Box(2)
    wa, wb = weakref.ref(a), weakref.ref(b)
    c = RcuCellBase(a)
    del a
    old = c._exchange(b)
    assert old is wa()
    assert c.raw_get() is b
    del old
    assert wa() is None, "the cell's reference to the old value leaked"
    del b
    assert wb() is not None, "the cell does not own its new value"
    assert c._exchange(None) is wb()
    assert c.raw_get() is None
    assert wb() is None
    assert c._exchange(None) is None
    assert c._exchange(3) is None
    assert c.raw_get() == 3


def test_ref_keeps_its_value_after_exchange() -> None:
    a = Box(1)
    c = RcuCellBase(a)
    with RcuGuard() as g:
        r = c.get(g)
        c._exchange(Box(2))
        assert r is not None and r.value is a
        r2 = c.get(g)
        assert r2 is not None and r2.value.n == 2


def test_cell_cycle_is_collected() -> None:
    c = WeakCell()
    c._exchange(c)
    wc = weakref.ref(c)
    del c
    gc.collect()
    assert wc() is None


def test_cell_traverses_its_value() -> None:
    v = Box()
    c = RcuCellBase(v)
    assert gc.is_tracked(c)
    assert gc.get_referents(c) == [v]


# ---- subclassing (how qemu_rcu.cell.RcuCell is built) ---------------------------


def test_generic_slotted_subclass_uses_the_c_init() -> None:
    c: Cell[int] = Cell(5)
    assert c.raw_get() == 5
    with RcuGuard() as g:
        r = c.get(g)
        assert r is not None and r.value == 5
    assert Cell[int](value=7).raw_get() == 7
    assert Cell().raw_get() is None
    c._lock = threading.Lock()
    with pytest.raises(AttributeError):
        c.other = 1  # type: ignore[attr-defined]
    assert isinstance(c, RcuCellBase)


def test_subclass_with_its_own_init() -> None:
    class Counted(RcuCellBase, Generic[T]):
        __slots__ = ("writes",)

        def __init__(self, value: Optional[T] = None) -> None:
            super().__init__(value)
            self.writes = 0

    c = Counted(Box(3))
    assert c.writes == 0
    with RcuGuard() as g:
        r = c.get(g)
        assert r is not None and r.value.n == 3


def test_subclass_instances_are_collected() -> None:
    c: Cell[Box] = Cell(Box())
    c._lock = c  # a cycle through the subclass's slot
    w = weakref.ref(c.raw_get())
    del c
    gc.collect()
    assert w() is None


# ---- RcuRef --------------------------------------------------------------------


def test_ref_is_not_constructible() -> None:
    with pytest.raises(TypeError):
        RcuRef()
    with pytest.raises(TypeError):
        RcuRef.__new__(RcuRef)


def test_ref_class_subscription() -> None:
    alias = RcuRef[int]
    assert isinstance(alias, types.GenericAlias)
    assert alias.__origin__ is RcuRef
    assert alias.__args__ == (int,)


def test_ref_expires_with_its_guard() -> None:
    c = RcuCellBase(Box(1))
    g = RcuGuard()
    r = c.get(g)
    assert r is not None and r.active
    g.unlock()
    assert r.active is False
    with pytest.raises(RcuGuardExpired, match="RcuRef was used after its RcuGuard ended"):
        _ = r.value


def test_ref_expires_when_the_with_block_ends() -> None:
    c = RcuCellBase(1)
    with RcuGuard() as g:
        r = c.get(g)
        assert r is not None
    with pytest.raises(RcuGuardExpired):
        _ = r.value


def test_ref_keeps_its_guard_alive() -> None:
    c = RcuCellBase(1)
    r = c.get(RcuGuard())
    assert r is not None and r.active and read_lock_held()
    with pytest.warns(ResourceWarning, match="never ended"):
        del r
        gc.collect()
    assert not read_lock_held()


def test_ref_from_a_foreign_thread(worker: Any) -> None:
    c = RcuCellBase(1)
    g = RcuGuard()
    r = c.get(g)
    assert r is not None
    me = threading.get_ident()
    with pytest.raises(RcuThreadError, match=f"RcuGuard belongs to thread {me}, "
                                             f"not this thread {worker.ident}"):
        worker.call(lambda: r.value)
    # valid reports the guard's state; it does not raise on other threads.
    assert worker.call(lambda: r.active) is True
    g.unlock()
    assert worker.call(lambda: r.active) is False
    with pytest.raises(RcuThreadError):  # the thread is checked before expiry
        worker.call(lambda: r.value)


def test_ref_attributes_are_read_only() -> None:
    with RcuGuard() as g:
        r = RcuCellBase(1).get(g)
        assert r is not None
        with pytest.raises(AttributeError):
            r.value = 2  # type: ignore[misc]
        with pytest.raises(AttributeError):
            r.active = False  # type: ignore[misc]


def test_ref_repr() -> None:
    ident = threading.get_ident()
    g = RcuGuard()
    r = RcuCellBase(1).get(g)
    assert repr(r) == f"<RcuRef to int, active, owner thread {ident}>"
    g.unlock()
    assert repr(r) == f"<RcuRef to int, expired, owner thread {ident}>"


@pytest.mark.parametrize("how", [copy.copy, copy.deepcopy, pickle.dumps])
def test_ref_not_copyable(how: Callable[[Any], Any]) -> None:
    with RcuGuard() as g:
        r = RcuCellBase(1).get(g)
        with pytest.raises(TypeError, match="RcuRef objects cannot be copied or pickled"):
            how(r)


def test_ref_participates_in_gc() -> None:
    v = Box()
    with RcuGuard() as g:
        r = RcuCellBase(v).get(g)
        assert gc.is_tracked(r)
        refs = gc.get_referents(r)
        assert len(refs) == 2 and g in refs and v in refs


def test_ref_cycle_through_its_value_is_collected() -> None:
    v = Box()
    wv = weakref.ref(v)
    c = RcuCellBase(v)
    with RcuGuard() as g:
        v.back = c.get(g)  # value -> ref -> value
    del v, c, g
    gc.collect()
    assert wv() is None


def test_ref_in_a_cycle_with_a_finalizer() -> None:
    seen: list[Any] = []

    class Probe:
        """Uses the ref from a finalizer while the collector breaks the cycle."""

        def __init__(self) -> None:
            self.ref: Any = None

        def __del__(self) -> None:
            r = self.ref
            seen.append(r.active)
            try:
                _ = r.value
            except RcuGuardExpired as exc:
                seen.append(type(exc))

    # probe -> ref -> cell value (box) -> probe
    box = Box()
    c = RcuCellBase(box)
    with RcuGuard() as g:
        ref = c.get(g)
    probe = Probe()
    probe.ref = ref
    box.back = probe
    wbox = weakref.ref(box)
    del box, c, g, ref, probe
    gc.collect()
    assert seen == [False, RcuGuardExpired]
    assert wbox() is None


# ---- properties ----------------------------------------------------------------

OPS = st.sampled_from(["guard", "read_lock", "unlock", "exit", "get", "swap"])


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_random_guard_lifetimes(data: st.DataObject) -> None:
    """Guards created and ended in any order, refs taken under each of them.

    After every step: a section is held iff some guard is active; each ref is
    valid iff its guard is active; ref.value works iff its guard is active.
    """
    from qemu_rcu._native import read_lock

    cell = RcuCellBase(Box(0))
    guards: list[RcuGuard] = []
    refs: list[tuple[RcuRef[Box], RcuGuard, Box]] = []
    try:
        for _ in range(data.draw(st.integers(0, 40), label="steps")):
            op = data.draw(OPS, label="op")
            if op in ("guard", "read_lock"):
                guards.append(RcuGuard() if op == "guard" else read_lock())
            elif op == "swap":
                cell._exchange(Box(data.draw(st.integers(), label="n")))
            elif guards:
                g = data.draw(st.sampled_from(guards), label="guard")
                if op == "unlock":
                    g.unlock()
                elif op == "exit":
                    g.__exit__(None, None, None)
                elif g.active:
                    r = cell.get(g)
                    assert r is not None
                    refs.append((r, g, cell.raw_get()))
                else:
                    with pytest.raises(RcuGuardExpired):
                        cell.get(g)
            assert read_lock_held() is any(g.active for g in guards)
            for r, g, v in refs:
                assert r.active is g.active
                if g.active:
                    assert r.value is v
                else:
                    with pytest.raises(RcuGuardExpired):
                        _ = r.value
    finally:
        for g in guards:
            g.unlock()
    assert not read_lock_held()
    assert all(not r.active for r, _, _ in refs)
