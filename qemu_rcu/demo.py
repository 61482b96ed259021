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

from qemu_rcu import RcuCell, RcuGuard, drain_call_rcu

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


def _drive(seconds: float, readers: int, read: Callable[[], Version],
           publish: Callable[[int], None]) -> Run:
    run = Run()
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            start = time.perf_counter()
            if not read().alive:
                run.dead += 1
            run.worst_s = max(run.worst_s, time.perf_counter() - start)
            run.reads += 1
            time.sleep(0.0005)

    threads: List[threading.Thread] = [threading.Thread(target=reader) for _ in range(readers)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        run.versions += 1
        publish(run.versions)
    stop.set()
    for t in threads:
        t.join()
    return run


def with_rcu(seconds: float, readers: int) -> Run:
    cell: RcuCell[Version] = RcuCell(Version(0))

    def read() -> Version:
        with RcuGuard() as guard:
            ref = cell.get(guard)
            assert ref is not None
            return ref.value

    def publish(n: int) -> None:
        cell.set(Version(n))             # built aside; the old one is reclaimed later

    run = _drive(seconds, readers, read, publish)
    drain_call_rcu()
    return run


def with_lock(seconds: float, readers: int) -> Run:
    lock = threading.Lock()
    current = [Version(0)]

    def read() -> Version:
        with lock:
            return current[0]

    def publish(n: int) -> None:
        with lock:                       # readers wait for the whole build
            current[0] = Version(n)

    return _drive(seconds, readers, read, publish)


def demo(seconds: float, readers: int) -> int:
    print(f"{readers} readers, 1 writer publishing a new version every "
          f"{BUILD_S * 1e3:g} ms, {seconds:g} s each way:")
    rcu = with_rcu(seconds, readers)
    print(f"  RcuCell:        {rcu.reads:8,} reads, slowest {rcu.worst_s * 1e3:6.2f} ms, "
          f"{rcu.versions:,} versions published, {rcu.dead} reads of a reclaimed version")
    lock = with_lock(seconds, readers)
    print(f"  threading.Lock: {lock.reads:8,} reads, slowest {lock.worst_s * 1e3:6.2f} ms")
    return 1 if rcu.dead else 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=float, default=2.0, help="how long each run lasts")
    parser.add_argument("--readers", type=int, default=2, help="reader threads")


def run(args: argparse.Namespace) -> int:
    if args.seconds <= 0 or args.readers < 1:
        raise SystemExit("--seconds must be positive and --readers at least 1")
    return demo(args.seconds, args.readers)
