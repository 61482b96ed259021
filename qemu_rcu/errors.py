# SPDX-License-Identifier: MIT
"""Exceptions raised by qemu_rcu."""


class RcuError(RuntimeError):
    """Base class of every error qemu_rcu raises."""


class RcuGuardExpired(RcuError):
    """A guard, or a reference taken under it, was used after the guard ended."""


class RcuThreadError(RcuError):
    """A guard, or a reference taken under it, was used from a thread that does not own it."""


class RcuDeadlockError(RcuError):
    """The call would wait for a grace period that the calling thread itself is blocking."""
