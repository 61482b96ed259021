# SPDX-License-Identifier: MIT
"""qemu_rcu: QEMU's userspace read-copy-update, for Python and C extensions.

Readers hold an ``RcuGuard`` and read ``RcuCell`` values without locks;
writers publish new values, and old ones are released only after every
reader that could still see them has left (a grace period).
"""

from ._binding import ffi, get_include, lib
from ._version import __version__ as __version__
from .callbacks import call_rcu, drain_call_rcu, synchronize_rcu
from .cell import RcuCell, RcuRef
from .errors import RcuDeadlockError, RcuError, RcuGuardExpired, RcuThreadError
from .guard import RcuGuard, read_lock, read_lock_held, register_thread, unregister_thread

__all__ = [
    "RcuCell", "RcuDeadlockError", "RcuError", "RcuGuard", "RcuGuardExpired",
    "RcuRef", "RcuThreadError", "call_rcu", "drain_call_rcu", "ffi",
    "get_include", "lib", "read_lock", "read_lock_held", "register_thread",
    "synchronize_rcu", "unregister_thread",
]
