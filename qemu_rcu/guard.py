# SPDX-License-Identifier: MIT
"""Read-side sections: guards and thread registration.

An ``RcuGuard`` holds the calling thread inside a read-side section for as
long as it is active; it belongs to that thread and ends exactly once.  The
type itself is written in C (``csrc/python/types.c``) because it sits on every read.
"""

from __future__ import annotations

from ._binding import lib
from ._native import RcuGuard, read_lock, read_lock_held
from .errors import RcuError

__all__ = ["RcuGuard", "read_lock", "read_lock_held", "register_thread",
           "unregister_thread"]


def register_thread() -> None:
    """Register the calling thread as a reader.

    Optional: a thread registers on its first guard and unregisters when it
    ends.  Calling it again is harmless.
    """
    lib.rcu_register_thread()


def unregister_thread() -> None:
    """Stop writers from waiting for the calling thread; idempotent.

    Raises ``RcuError`` inside a read-side section, where it would let
    writers reclaim what the thread is still reading.
    """
    if read_lock_held():
        raise RcuError(
            "unregister_thread() called inside a read-side section; end every "
            "RcuGuard of this thread first"
        )
    lib.rcu_unregister_thread()
