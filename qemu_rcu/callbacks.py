# SPDX-License-Identifier: MIT
"""The write side: ``call_rcu``, ``drain_call_rcu``, ``synchronize_rcu``.

Python callbacks are numbered and queued in C (``csrc/python/callbacks.c``,
which owns the queue); the RCU callback thread runs them, in order, once
their grace period has passed.  This module reads the queue only through
that file's accessors (``_native._queued_count`` and the like), and decides
what happens at exit and after fork.  A wait is a ``_native._Wait``: for a
drain, a callback queued behind everything this thread queued before; for a
grace period, a request served by a helper thread that runs synchronize_rcu,
so it never waits for queued callbacks.  We wait for it in short slices with
the GIL released, so Ctrl-C and timeouts work.  docs/design.md, "A
callback's life" and "Fork and exit", tells the whole story.
"""

from __future__ import annotations

import atexit
import decimal
import math
import numbers
import os
import sys
import time
from typing import Optional, Tuple

from ._binding import ffi, lib
from ._native import (
    _accepting_callbacks,
    _after_fork_in_child,
    _close_python,
    _first_queued,
    _last_queued,
    _last_started,
    _on_callback_thread,
    _queued_count,
    _running_callback,
    _Wait,
    call_rcu,
    read_lock_held,
)
from .errors import RcuDeadlockError, RcuError

__all__ = ["call_rcu", "drain_call_rcu", "synchronize_rcu"]

# The longest a wait runs in C before Python looks at signals again.
_SLICE_NS = 20_000_000


def _check_timeout(timeout: Optional[float]) -> Optional[float]:
    """The timeout in seconds as a float, or None to wait as long as it takes.

    Any non-negative real number is accepted (int, float, Decimal, Fraction,
    ...); one too large for a float, and infinity, mean no timeout.
    """
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (numbers.Real, decimal.Decimal)):
        raise TypeError(
            f"timeout must be None or a real number, not {type(timeout).__name__}")
    try:
        seconds = float(timeout)
    except OverflowError:              # e.g. 10**400: larger than any float
        seconds = math.inf if timeout > 0 else -math.inf
    except ValueError:                 # Decimal('sNaN')
        seconds = math.nan
    if math.isnan(seconds) or seconds < 0:
        raise ValueError(f"timeout must be None or a non-negative number, not {timeout!r}")
    return None if math.isinf(seconds) else seconds


def _check_not_in_section(what: str) -> None:
    if read_lock_held():
        raise RcuDeadlockError(
            f"{what}() called inside a read-side section of this thread; it "
            "would wait for that section to end, i.e. forever. End the "
            "RcuGuard first."
        )


def _check_callbacks_run(what: str) -> None:
    if not _accepting_callbacks():
        raise RcuError(
            f"{what}: the interpreter is exiting and qemu_rcu's exit handler has "
            "run, so Python callbacks no longer run")


def _wait(drain: bool, timeout: Optional[float]) -> bool:
    if drain:
        _check_callbacks_run("drain_call_rcu()")
    # Callbacks numbered up to this were queued before the call.
    last = _last_queued() if drain else 0
    waiting = _Wait(drain)
    pid = os.getpid()
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        while True:
            slice_ns = _SLICE_NS
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return waiting.wait(0)
                # min() first: a huge timeout times 1e9 may be inf.
                slice_ns = int(min(slice_ns, left * 1e9))
            # Between slices Python runs signal handlers: Ctrl-C lands here.
            if waiting.wait(slice_ns):
                if 0 < _first_queued() <= last:
                    # Exit closed the way into Python while we waited.
                    _check_callbacks_run("drain_call_rcu()")
                return True
            if (drain or _on_callback_thread()) and not _accepting_callbacks():
                # A callback waiting here would hold the exit handler up.
                _check_callbacks_run("drain_call_rcu()" if drain else "synchronize_rcu()")
            if not drain and os.getpid() != pid:
                # A handler forked us mid-wait: the helper thread that held
                # our request stayed in the parent.  Ask again here.
                stale, waiting = waiting, _Wait(drain)
                stale.close()
                pid = os.getpid()
    finally:
        waiting.close()


def synchronize_rcu(timeout: Optional[float] = None) -> bool:
    """Wait until every read-side section that began before the call has ended.

    The GIL is released while waiting and Ctrl-C interrupts the wait.
    Returns ``False`` if ``timeout`` seconds passed first.  Raises
    ``RcuDeadlockError`` inside a read-side section of the calling thread.
    Queued callbacks never delay it, so it works inside a callback too.
    """
    timeout = _check_timeout(timeout)
    _check_not_in_section("synchronize_rcu")
    return _wait(False, timeout)


def drain_call_rcu(timeout: Optional[float] = None) -> bool:
    """Wait until every callback this thread queued before the call has run.

    Also implies a full grace period.  Returns ``False`` on timeout.  Raises
    ``RcuDeadlockError`` inside a read-side section or inside an RCU
    callback, where it would wait for itself.
    """
    timeout = _check_timeout(timeout)
    _check_not_in_section("drain_call_rcu")
    if _on_callback_thread():
        raise RcuDeadlockError(
            "drain_call_rcu() called from inside an RCU callback; the "
            "callback thread would wait for itself"
        )
    return _wait(True, timeout)


# ---- Interpreter exit and fork ---------------------------------------------

# At exit, callbacks run for as long as they keep completing; the handler
# gives up after this many seconds in which none completed.
_EXIT_PATIENCE_S = 10.0
_EXIT_PATIENCE_ENV = "QEMU_RCU_EXIT_PATIENCE"


def _exit_patience() -> float:
    """Seconds without a completed callback before exit gives up on them."""
    text = os.environ.get(_EXIT_PATIENCE_ENV)
    if text is None:
        return _EXIT_PATIENCE_S
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not 0 <= seconds < math.inf:
        print(f"qemu_rcu: ignoring {_EXIT_PATIENCE_ENV}={text!r}: not a non-negative "
              f"number of seconds; using {_EXIT_PATIENCE_S:g}", file=sys.stderr)
        return _EXIT_PATIENCE_S
    return seconds


def _callbacks_unfinished() -> bool:
    """True if a callback was queued and has not returned (C ones included)."""
    stats = ffi.new("struct rcu_stats *")
    lib.rcu_get_stats(stats)
    return bool(stats.callbacks_queued != stats.callbacks_invoked)


def _what_stalled(patience: float) -> str:
    """Why no callback completed for ``patience`` seconds, in a phrase."""
    fn = _running_callback()
    if fn is not None:
        return f"the callback {fn!r} did not return for {patience:g} s"
    if not synchronize_rcu(timeout=min(patience, 1.0)):
        return ("a read-side section stayed open (a thread inside an RcuGuard or "
                "rcu_read_lock()), so no grace period could end")
    return (f"the callback thread ran no Python callback for {patience:g} s: a C "
            "callback ahead of them did not return")


def _drain_at_exit(patience: float) -> Tuple[Optional[str], bool]:
    """Run queued callbacks (C ones too) while they keep completing.

    Returns (None, False) once all have run, or why the handler gave up and
    whether it was because nothing completed for ``patience`` seconds (a
    stall) rather than because callbacks queued after exit began kept coming
    for that long.
    """
    if not _queued_count() and not _callbacks_unfinished():
        return None, False
    first_new = _last_queued() + 1          # queued after exit began
    progress = time.monotonic()
    taken = _last_started()
    new_ones_since: Optional[float] = None
    while True:
        # Done only once nothing is queued and nothing runs: a callback may
        # be between taking its entry and queuing the next one.
        if (drain_call_rcu(timeout=min(patience, 1.0)) and not _queued_count()
                and _running_callback() is None):
            return None, False
        now = time.monotonic()
        if _last_started() != taken:        # one started, so the one before it returned
            taken = _last_started()
            progress = now
        elif now - progress >= patience:
            return _what_stalled(patience), True
        if new_ones_since is None:
            if taken >= first_new - 1:      # every one queued before exit has started
                new_ones_since = now
        elif now - new_ones_since >= patience:
            return (f"callbacks kept queuing callbacks during exit, and those queued "
                    f"after exit began were cut off after {patience:g} s"), False


def _run_pending_at_exit() -> None:
    # atexit runs before finalization: run what is queued while Python can,
    # then keep the callback thread out of the interpreter for good.
    patience = _exit_patience()
    why: Optional[str] = None
    stalled = False
    try:
        if read_lock_held():
            why = "the exiting thread is inside a read-side section, so no grace period can end"
        else:
            why, stalled = _drain_at_exit(patience)
    finally:
        # A callback under way finishes, or stops at its next RCU wait (a
        # few slices); one that just stalled the drain gets only the latter.
        running = _running_callback()
        wait_ns = 5 * _SLICE_NS if stalled else int(patience * 1e9)
        if not _close_python(wait_ns):
            print(f"qemu_rcu: the Python RCU callback {running!r} was still running at "
                  "exit; it is left to the interpreter's finalization, like a daemon "
                  "thread, and a new thread runs the C callbacks", file=sys.stderr)
    left = _queued_count()
    if left:
        why = why or "they were queued while the exit handler was closing the queue"
        print(f"qemu_rcu: {left} Python RCU callbacks never ran at exit: {why}",
              file=sys.stderr)
    elif why:
        # Nothing left in the queue (a callback cut off mid-chain is refused
        # when it queues the next one), but the handler still gave up.
        print(f"qemu_rcu: the exit handler stopped running Python RCU callbacks: {why}",
              file=sys.stderr)


atexit.register(_run_pending_at_exit)
os.register_at_fork(after_in_child=_after_fork_in_child)
