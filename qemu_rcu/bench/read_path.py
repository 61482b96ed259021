# SPDX-License-Identifier: MIT
"""Part 2: the Python read path next to Python's locks, and call_rcu's cost.

Each row is one statement timed with ``timeit`` (prebuilt objects, GC off
during timing), in rounds whose row order rotates; a row's figure is the
median over rounds and its ratio the median of per-round ratios to the
``with lock:`` row.  ``benchmarks/read_path.py`` prints the same tables.
"""

from __future__ import annotations

import importlib
import queue
import threading
import time
import timeit
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

from .report import Column, Table, count
from .stats import median, paired_ratio

RWLOCK_HINT = ("readerwriterlock is not installed, so its row is skipped: "
               "pip install qemu-rcu[bench]  (or: pip install readerwriterlock)")


@dataclass
class ReadPathSettings:
    number: int = 1_000_000       # statements per row and round
    rounds: int = 5
    callbacks_n: int = 100_000    # Python callbacks per round


@dataclass
class Row:
    label: str
    stmt: str
    nested: bool = False          # run inside an outer RcuGuard of this thread


BASELINE = "with lock: obj.value  (threading.Lock, prebuilt)"
ROWS = [
    Row("obj.value  (no lock: the floor)", "obj.value"),
    Row(BASELINE, "with lock:\n    obj.value"),
    Row("with rlock: obj.value  (threading.RLock)", "with rlock:\n    obj.value"),
    Row("with rw_reader: obj.value  (readerwriterlock RWLockRead)",
        "with rw_reader:\n    obj.value"),
    Row("with RcuGuard() as g: cell.get(g).value",
        "with RcuGuard() as g:\n    cell.get(g).value"),
    Row("  same, nested in an outer RcuGuard",
        "with RcuGuard() as g:\n    cell.get(g).value", nested=True),
    Row("cell.raw_get()  (unchecked snapshot)", "cell.raw_get()"),
    Row("with RcuGuard(): pass  (bare guard)", "with RcuGuard():\n    pass"),
]


class _Holder:
    """What the lock rows protect: one attribute, like an RcuCell's value."""

    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value = value


def _rw_reader() -> Optional[Any]:
    # Imported by name: it is an optional extra (qemu-rcu[bench]).
    try:
        rwlock = importlib.import_module("readerwriterlock.rwlock")
    except ImportError:
        return None
    return rwlock.RWLockRead().gen_rlock()


def namespace() -> Dict[str, Any]:
    """The prebuilt objects every statement reads."""
    from qemu_rcu import RcuCell, RcuGuard

    payload = {"answer": 42}
    return {
        "obj": _Holder(payload),
        "lock": threading.Lock(),
        "rlock": threading.RLock(),
        "rw_reader": _rw_reader(),
        "cell": RcuCell(payload),
        "RcuGuard": RcuGuard,
    }


def _time_row(row: Row, ns: Dict[str, Any], number: int) -> float:
    """ns per statement, for one round."""
    from qemu_rcu import RcuGuard

    timer = timeit.Timer(row.stmt, globals=ns)
    if row.nested:
        with RcuGuard():
            return timer.timeit(number) / number * 1e9
    return timer.timeit(number) / number * 1e9


def measure_statements(settings: ReadPathSettings,
                       progress: Callable[[str], None]) -> Tuple[Dict[str, List[float]], List[str]]:
    """Row label -> ns per statement, one per round; and messages for skipped rows."""
    ns = namespace()
    rows = [r for r in ROWS if ns["rw_reader"] is not None or "rw_reader" not in r.stmt]
    skipped = [] if len(rows) == len(ROWS) else [RWLOCK_HINT]
    results: Dict[str, List[float]] = {r.label: [] for r in rows}
    for rnd in range(settings.rounds):
        progress(f"Python read path: round {rnd + 1}/{settings.rounds}")
        # Rotate the order so no row always runs first.
        for row in rows[rnd % len(rows):] + rows[:rnd % len(rows)]:
            results[row.label].append(_time_row(row, ns, settings.number))
    return results, skipped


def statements_table(results: Dict[str, List[float]], skipped: List[str],
                     settings: ReadPathSettings) -> Table:
    ref = results[BASELINE]
    table = Table(
        key="py_read_path",
        title="Python read path: one read of a shared value",
        method=(f"{count(settings.number)} statements per round (timeit), median of "
                f"{settings.rounds} interleaved rounds; ratio = row / "
                "'with lock' row, per round, median"),
        columns=[Column("ns", "ns/read", ".1f"), Column("ratio", "ratio", ".2f", "x")],
        notes=list(skipped),
    )
    for label, values in results.items():
        table.add(label, ns=median(values), ratio=paired_ratio(values, ref))
    return table


# ---- call_rcu end to end -------------------------------------------------------


def _call_rcu_round(n: int) -> Tuple[float, float]:
    """Queue n no-op Python callbacks with call_rcu, then drain: (enqueue ns/cb, total s)."""
    from qemu_rcu import call_rcu, drain_call_rcu

    ran = [0]

    def callback() -> None:
        ran[0] += 1

    t0 = time.perf_counter()
    for _ in range(n):
        call_rcu(callback)
    t1 = time.perf_counter()
    if not drain_call_rcu(timeout=300):
        raise RuntimeError("drain_call_rcu() timed out")
    t2 = time.perf_counter()
    if ran[0] != n:
        raise RuntimeError(f"{ran[0]} of {n} callbacks ran")
    return (t1 - t0) / n * 1e9, t2 - t0


def _thread_queue_round(n: int) -> Tuple[float, float]:
    """The same callbacks handed to a worker thread through a SimpleQueue:
    deferred execution without a grace period, the reference."""
    q: queue.SimpleQueue[Optional[Callable[[], None]]] = queue.SimpleQueue()
    ran = [0]

    def callback() -> None:
        ran[0] += 1

    def worker() -> None:
        while True:
            fn = q.get()
            if fn is None:
                return
            fn()

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    t0 = time.perf_counter()
    for _ in range(n):
        q.put(callback)
    t1 = time.perf_counter()
    q.put(None)
    thread.join()
    t2 = time.perf_counter()
    if ran[0] != n:
        raise RuntimeError(f"{ran[0]} of {n} callbacks ran")
    return (t1 - t0) / n * 1e9, t2 - t0


CALLBACK_ROWS: List[Tuple[str, Callable[[int], Tuple[float, float]]]] = [
    ("SimpleQueue + worker thread (no grace period)", _thread_queue_round),
    ("call_rcu(fn) then drain_call_rcu()", _call_rcu_round),
]


def callbacks_table(settings: ReadPathSettings,
                    progress: Callable[[str], None]) -> Table:
    enqueue: Dict[str, List[float]] = {label: [] for label, _ in CALLBACK_ROWS}
    total: Dict[str, List[float]] = {label: [] for label, _ in CALLBACK_ROWS}
    for rnd in range(settings.rounds):
        progress(f"Python call_rcu: round {rnd + 1}/{settings.rounds}")
        order = CALLBACK_ROWS if rnd % 2 == 0 else CALLBACK_ROWS[::-1]
        for label, fn in order:
            e, t = fn(settings.callbacks_n)
            enqueue[label].append(e)
            total[label].append(t)
    ref = total[CALLBACK_ROWS[0][0]]
    table = Table(
        key="py_call_rcu",
        title="Python call_rcu end to end: queue N no-op callbacks, then wait for all",
        method=(f"N = {count(settings.callbacks_n)} per round, median of {settings.rounds} "
                "interleaved rounds; ratio = total time / the SimpleQueue row's, "
                "per round (lower is better)"),
        columns=[Column("enqueue", "enqueue ns/cb", ".0f"),
                 Column("total_ms", "total ms", ".1f"),
                 Column("rate", "callbacks/s", ",.0f"),
                 Column("ratio", "ratio", ".2f", "x")],
    )
    for label, _ in CALLBACK_ROWS:
        t = median(total[label])
        table.add(label, enqueue=median(enqueue[label]), total_ms=t * 1e3,
                  rate=settings.callbacks_n / t, ratio=paired_ratio(total[label], ref))
    return table


def run(settings: ReadPathSettings, progress: Callable[[str], None]) -> List[Table]:
    results, skipped = measure_statements(settings, progress)
    for message in skipped:
        progress(message)
    return [statements_table(results, skipped, settings), callbacks_table(settings, progress)]
