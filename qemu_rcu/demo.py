# SPDX-License-Identifier: MIT
"""``qemu-rcu demo``: readers never wait while a writer publishes.

Reader threads keep reading a shared configuration while a writer keeps
building new versions, each build taking 20 ms without the GIL (as if read
from a file).  Run once with an ``RcuCell`` and once with the same program
guarded by a ``threading.Lock``, it prints how long the slowest read took in
each, and that every replaced version was reclaimed only after its readers
had left.
"""

from __future__ import annotations

import argparse
import threading
import time
from typing import Callable, List

from qemu_rcu import RcuCell, RcuGuard, _cli, drain_call_rcu

BUILD_S = 0.020


class Version:
    """A published configuration; marks itself dead once reclaimed."""

    __slots__ = ("number", "alive")

    def __init__(self, number: int) -> None:
        time.sleep(BUILD_S)          # the slow part of building it
        self.number = number
        self.alive = True

    def __rcu_reclaim__(self) -> None:
        self.alive = False


class Run:
    """Counts shared by the reader threads of one run."""

    def __init__(self) -> None:
        self.reads = 0
        self.worst_s = 0.0
        self.dead = 0
        self.versions = 0


def _drive(seconds: float, readers: int, read_alive: Callable[[], bool],
           publish: Callable[[int], None]) -> Run:
    run = Run()
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            start = time.perf_counter()
            if not read_alive():
                run.dead += 1
            run.worst_s = max(run.worst_s, time.perf_counter() - start)
            run.reads += 1
            time.sleep(0.0005)

    threads: List[threading.Thread] = []
    try:
        for _ in range(readers):
            threads.append(threading.Thread(target=reader))
            threads[-1].start()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            run.versions += 1
            publish(run.versions)
    finally:                             # Ctrl-C too: the readers must stop
        stop.set()
        for t in threads:
            if t.ident is not None:      # it was started
                t.join()
    return run


def with_rcu(seconds: float, readers: int) -> Run:
    cell: RcuCell[Version] = RcuCell(Version(0))

    def read_alive() -> bool:
        # The value is used only while the guard is active.
        with RcuGuard() as guard:
            ref = cell.get(guard)
            assert ref is not None
            return ref.value.alive

    def publish(n: int) -> None:
        cell.set(Version(n))             # built aside; the old one is reclaimed later

    run = _drive(seconds, readers, read_alive, publish)
    drain_call_rcu()
    return run


def with_lock(seconds: float, readers: int) -> Run:
    lock = threading.Lock()
    current = [Version(0)]

    def read_alive() -> bool:
        with lock:
            return current[0].alive

    def publish(n: int) -> None:
        with lock:                       # readers wait for the whole build
            current[0] = Version(n)

    return _drive(seconds, readers, read_alive, publish)


def demo(seconds: float, readers: int) -> int:
    print(f"{readers} readers, 1 writer publishing a new version every "
          f"{BUILD_S * 1e3:g} ms, {seconds:g} s each way:", flush=True)
    rcu = with_rcu(seconds, readers)
    print(f"  RcuCell:        {rcu.reads:8,} reads, slowest {rcu.worst_s * 1e3:6.2f} ms, "
          f"{rcu.versions:,} versions published, {rcu.dead} reads of a reclaimed version")
    lock = with_lock(seconds, readers)
    print(f"  threading.Lock: {lock.reads:8,} reads, slowest {lock.worst_s * 1e3:6.2f} ms")
    if rcu.dead:
        print(f"FAIL: {rcu.dead} reads saw a version after it was reclaimed.")
        return 1
    print(f"Conclusion: with RCU the slowest read took {rcu.worst_s * 1e3:.2f} ms against "
          f"{lock.worst_s * 1e3:.2f} ms with a lock, because readers never wait for the "
          "writer, and no read ever saw a reclaimed version.")
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=_cli.seconds, default=2.0,
                        help="how long each run lasts")
    parser.add_argument("--readers", type=_cli.count(1), default=2, help="reader threads")


def run(args: argparse.Namespace) -> int:
    return demo(args.seconds, args.readers)
