# SPDX-License-Identifier: MIT
"""Check the installed rcu_counter against qemu_rcu: exit 0, or 1 with a message.

    python check_rcu_counter.py     (from any folder, once it is installed)

C's synchronize_rcu() waits for a read-side section opened from Python: a
thread holds an RcuGuard while set_sync() runs, and set_sync() returns
only after the guard has ended.  free_rcu() inside a guard is reclaimed only
after it, and qemu_rcu.drain_call_rcu() waits for that.
"""

from __future__ import annotations

import importlib
import sys
import threading
import time
from typing import List, Optional, Protocol, cast

import qemu_rcu
from qemu_rcu import RcuGuard


class RcuCounter(Protocol):
    """What rcu_counter.c exports, for the type checker."""

    def get(self) -> Optional[int]: ...
    def set(self, value: int) -> None: ...
    def set_sync(self, value: int) -> Optional[int]: ...
    def in_section(self) -> bool: ...


def callbacks_invoked() -> int:
    stats = qemu_rcu.ffi.new("struct rcu_stats *")
    qemu_rcu.lib.rcu_get_stats(stats)
    return int(stats.callbacks_invoked)


def callbacks_settled() -> int:
    """callbacks_invoked() once every queued callback has returned.

    A drain returns as soon as its own callback has signalled it, a moment
    before that callback counts as returned.
    """
    stats = qemu_rcu.ffi.new("struct rcu_stats *")
    deadline = time.monotonic() + 30
    while True:
        qemu_rcu.lib.rcu_get_stats(stats)
        if stats.callbacks_invoked == stats.callbacks_queued or time.monotonic() > deadline:
            return int(stats.callbacks_invoked)
        time.sleep(0.001)


def main() -> int:
    failures: List[str] = []

    def expect(ok: bool, what: str) -> None:
        print(("ok   " if ok else "FAIL ") + what)
        if not ok:
            failures.append(what)

    counter = cast(RcuCounter, importlib.import_module("rcu_counter"))
    expect(counter.get() is None, "nothing published yet")
    counter.set(1)
    expect(counter.get() == 1, "get() under RCU_READ_LOCK_GUARD()")

    qemu_rcu.drain_call_rcu()
    before = callbacks_settled()
    with RcuGuard():
        expect(counter.in_section(), "a Python RcuGuard is a section for C")
        counter.set(2)                             # free_rcu() of 1
        try:
            counter.set_sync(3)
            expect(False, "set_sync() inside the section raises")
        except RuntimeError:
            expect(True, "set_sync() inside the section raises")
        expect(callbacks_invoked() == before, "free_rcu() waits for the section")
    expect(qemu_rcu.drain_call_rcu(timeout=30), "drain_call_rcu() returns")
    expect(callbacks_invoked() >= before + 1, "C's free_rcu() ran after the section")

    # Another thread reads inside a guard for a while; set_sync() waits for it.
    entered, left = threading.Event(), threading.Event()

    def reader() -> None:
        with RcuGuard():
            entered.set()
            time.sleep(0.3)
            left.set()

    thread = threading.Thread(target=reader)
    thread.start()
    entered.wait(10)
    old = counter.set_sync(4)                      # synchronize_rcu() in C
    expect(left.is_set(), "C's synchronize_rcu() waited for the Python section")
    expect(old == 2 and counter.get() == 4, "set_sync() returns the value it replaced")
    thread.join()

    print(f"{len(failures)} failure(s)" if failures else "all checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
