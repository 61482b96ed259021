# SPDX-License-Identifier: MIT
"""``RcuCell[T]``: a value readers take without locks, writers replace.

Readers call ``cell.get(guard)`` and get an ``RcuRef`` that works only while
that guard is active.  Writers publish with ``set``/``update``; the value a
cell stops referencing stays alive until a grace period has passed, then is
released (running its ``__rcu_reclaim__`` first, if it has one).

The read path (``get``, ``raw_get``, ``RcuRef``) is C, in ``csrc/python/types.c``;
this module adds the write side.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Callable, Generic, Optional, TypeVar

from ._native import RcuCellBase, RcuGuard, RcuRef, _write_unraisable
from .callbacks import _check_callbacks_run, call_rcu
from .errors import RcuError

__all__ = ["RcuCell", "RcuRef"]

T = TypeVar("T")


def _reclaim(value: object) -> None:
    hook = getattr(type(value), "__rcu_reclaim__", None)
    if hook is not None:
        hook(value)


def _retire(old: object, new: object, what: str) -> None:
    """Reclaim what the cell stopped referencing, after a grace period."""
    if old is None or old is new:              # re-publishing is not retiring
        return
    try:
        call_rcu(_reclaim, old)
    except RcuError:
        # Exit closed the way to callbacks after the caller's check; the new
        # value is published, so report rather than raise after the change.
        _write_unraisable(RcuError(
            f"RcuCell.{what}(): the interpreter began exiting meanwhile, so the "
            "replaced value's __rcu_reclaim__ will not run"), old)


class RcuCell(RcuCellBase, Generic[T]):
    """Holds a reference to a ``T`` (or nothing) that readers take without locks.

    ``get(guard)``: an ``RcuRef[T]`` valid while ``guard`` is active, or
    ``None`` when the cell is empty.  ``raw_get()``: an unchecked snapshot.
    Writers of one cell are serialised; ``set``, ``replace`` and ``update``
    are safe from any number of threads.
    """

    __slots__ = ("_writer",)

    if TYPE_CHECKING:
        def get(self, guard: RcuGuard, /) -> Optional[RcuRef[T]]: ...
        def raw_get(self) -> Optional[T]: ...
        def _exchange(self, value: Optional[T], /) -> Optional[T]: ...

    def __init__(self, value: Optional[T] = None) -> None:
        super().__init__(value)
        # Re-entrant only so that a thread can see it already holds the lock
        # (_lock refuses to take it twice); _thread.RLock records its owner
        # inside acquire(), so no signal handler can run in between.
        self._writer = threading.RLock()

    def _lock(self, what: str) -> threading.RLock:
        if self._writer._is_owned():  # type: ignore[attr-defined]
            raise RcuError(
                f"RcuCell.{what}() called while this thread is already writing this "
                "cell (from the function given to update(), or from a signal handler "
                "that interrupted a write); it would deadlock, so nothing was changed")
        return self._writer

    def set(self, value: Optional[T]) -> None:
        """Publish ``value``; the previous value is reclaimed after a grace period."""
        _check_callbacks_run("RcuCell.set()")      # before anything changes
        with self._lock("set"):
            old = self._exchange(value)
        _retire(old, value, "set")

    def replace(self, value: Optional[T]) -> Optional[T]:
        """Publish ``value`` and hand the previous value to the caller.

        Readers may still be using it: wait with ``synchronize_rcu()`` before
        destroying it, or let it go and it is simply garbage collected.
        """
        with self._lock("replace"):
            return self._exchange(value)

    def update(self, fn: Callable[[Optional[T]], Optional[T]]) -> Optional[T]:
        """Read-copy-update: publish ``fn(old)`` and return it.

        Writers of this cell wait for each other, so ``fn`` sees the latest
        value.  If ``fn`` raises, nothing changes.  The old value is reclaimed
        after a grace period.
        """
        _check_callbacks_run("RcuCell.update()")
        with self._lock("update"):
            old = self.raw_get()
            new = fn(old)
            self._exchange(new)
        _retire(old, new, "update")
        return new

    def __repr__(self) -> str:
        return f"<RcuCell {self.raw_get()!r}>"
