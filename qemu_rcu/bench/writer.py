# SPDX-License-Identifier: MIT
"""Part 3: readers of a shared configuration while a writer keeps rebuilding it.

The configuration is a dict of 10,000 entries; each read looks up a few
random keys.  One writer rebuilds it again and again, each rebuild taking at
least 20 ms, with a short gap between rebuilds.  Two kinds of rebuild:

- cpu: fill the dict, then validate it until 20 ms have passed: Python
  code holding the GIL throughout, like parsing a configuration;
- io: fill the dict, then wait out the 20 ms without the GIL, like reading
  the new configuration from a file or a server.

The cpu kind runs twice: with the interpreter's switch interval as it is
(5 ms by default) and at 1 ms, for every way of sharing alike.

Three ways to share it:

- RcuCell: the writer builds a new dict aside and publishes it with
  ``cell.set``; readers read under an ``RcuGuard`` and never wait for it.
- threading.Lock: the writer rebuilds the shared dict in place holding the
  lock, so a reader that comes along waits for the rest of the rebuild.
- readerwriterlock RWLockFair: the same with a fair readers-writer lock.

Readers work in an open loop: each attempts a fixed number of reads per
second, and a read's latency counts from when it was due, so a reader held
up for 20 ms reports every read it missed, not only the one it was stuck in.
A row gives p50/p99/max latency and the reads/s achieved.
"""

from __future__ import annotations

import importlib
import random
import sys
import threading
import time
from array import array
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Tuple

from .report import Column, Table
from .stats import median, paired_ratio

Config = Dict[str, Tuple[int, int]]
# Row kinds: how the rebuild spends its time, and the interpreter's switch
# interval during the run (None: leave it alone).
KINDS = {"cpu": ("cpu", None), "cpu/1ms": ("cpu", 0.001), "io": ("io", None)}
RWLOCK_HINT = ("readerwriterlock is not installed, so its rows are skipped: "
               "pip install qemu-rcu[bench]  (or: pip install readerwriterlock)")


@dataclass
class WriterSettings:
    duration: float = 1.5          # seconds per variant, kind and round
    rounds: int = 3
    readers: int = 2
    entries: int = 10_000
    keys_per_read: int = 4
    min_rebuild_s: float = 0.020   # each rebuild takes at least this long
    # Between rebuilds the writer sleeps this long: threading.Lock does not
    # hand over to a waiting thread, so a writer that re-takes it at once
    # can shut readers out for a whole run.
    gap_s: float = 0.005
    rate: float = 2000.0           # reads per second each reader attempts


def _keys(entries: int) -> List[str]:
    return [f"key{i}" for i in range(entries)]


def rebuild(into: Config, generation: int, keys: List[str], min_s: float,
            kind: str = "cpu") -> None:
    """Fill ``into`` for this generation, then spend the rest of min_s."""
    deadline = time.perf_counter() + min_s
    for i, key in enumerate(keys):
        into[key] = (generation, i)
    if kind == "io":
        left = deadline - time.perf_counter()
        if left > 0:
            time.sleep(left)      # the GIL is free meanwhile
        return
    while time.perf_counter() < deadline:
        total = 0                 # validation pass, holding the GIL
        for gen, i in into.values():
            total += gen + i
        if total < 0:
            raise AssertionError("corrupt configuration")


class RcuVariant:
    label = "RcuCell"

    def __init__(self, keys: List[str], min_s: float, kind: str) -> None:
        from qemu_rcu import RcuCell, RcuGuard

        self._guard = RcuGuard
        self._keys, self._min_s, self._kind = keys, min_s, kind
        first: Config = {}
        rebuild(first, 0, keys, 0.0)
        self.cell: Any = RcuCell(first)

    def read(self, keys: Tuple[str, ...]) -> None:
        with self._guard() as g:
            config = self.cell.get(g).value
            for key in keys:
                config[key]

    def write(self, generation: int) -> None:
        new: Config = {}
        rebuild(new, generation, self._keys, self._min_s, self._kind)
        self.cell.set(new)


class LockVariant:
    label = "threading.Lock"

    def __init__(self, keys: List[str], min_s: float, kind: str) -> None:
        self._keys, self._min_s, self._kind = keys, min_s, kind
        self.config: Config = {}
        rebuild(self.config, 0, keys, 0.0)
        self._lock = threading.Lock()

    def read(self, keys: Tuple[str, ...]) -> None:
        with self._lock:
            config = self.config
            for key in keys:
                config[key]

    def write(self, generation: int) -> None:
        with self._lock:
            self.config.clear()
            rebuild(self.config, generation, self._keys, self._min_s, self._kind)


class RwVariant:
    label = "readerwriterlock RWLockFair"

    def __init__(self, keys: List[str], min_s: float, kind: str) -> None:
        rwlock = importlib.import_module("readerwriterlock.rwlock")
        lock = rwlock.RWLockFair()
        self._read_lock = lock.gen_rlock()
        self._write_lock = lock.gen_wlock()
        self._keys, self._min_s, self._kind = keys, min_s, kind
        self.config: Config = {}
        rebuild(self.config, 0, keys, 0.0)

    def read(self, keys: Tuple[str, ...]) -> None:
        with self._read_lock:
            config = self.config
            for key in keys:
                config[key]

    def write(self, generation: int) -> None:
        with self._write_lock:
            self.config.clear()
            rebuild(self.config, generation, self._keys, self._min_s, self._kind)


Variant = Any   # any of the classes above: label, read(keys), write(generation)


@dataclass
class RoundResult:
    p50_us: float
    p99_us: float
    max_us: float
    reads_per_s: float
    rebuilds: int


def _reader(variant: Variant, reads: List[Tuple[str, ...]], stop: threading.Event,
            interval_ns: int, out: array[int]) -> None:
    # Open loop: read number k is due at start + k * interval, and its
    # latency counts from then.  A reader held up by a writer therefore
    # reports every read it could not do in time, not just the one it was
    # stuck in (a closed loop would hide a 20 ms wait behind thousands of
    # fast reads: "coordinated omission").
    clock = time.perf_counter_ns
    read = variant.read
    n = len(reads)
    due = clock()
    i = 0
    while not stop.is_set():
        ahead = due - clock()
        if ahead > 0:
            time.sleep(ahead / 1e9)
        read(reads[i])
        out.append(clock() - due)
        due += interval_ns
        i = i + 1 if i + 1 < n else 0


def run_variant(variant: Variant, settings: WriterSettings, seed: int) -> RoundResult:
    """Readers and one writer on ``variant`` for settings.duration seconds."""
    rng = random.Random(seed)
    keys = _keys(settings.entries)
    reads = [tuple(rng.sample(keys, settings.keys_per_read)) for _ in range(4096)]
    stop = threading.Event()
    latencies: List[array[int]] = [array("q") for _ in range(settings.readers)]
    rebuilds = [0]

    def writer() -> None:
        while not stop.is_set():
            rebuilds[0] += 1
            variant.write(rebuilds[0])
            time.sleep(settings.gap_s)

    interval_ns = int(1e9 / settings.rate)
    threads = [threading.Thread(target=_reader, args=(variant, reads, stop, interval_ns, out),
                                daemon=True)
               for out in latencies]
    threads.append(threading.Thread(target=writer, daemon=True))
    start = time.perf_counter()
    try:
        for t in threads:
            t.start()
        time.sleep(settings.duration)
    finally:                                # Ctrl-C too: the threads must stop
        stop.set()
        for t in threads:
            if t.ident is not None:         # it was started
                t.join()
    elapsed = time.perf_counter() - start
    merged = sorted(x for out in latencies for x in out)
    if not merged:
        return RoundResult(float("nan"), float("nan"), float("nan"), 0.0, rebuilds[0])
    return RoundResult(
        p50_us=merged[len(merged) // 2] / 1e3,
        p99_us=merged[min(len(merged) - 1, int(len(merged) * 0.99))] / 1e3,
        max_us=merged[-1] / 1e3,
        reads_per_s=len(merged) / elapsed,
        rebuilds=rebuilds[0],
    )


def variant_classes() -> Tuple[List[Any], List[str]]:
    """The ways to share the configuration that can run here, Lock first,
    and messages about the ones that cannot."""
    classes: List[Any] = [LockVariant, RcuVariant]
    try:
        importlib.import_module("readerwriterlock.rwlock")
    except ImportError:
        return classes, [RWLOCK_HINT]
    return classes + [RwVariant], []


def run(settings: WriterSettings, progress: Callable[[str], None]) -> List[Table]:
    keys = _keys(settings.entries)
    classes, skipped = variant_classes()
    for message in skipped:
        progress(message)
    results: Dict[Tuple[str, str], List[RoundResult]] = {
        (kind, cls.label): [] for kind in KINDS for cls in classes}
    for rnd in range(settings.rounds):
        progress(f"readers vs a writer: round {rnd + 1}/{settings.rounds}")
        for kind, (work, switch_s) in KINDS.items():
            default_switch = sys.getswitchinterval()
            if switch_s is not None:
                sys.setswitchinterval(switch_s)
            try:
                # Rotate the order so no variant always runs first.
                for cls in classes[rnd % len(classes):] + classes[:rnd % len(classes)]:
                    variant = cls(keys, settings.min_rebuild_s, work)
                    results[(kind, cls.label)].append(
                        run_variant(variant, settings, seed=rnd))
            finally:
                sys.setswitchinterval(default_switch)
    return [_table(results, skipped, settings)]


def _table(results: Dict[Tuple[str, str], List[RoundResult]], skipped: List[str],
           settings: WriterSettings) -> Table:
    def series(key: Tuple[str, str], attr: str) -> List[float]:
        return [float(getattr(r, attr)) for r in results[key]]

    table = Table(
        key="py_readers_vs_writer",
        title=(f"Readers of a {settings.entries:,}-entry dict while a writer keeps "
               f"rebuilding it in place or aside (>= {settings.min_rebuild_s * 1e3:g} ms "
               f"per rebuild, {settings.gap_s * 1e3:g} ms between rebuilds)"),
        method=(f"{settings.readers} reader threads, each attempting {settings.rate:,.0f} "
                f"reads/s of {settings.keys_per_read} random keys (latency counted from when "
                f"a read was due), + 1 writer; {settings.duration:g} s per row and round, "
                f"median of {settings.rounds} interleaved rounds (max: the largest); "
                "ratio = p99 / p99 of the Lock row with the same rebuild, per round"),
        columns=[Column("p50", "p50 us", ",.1f"), Column("p99", "p99 us", ",.1f"),
                 Column("max", "max us", ",.0f"), Column("rate", "reads/s", ",.0f"),
                 Column("rebuilds", "rebuilds", ".0f"), Column("ratio", "p99 ratio", ".3f", "x")],
        notes=list(skipped),
    )
    for kind, label in results:
        key = (kind, label)
        table.add(f"{kind} rebuild: {label}",
                  p50=median(series(key, "p50_us")), p99=median(series(key, "p99_us")),
                  max=max(series(key, "max_us"), default=float("nan")),
                  rate=median(series(key, "reads_per_s")),
                  rebuilds=median(series(key, "rebuilds")),
                  ratio=paired_ratio(series(key, "p99_us"),
                                     series((kind, LockVariant.label), "p99_us")))
    table.notes.append(
        "cpu: the rebuild holds the GIL, so a reader that slept until its next read "
        f"waits up to the switch interval ({sys.getswitchinterval() * 1e3:g} ms) for "
        "it whichever way the dict is shared: most of the RcuCell rows' latency")
    table.notes.append("cpu/1ms: the same with sys.setswitchinterval(0.001) for every row: "
                       "the GIL changes hands sooner, which only RcuCell readers can use")
    table.notes.append("io: the rebuild waits without the GIL; only the locks make "
                       "readers wait for it")
    return table
