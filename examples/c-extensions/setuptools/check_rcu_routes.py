# SPDX-License-Identifier: MIT
"""Check the installed rcu_routes against qemu_rcu: exit 0, or 1 with a message.

    python check_rcu_routes.py      (from any folder, once it is installed)

A Python RcuGuard is a read-side section for the C code too: a table that
C retires with free_rcu() inside it is freed only after the guard ends, and
qemu_rcu.drain_call_rcu() waits for that free.  clear() (C's
synchronize_rcu()) refuses to run inside the section and waits after it.
"""

from __future__ import annotations

import importlib
import sys
import time
from typing import Dict, List, Optional, Protocol, Sequence, Tuple, cast

import qemu_rcu
from qemu_rcu import RcuGuard

Route = Tuple[int, int, int]


class RcuRoutes(Protocol):
    """What rcu_routes.c exports, for the type checker."""

    def publish(self, routes: Sequence[Route], version: int) -> None: ...
    def lookup(self, addr: int) -> Optional[int]: ...
    def start_readers(self, count: int) -> None: ...
    def stop_readers(self) -> Dict[str, int]: ...
    def clear(self) -> None: ...
    def lock_held(self) -> bool: ...


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

    routes = cast(RcuRoutes, importlib.import_module("rcu_routes"))
    ten = 10 << 24
    routes.publish([(ten, 8, 1)], 1)
    expect(routes.lookup(ten + 5) == 1, "lookup under C's RCU_READ_LOCK_GUARD()")

    qemu_rcu.drain_call_rcu()                      # nothing else pending from here on
    before = callbacks_settled()
    with RcuGuard():
        expect(routes.lock_held(), "a Python RcuGuard is a section for C")
        routes.publish([(ten, 8, 2)], 2)           # free_rcu() of table 1
        try:
            routes.clear()
            expect(False, "clear() inside the section raises")
        except RuntimeError:
            expect(True, "clear() inside the section raises")
        expect(callbacks_invoked() == before, "free_rcu() waits for the section")
    expect(qemu_rcu.drain_call_rcu(timeout=30), "drain_call_rcu() returns")
    expect(callbacks_invoked() >= before + 1, "C's free_rcu() ran after the section")

    routes.start_readers(2)
    for version in range(3, 200):
        routes.publish([(ten, 8, version), (ten | 1 << 16, 16, version)], version)
    counters = routes.stop_readers()
    expect(counters["lookups"] > 0 and counters["bad_tables"] == 0,
           f"C readers: {counters['lookups']} lookups, no damaged table")

    routes.clear()                                 # synchronize_rcu(), then free()
    expect(routes.lookup(ten + 5) is None, "clear() unpublishes the table")

    print(f"{len(failures)} failure(s)" if failures else "all checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
