# SPDX-License-Identifier: MIT
"""Part 1: the C core next to liburcu, loop for loop.

Every round runs each configuration in a fresh process (``native_worker``):
once as the core starts by default (membarrier when the kernel has it), once
with QEMU_RCU_MEMBARRIER=0 (readers pay a full fence).  liburcu runs in the
first.  A row's figure is the median over rounds; its ratio is the median of
per-round ratios to the reference measured in the same round.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from .cbuild import LIBURCU_INSTALL, LIBURCU_MISSING, build
from .report import Column, Table, count
from .stats import median, paired_ratio

MEMBARRIER = "membarrier"      # the core as it starts by default
FENCES = "fences"              # QEMU_RCU_MEMBARRIER=0
REFERENCE = "urcu_memb"

# (configuration, implementation) -> row label, in print order.
PAIR_ROWS: List[Tuple[str, str, str]] = [
    (MEMBARRIER, "empty", "empty loop, compiler barrier (floor)"),
    (MEMBARRIER, "fence", "one __atomic_thread_fence(SEQ_CST) (floor)"),
    (MEMBARRIER, "urcu_memb", "liburcu urcu-memb, inlined (_LGPL_SOURCE)"),
    (MEMBARRIER, "urcu_mb", "liburcu urcu-mb, inlined (_LGPL_SOURCE)"),
    (MEMBARRIER, "ours_inline", "qemu-rcu inline fast path, capsule mode [mb: {mb}]"),
    (MEMBARRIER, "ours_exported", "qemu-rcu exported qemu_rcu_read_lock/unlock [mb: {mb}]"),
    (FENCES, "ours_inline", "qemu-rcu inline fast path, capsule mode [mb: {mb}]"),
    (FENCES, "ours_exported", "qemu-rcu exported qemu_rcu_read_lock/unlock [mb: {mb}]"),
]
WRITER_ROWS: List[Tuple[str, str, str]] = [
    (MEMBARRIER, "urcu_memb", "liburcu urcu-memb"),
    (MEMBARRIER, "urcu_mb", "liburcu urcu-mb"),
    (MEMBARRIER, "ours_exported", "qemu-rcu [mb: {mb}]"),
    (FENCES, "ours_exported", "qemu-rcu [mb: {mb}]"),
]
SYNC_MODE_LABELS = {
    "alone": "no other thread",
    "idle4": "4 idle registered threads",
    "reader": "1 thread looping short read sections",
}
IMPLS = {
    MEMBARRIER: ["empty", "fence", "ours_exported", "ours_inline", "urcu_memb", "urcu_mb"],
    FENCES: ["ours_exported", "ours_inline"],
}


@dataclass
class NativeSettings:
    pairs_n: int = 100_000_000
    sync_n: int = 1000
    callbacks_n: int = 1_000_000
    rounds: int = 5


Rounds = Dict[str, List[Dict[str, Any]]]   # configuration -> one result per round


def _env(config: str) -> Dict[str, str]:
    env = dict(os.environ)
    env.pop("QEMU_RCU_MEMBARRIER", None)
    if config == FENCES:
        env["QEMU_RCU_MEMBARRIER"] = "0"
    return env


def run_worker(module: Path, config: str, spec: Dict[str, Any]) -> Dict[str, Any]:
    """One round of one configuration, in a fresh interpreter."""
    # Run outside the working directory: from a source checkout, `-m` would
    # import the uncompiled qemu_rcu folder instead of the installed package.
    proc = subprocess.run(
        [sys.executable, "-m", "qemu_rcu.bench.native_worker", str(module), json.dumps(spec)],
        env=_env(config), capture_output=True, text=True,
        timeout=900, cwd=tempfile.gettempdir(),
    )
    if proc.returncode != 0:
        raise RuntimeError(f"C benchmark worker ({config}) failed with status "
                           f"{proc.returncode}:\n{proc.stderr.strip()}")
    result: Dict[str, Any] = json.loads(proc.stdout)
    return result


def measure(settings: NativeSettings, module: Path,
            progress: Callable[[str], None]) -> Rounds:
    """Interleave the configurations round by round."""
    rounds: Rounds = {MEMBARRIER: [], FENCES: []}
    for r in range(settings.rounds):
        for config in (MEMBARRIER, FENCES):
            progress(f"C core vs liburcu: round {r + 1}/{settings.rounds} ({config})")
            spec = {"impls": IMPLS[config], "round": r, "pairs_n": settings.pairs_n,
                    "sync_n": settings.sync_n, "callbacks_n": settings.callbacks_n}
            rounds[config].append(run_worker(module, config, spec))
    return rounds


def _series(rounds: Rounds, config: str, impl: str, *path: str) -> List[float]:
    """One figure per round: results[impl][path...] of each round."""
    values: List[float] = []
    for result in rounds[config]:
        node: Any = result["results"].get(impl)
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, (int, float)):
            values.append(float(node))
    return values


def _mb_label(rounds: Rounds, config: str) -> str:
    states = {bool(r["membarrier"]) for r in rounds[config]}
    return "on" if states == {True} else "off" if states == {False} else "mixed"


def _reference(rounds: Rounds, fallback: str, *path: str) -> Tuple[List[float], str]:
    """liburcu urcu-memb's figures if it ran, else those of our ``fallback``."""
    ref = _series(rounds, MEMBARRIER, REFERENCE, *path)
    if ref:
        return ref, "liburcu urcu-memb"
    return (_series(rounds, MEMBARRIER, fallback, *path),
            f"qemu-rcu {fallback.replace('ours_', '')} [mb: on] (liburcu missing)")


def pair_table(rounds: Rounds, settings: NativeSettings) -> Table:
    ref, ref_name = _reference(rounds, "ours_inline", "pairs")
    table = Table(
        key="c_read_pair",
        title="C read side: one lock+unlock pair, single thread",
        method=(f"{count(settings.pairs_n)} pairs per round, median of {settings.rounds} "
                f"interleaved rounds; ratio = row / {ref_name}, per round, median"),
        columns=[Column("ns", "ns/pair", ".2f"), Column("ratio", "ratio", ".2f", "x")],
    )
    for config, impl, label in PAIR_ROWS:
        values = _series(rounds, config, impl, "pairs")
        if values:
            table.add(label.format(mb=_mb_label(rounds, config)),
                      ns=median(values), ratio=paired_ratio(values, ref))
    return table


def sync_table(rounds: Rounds, settings: NativeSettings) -> Table:
    _, ref_name = _reference(rounds, "ours_exported", "sync", "alone", "median")
    table = Table(
        key="c_synchronize_rcu",
        title="C synchronize_rcu() latency",
        method=(f"{count(settings.sync_n)} calls per round: their median and p99, then "
                f"the median of those over {settings.rounds} interleaved rounds; ratio = "
                f"median / {ref_name}'s in the same mode, per round"),
        columns=[Column("median", "median us", ".2f"), Column("p99", "p99 us", ".2f"),
                 Column("ratio", "ratio", ".2f", "x")],
    )
    for mode, mode_label in SYNC_MODE_LABELS.items():
        ref, _ = _reference(rounds, "ours_exported", "sync", mode, "median")
        for config, impl, label in WRITER_ROWS:
            med = _series(rounds, config, impl, "sync", mode, "median")
            p99 = _series(rounds, config, impl, "sync", mode, "p99")
            if med:
                table.add(f"{mode_label}: {label.format(mb=_mb_label(rounds, config))}",
                          median=median(med) / 1e3, p99=median(p99) / 1e3,
                          ratio=paired_ratio(med, ref))
    return table


def callbacks_table(rounds: Rounds, settings: NativeSettings) -> Table:
    ref, ref_name = _reference(rounds, "ours_exported", "callbacks", "total")
    table = Table(
        key="c_call_rcu",
        title="C call_rcu1 throughput: queue N callbacks, then drain",
        method=(f"N = {count(settings.callbacks_n)} per round, median of {settings.rounds} "
                "interleaved rounds; drain = drain_call_rcu() / liburcu rcu_barrier(); "
                f"ratio = total time / {ref_name}'s (lower is better)"),
        columns=[Column("enqueue", "enqueue ns/cb", ".1f"),
                 Column("total_ms", "enqueue+drain ms", ".1f"),
                 Column("rate", "M callbacks/s", ".2f"),
                 Column("ratio", "ratio", ".2f", "x")],
    )
    for config, impl, label in WRITER_ROWS:
        total = _series(rounds, config, impl, "callbacks", "total")
        if total:
            t = median(total)
            table.add(label.format(mb=_mb_label(rounds, config)),
                      enqueue=median(_series(rounds, config, impl, "callbacks", "enqueue")),
                      total_ms=t / 1e6, rate=settings.callbacks_n / t * 1e3,
                      ratio=paired_ratio(total, ref))
    return table


def run(settings: NativeSettings, progress: Callable[[str], None],
        use_liburcu: bool = True, cache_dir: Optional[Path] = None) -> List[Table]:
    """Build the extension, measure, and return the three tables."""
    progress("C core vs liburcu: compiling the benchmark extension")
    built = build(cache_dir=cache_dir, use_liburcu=use_liburcu)
    if not built.liburcu:
        print(built.liburcu_problem, file=sys.stderr)
    rounds = measure(settings, built.path, progress)
    tables = [pair_table(rounds, settings), sync_table(rounds, settings),
              callbacks_table(rounds, settings)]
    mb = _mb_label(rounds, MEMBARRIER)
    for table in tables:
        table.notes.append(
            "both sides are compiled into one Python extension module with -O2 -fPIC, "
            "as a user's C extension is; qemu-rcu is reached through the capsule")
        table.notes.append(f"qemu-rcu membarrier by default on this machine: {mb}; "
                           "[mb: off] rows ran with QEMU_RCU_MEMBARRIER=0")
        if not built.liburcu:
            table.notes.append(f"{LIBURCU_MISSING}; to add them: {LIBURCU_INSTALL}")
    return tables
