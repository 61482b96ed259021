"""``python -m qemu_rcu demo``: readers never wait while a writer publishes."""

from __future__ import annotations

import argparse
import threading
import time
from typing import List

import qemu_rcu
from qemu_rcu import RcuCell, RcuGuard, drain_call_rcu


class Version:
    """A published configuration; poisoned once reclaimed."""

    __slots__ = ("number", "alive")

    def __init__(self, number: int) -> None:
        self.number = number
        self.alive = True

    def __rcu_reclaim__(self) -> None:
        self.alive = False


def demo(seconds: float, readers: int) -> int:
    cell: RcuCell[Version] = RcuCell(Version(0))
    stop = threading.Event()
    reads = [0] * readers
    dead_reads = [0] * readers

    def reader(i: int) -> None:
        while not stop.is_set():
            with RcuGuard() as guard:
                ref = cell.get(guard)
                if ref is not None and not ref.value.alive:
                    dead_reads[i] += 1
            reads[i] += 1

    threads: List[threading.Thread] = [
        threading.Thread(target=reader, args=(i,)) for i in range(readers)]
    for t in threads:
        t.start()
    updates = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        updates += 1
        cell.set(Version(updates))
        time.sleep(0.001)
    stop.set()
    for t in threads:
        t.join()
    drain_call_rcu()
    stats = qemu_rcu.ffi.new("struct rcu_stats *")
    qemu_rcu.lib.rcu_get_stats(stats)
    print(f"{readers} readers, 1 writer, {seconds:g} s: {sum(reads):,} reads, "
          f"{updates:,} updates, {stats.grace_periods:,} grace periods, "
          f"{stats.callbacks_invoked:,} callbacks run, "
          f"{sum(dead_reads)} reads of reclaimed versions")
    return 1 if sum(dead_reads) else 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=float, default=2.0, help="how long to run")
    parser.add_argument("--readers", type=int, default=2, help="reader threads")


def run(args: argparse.Namespace) -> int:
    if args.seconds <= 0 or args.readers < 1:
        raise SystemExit("--seconds must be positive and --readers at least 1")
    return demo(args.seconds, args.readers)
