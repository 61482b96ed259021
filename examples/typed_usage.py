# SPDX-License-Identifier: MIT
"""The Python API with full type annotations; ``mypy --strict`` accepts this file.

    python examples/typed_usage.py --seconds 1
    mypy --strict examples/typed_usage.py

``RcuCell[T]`` is generic: ``get(guard)`` returns ``Optional[RcuRef[T]]``
and ``ref.value`` is a ``T``, so the type checker follows values from the
writer to every reader.
"""

from __future__ import annotations

import argparse
import math
import sys
import threading
import time
from typing import List, Optional

from qemu_rcu import (
    RcuCell,
    RcuGuard,
    RcuGuardExpired,
    RcuRef,
    call_rcu,
    drain_call_rcu,
    read_lock,
    read_lock_held,
    synchronize_rcu,
)

# A cell of plain dicts.  Readers must treat what they get as read-only:
# writers publish a changed copy, never change a published dict.
limits: RcuCell[dict[str, int]] = RcuCell({"cpus": 2, "memory_mb": 512})


def read_limit(name: str) -> int:
    """Readers: a guard, then get(); the reference is good until the guard ends."""
    with RcuGuard() as guard:
        ref: Optional[RcuRef[dict[str, int]]] = limits.get(guard)
        if ref is None:                   # an empty cell
            return 0
        return ref.value.get(name, 0)


def raise_limit(name: str, by: int) -> None:
    """Writers: read-copy-update, serialised with the cell's other writers."""

    def bump(old: Optional[dict[str, int]]) -> dict[str, int]:
        new = dict(old or {})             # copy...
        new[name] = new.get(name, 0) + by  # ...update...
        return new                        # ...and update() publishes it

    limits.update(bump)


class Session:
    """A value that must be closed, but only once no reader can use it."""

    def __init__(self, user: str) -> None:
        self.user = user
        self.open = True

    def __rcu_reclaim__(self) -> None:
        # Called on the RCU callback thread after the grace period.
        self.open = False


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="how long to run (1)")
    args = parser.parse_args(argv)
    if not 0 < args.seconds < math.inf:
        parser.error("--seconds must be finite and greater than 0")

    # A reader thread that never waits for the writer below.
    stop = threading.Event()
    seen: List[int] = []

    def reader() -> None:
        while not stop.is_set():
            seen.append(read_limit("cpus"))

    thread = threading.Thread(target=reader)
    try:
        thread.start()
        deadline = time.monotonic() + args.seconds
        while time.monotonic() < deadline:
            raise_limit("cpus", 1)
            time.sleep(0.01)
    finally:                              # on Ctrl-C too: the reader must stop
        stop.set()
        if thread.ident is not None:      # it was started
            thread.join()
    print(f"reader saw cpus from {min(seen)} to {max(seen)} in {len(seen):,} reads; "
          f"now {read_limit('cpus')}")

    # A reference outlives its guard only as a tombstone.
    guard = read_lock()                   # the same as RcuGuard()
    ref = limits.get(guard)
    assert read_lock_held()
    guard.unlock()
    try:
        print(ref.value if ref is not None else None)
    except RcuGuardExpired as exc:
        print(f"after unlock: {type(exc).__name__}")

    # set() reclaims the old value after a grace period (its __rcu_reclaim__
    # runs); replace() hands it back to you instead.
    sessions: RcuCell[Session] = RcuCell(Session("alice"))
    old = sessions.replace(Session("bob"))
    ok: bool = synchronize_rcu(timeout=10.0)      # False only on timeout
    print(f"replaced {old.user if old else None!r}; grace period over: {ok}")
    bob: Optional[Session] = sessions.raw_get()
    sessions.set(None)                            # bob: reclaimed after a grace period

    # call_rcu: any callable with its arguments, run after a grace period.
    done: List[str] = []
    call_rcu(done.append, "callback ran")
    drained: bool = drain_call_rcu(timeout=10.0)  # also waits for bob's reclaim
    print(f"{done[0] if done else 'callback pending'}; drained: {drained}; "
          f"bob's session open: {bob.open if bob else None}")
    return 0 if ok and drained else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)       # 128 + SIGINT, as shells report Ctrl-C
