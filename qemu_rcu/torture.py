# SPDX-License-Identifier: MIT
"""``qemu-rcu torture``: an rcutorture-style stress of the installed package.

Readers check what they read while updaters publish and reclaim; any sign
that a grace period ended too early is an error:

- the pipeline: one updater cycles ten objects through a cell, ageing the
  ones it replaced and waiting for a grace period after each step.  A
  reader may see age 0 (current) or 1 (just replaced); 2 or more means it
  kept an object across a whole grace period that followed its removal.
- heap objects: a second updater publishes fresh objects and retires the
  old ones through callbacks that poison them; a reader that sees the
  poison was not protected.
- mbtest: an object is marked ready before it is published; a reader that
  sees it unready saw the publication out of order.
- more updaters wait for grace periods in loops, so they overlap.

``--mode c`` runs all of that in C threads inside the cffi module
(``csrc/torture/torture.c``); ``--mode python`` does the same with ``RcuCell``,
``RcuGuard`` and Python threads; ``both`` runs the two at once, sharing
the one RCU domain.
"""

from __future__ import annotations

import argparse
import threading
import time
from dataclasses import dataclass, field
from typing import Any, List, Optional, Protocol, TextIO, Tuple

from . import __version__, _cli
from ._binding import ffi, lib, membarrier_in_use
from ._progress import Progress
from .callbacks import drain_call_rcu, synchronize_rcu
from .cell import RcuCell
from .guard import RcuGuard

PIPE_LEN = 10
AGES = PIPE_LEN + 1          # ages 0..9, and a last bucket for 10 and over
PROGRESS_INTERVAL_S = 0.5


@dataclass
class Counts:
    """What one side (C or Python) did, and what its readers saw."""

    reads: int = 0
    updates: int = 0          # pipeline steps, each ending with a grace period
    heap_updates: int = 0     # heap objects retired
    reclaimed: int = 0        # ... whose reclaim callback has run
    sync_loops: int = 0       # waits of the extra updaters
    mberrors: int = 0
    poisoned: int = 0
    recycled: int = 0
    age: List[int] = field(default_factory=lambda: [0] * AGES)

    def errors(self) -> int:
        """Read errors: anything but zero means RCU failed to protect a reader."""
        return self.mberrors + self.poisoned + self.recycled + sum(self.age[2:])


class Side(Protocol):
    """One set of torture threads: C or Python."""

    label: str

    def snapshot(self) -> Counts: ...
    def stop(self) -> Counts: ...


# ---- C mode: threads of csrc/torture/torture.c ------------------------------------


class CTorture:
    """Reader and updater threads in C, started and stopped through cffi."""

    label = "C"

    def __init__(self, readers: int, updaters: int) -> None:
        self._counts = ffi.new("struct qemu_rcu_torture_counts *")
        self._t: Any = lib.qemu_rcu_torture_start(readers, updaters)
        if self._t == ffi.NULL:
            raise RuntimeError("cannot start the C torture threads")

    def _convert(self) -> Counts:
        c = self._counts
        return Counts(c.reads, c.updates, c.heap_updates, c.reclaimed, c.sync_loops,
                      c.mberrors, c.poisoned, c.recycled, list(c.age))

    def snapshot(self) -> Counts:
        lib.qemu_rcu_torture_snapshot(self._t, self._counts)
        return self._convert()

    def stop(self) -> Counts:
        # cffi releases the GIL: the join and the drains inside may wait for
        # Python callbacks, which need it.
        lib.qemu_rcu_torture_stop(self._t, self._counts)
        self._t = ffi.NULL
        return self._convert()


# ---- Python mode: the same with RcuCell and Python threads ------------------


class _Obj:
    """A published object; the fields mirror struct torture_obj in torture.c."""

    __slots__ = ("age", "mbtest", "generation", "poison")

    def __init__(self, generation: int) -> None:
        self.age = 0
        self.mbtest = 1
        self.generation = generation
        self.poison = False


class _HeapObj(_Obj):
    """Retired through RcuCell.set: poisoned once its grace period is over."""

    __slots__ = ("owner",)

    def __init__(self, generation: int, owner: PyTorture) -> None:
        super().__init__(generation)
        self.owner = owner

    def __rcu_reclaim__(self) -> None:
        self.poison = True
        self.mbtest = 0
        self.owner.reclaimed += 1      # only the callback thread writes it


class _ReaderStats:
    """One reader's counters; only that reader writes them."""

    __slots__ = ("reads", "mberrors", "poisoned", "recycled", "age")

    def __init__(self) -> None:
        self.reads = self.mberrors = self.poisoned = self.recycled = 0
        self.age = [0] * AGES


class PyTorture:
    """Reader and updater threads in Python; roles as in torture.c."""

    label = "Python"

    def __init__(self, readers: int, updaters: int) -> None:
        self._ring = [_Obj(0) for _ in range(PIPE_LEN)]
        self._ring[0].generation = 1
        self._current: RcuCell[_Obj] = RcuCell(self._ring[0])
        self._heap: RcuCell[_HeapObj] = RcuCell(_HeapObj(1, self))
        self._running = True       # a plain flag: cheaper than an Event per read
        self._readers = [_ReaderStats() for _ in range(readers)]
        # One counter per updater, written by that updater only.
        self._updater_counts = [0] * updaters
        self.reclaimed = 0
        self._threads = [
            threading.Thread(target=self._reader, args=(stats,), daemon=True,
                             name=f"torture-reader-{i}")
            for i, stats in enumerate(self._readers)
        ]
        roles = [self._pipeline, self._heap_updater]
        for i in range(updaters):
            target = roles[i] if i < len(roles) else self._grace_periods
            self._threads.append(threading.Thread(target=target, args=(i,), daemon=True,
                                                  name=f"torture-updater-{i}"))
        for t in self._threads:
            t.start()

    def _reader(self, stats: _ReaderStats) -> None:
        current, heap = self._current, self._heap
        n = 0
        while self._running:
            n += 1
            with RcuGuard() as guard:
                p_ref, h_ref = current.get(guard), heap.get(guard)
                assert p_ref is not None and h_ref is not None   # never emptied
                p, h = p_ref.value, h_ref.value
                if not p.mbtest:
                    stats.mberrors += 1
                if not h.mbtest:
                    stats.mberrors += 1
                generation, heap_generation = p.generation, h.generation
                with RcuGuard():
                    # Now and then give the GIL away inside the section, so
                    # updaters run while this reader holds its objects.
                    if n % 64 == 0:
                        time.sleep(0)
                age = p.age
                if p.poison or h.poison:
                    stats.poisoned += 1
                if p.generation != generation or h.generation != heap_generation:
                    stats.recycled += 1
            stats.age[min(age, AGES - 1)] += 1
            stats.reads += 1

    def _pipeline(self, index: int) -> None:
        idx, generation = 0, 1
        while self._running:
            old = self._current.raw_get()
            idx = (idx + 1) % PIPE_LEN
            p = self._ring[idx]
            assert p is not old
            p.mbtest = 0
            p.age = 0
            generation += 1
            p.generation = generation
            p.poison = False
            p.mbtest = 1
            # replace(), not set(): the ring objects come back, so this
            # updater poisons the old one itself after the grace period.
            self._current.replace(p)
            for other in self._ring:
                if other is not p:
                    other.age += 1
            synchronize_rcu()
            assert old is not None
            old.poison = True
            self._updater_counts[index] += 1

    def _heap_updater(self, index: int) -> None:
        generation = 1
        while self._running:
            generation += 1
            self._heap.set(_HeapObj(generation, self))   # the old one: call_rcu
            self._updater_counts[index] += 1
            if generation % 256 == 0:
                drain_call_rcu()       # bound the backlog
            elif generation % 16 == 0:
                time.sleep(0.0001)

    def _grace_periods(self, index: int) -> None:
        # Even ones wait for grace periods, odd ones for callbacks as well.
        while self._running:
            if index % 2:
                drain_call_rcu()
            else:
                synchronize_rcu()
            self._updater_counts[index] += 1
            time.sleep(0.001)

    def snapshot(self) -> Counts:
        c = Counts(reclaimed=self.reclaimed)
        for s in self._readers:
            c.reads += s.reads
            c.mberrors += s.mberrors
            c.poisoned += s.poisoned
            c.recycled += s.recycled
            c.age = [a + b for a, b in zip(c.age, s.age)]
        for i, count in enumerate(self._updater_counts):
            if i == 0:
                c.updates += count
            elif i == 1:
                c.heap_updates += count
            else:
                c.sync_loops += count
        return c

    def stop(self) -> Counts:
        self._running = False
        for t in self._threads:
            t.join()
        drain_call_rcu()           # every retired heap object is reclaimed now
        return self.snapshot()


# ---- Reporting ---------------------------------------------------------------


def _si(x: float) -> str:
    """A rate in 3-4 characters: 950, 12.3k, 4.5M."""
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if x >= scale:
            return f"{x / scale:.1f}{unit}"
    return f"{x:.0f}"


def _grace_periods() -> int:
    stats = ffi.new("struct rcu_stats *")
    lib.rcu_get_stats(stats)
    return int(stats.grace_periods)


def _lost(c: Counts) -> int:
    # After stop every retired heap object must have been reclaimed.
    return c.heap_updates - c.reclaimed


def _report(label: str, c: Counts) -> List[str]:
    ages = " ".join(f"{i}{'+' if i == AGES - 1 else ''}:{n}" for i, n in enumerate(c.age))
    return [
        f"{label} threads:",
        f"  reads {c.reads:,}  pipeline updates {c.updates:,}  "
        f"heap objects retired {c.heap_updates:,} (reclaimed {c.reclaimed:,})  "
        f"extra grace-period waits {c.sync_loops:,}",
        f"  age histogram: {ages}",
        f"  ages >= 2: {sum(c.age[2:])}",
        f"  memory-ordering errors (mbtest): {c.mberrors}",
        f"  poisoned reads: {c.poisoned}",
        f"  recycled reads: {c.recycled}",
        f"  lost callbacks: {_lost(c)}",
    ]


def torture(seconds: float, readers: int, updaters: int, mode: str,
            progress: Progress) -> Tuple[int, bool]:
    """Run, print the report on stdout; return (errors, interrupted)."""
    gp0 = _grace_periods()
    runs: List[Side] = []
    interrupted = False
    final: List[Tuple[str, Counts]] = []
    start = time.monotonic()
    try:
        if mode in ("c", "both"):
            runs.append(CTorture(readers, updaters))
        if mode in ("python", "both"):
            runs.append(PyTorture(readers, updaters))
        last = [r.snapshot() for r in runs]
        last_gp, last_t = gp0, start
        while True:
            now = time.monotonic()
            if now - start >= seconds:
                break
            time.sleep(min(PROGRESS_INTERVAL_S, seconds - (now - start)))
            now, gp = time.monotonic(), _grace_periods()
            snaps = [r.snapshot() for r in runs]
            dt = max(now - last_t, 1e-9)
            parts = [f"{now - start:5.1f}s"]
            for r, s, prev in zip(runs, snaps, last):
                reads = (s.reads - prev.reads) / dt
                updates = (s.updates + s.heap_updates - prev.updates - prev.heap_updates) / dt
                parts.append(f"{r.label}: {_si(reads)} reads/s {_si(updates)} updates/s")
            parts.append(f"grace periods {gp - gp0:,} ({_si((gp - last_gp) / dt)}/s)")
            parts.append(f"errors {sum(s.errors() for s in snaps)}")
            progress("  ".join(parts))
            last, last_gp, last_t = snaps, gp, now
    except KeyboardInterrupt:
        interrupted = True
    finally:
        for r in runs:
            final.append((r.label, r.stop()))
        progress.done()
    elapsed = time.monotonic() - start

    print(f"qemu_rcu {__version__} torture: {elapsed:.1f} s, mode {mode}, {readers} readers "
          f"and {updaters} updaters per side, membarrier "
          f"{'yes' if membarrier_in_use() else 'no'}"
          + (" (interrupted)" if interrupted else ""))
    errors = 0
    for label, c in final:
        print("\n".join(_report(label, c)))
        errors += c.errors() + _lost(c)
        if (c.reads == 0 or c.updates == 0) and not interrupted:
            # Stopped early by the user, a run may not have got going: only a
            # run that had its time counts this against the core.
            print(f"  {label}: no reads or no pipeline updates: nothing was tested")
            errors += 1
    print(f"grace periods: {_grace_periods() - gp0:,}")
    print(f"errors: {errors}")
    print("PASS" if errors == 0 else "FAIL")
    return errors, interrupted


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=_cli.seconds, default=10.0, help="how long to run")
    parser.add_argument("--readers", type=_cli.count(1, lib.QEMU_RCU_TORTURE_MAX_READERS),
                        default=2, help="reader threads per side")
    parser.add_argument("--updaters", type=_cli.count(1, lib.QEMU_RCU_TORTURE_MAX_UPDATERS),
                        default=4, help="updater threads per side: the pipeline, the heap "
                                        "reclaimer, then grace-period loops")
    parser.add_argument("--mode", choices=("c", "python", "both"), default="both",
                        help="C threads in the extension, Python threads, or both at once")


def run(args: argparse.Namespace, stream: Optional[TextIO] = None) -> int:
    errors, interrupted = torture(args.seconds, args.readers, args.updaters, args.mode,
                                  Progress(stream, live=True))
    if errors:
        return 1
    return 130 if interrupted else 0
