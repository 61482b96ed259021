# SPDX-License-Identifier: MIT
"""Part 1: the C core next to liburcu, loop for loop.

Every round runs each configuration in a fresh process (``native_worker``):
once as the core starts by default (membarrier when the kernel has it), once
with QEMU_RCU_MEMBARRIER=0 (readers pay a full fence).  liburcu runs in the
first.  With ``--qemu-source``, QEMU's own util/rcu.c runs too, once per
QEMU build, in a plain C program with the same loops (``bench_qemu.c``).
A row's figure is the median over rounds; its ratio is the median of
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
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple

from .cbuild import LIBURCU_INSTALL, LIBURCU_MISSING, build
from .report import Column, Table, count
from .stats import median, paired_ratio, percentile

if TYPE_CHECKING:
    from .qemu import QemuCores

MEMBARRIER = "membarrier"      # the core as it starts by default
FENCES = "fences"              # QEMU_RCU_MEMBARRIER=0
# QEMU's util/rcu.c (--qemu-source), in each of QEMU's builds: a program each.
QEMU_FENCES = "qemu-fences"
QEMU_MEMBARRIER = "qemu-membarrier"
QEMU_IMPL = "qemu"
REFERENCE = "urcu_memb"
HERE = Path(__file__).resolve().parent

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
    (QEMU_FENCES, QEMU_IMPL, "QEMU util/rcu.c, inline, default build (fences)"),
    (QEMU_MEMBARRIER, QEMU_IMPL, "QEMU util/rcu.c, inline, CONFIG_MEMBARRIER build"),
]
WRITER_ROWS: List[Tuple[str, str, str]] = [
    (MEMBARRIER, "urcu_memb", "liburcu urcu-memb"),
    (MEMBARRIER, "urcu_mb", "liburcu urcu-mb"),
    (MEMBARRIER, "ours_exported", "qemu-rcu [mb: {mb}]"),
    (FENCES, "ours_exported", "qemu-rcu [mb: {mb}]"),
    (QEMU_FENCES, QEMU_IMPL, "QEMU util/rcu.c, default build (fences)"),
    (QEMU_MEMBARRIER, QEMU_IMPL, "QEMU util/rcu.c, CONFIG_MEMBARRIER build"),
]
# Each of the CONFIG_MEMBARRIER build's grace periods calls
# membarrier(MEMBARRIER_CMD_SHARED), which takes milliseconds: it times a
# tenth as many (at least 10), so that a round stays within seconds.
QEMU_MEMBARRIER_SYNC_SHARE = 10
QEMU_MEMBARRIER_SYNC_MIN = 10
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


def qemu_sync_n(settings: NativeSettings, config: str) -> int:
    """How many synchronize_rcu() calls QEMU's build ``config`` times per mode."""
    if config == QEMU_MEMBARRIER:
        return min(settings.sync_n, max(QEMU_MEMBARRIER_SYNC_MIN,
                                        settings.sync_n // QEMU_MEMBARRIER_SYNC_SHARE))
    return settings.sync_n


def run_qemu(program: Path, settings: NativeSettings, config: str) -> Dict[str, Any]:
    """One round of bench_qemu.c on one QEMU build, as run_worker returns it."""
    sync_n = qemu_sync_n(settings, config)
    argv = [str(program), str(settings.pairs_n), str(sync_n), str(settings.callbacks_n)]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=900)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"{program.name} still ran after 900 s, killed") from None
    if proc.returncode != 0:
        said = proc.stderr.strip() or "no message"
        raise RuntimeError(f"{program.name} failed with status {proc.returncode}: {said}")
    raw = json.loads(proc.stdout)
    ran = int(raw["callbacks"]["ran"])
    if ran != settings.callbacks_n:
        raise RuntimeError(f"{program.name}: {ran} of {settings.callbacks_n} callbacks ran")
    result = {
        "pairs": float(raw["pairs_ns"]) / settings.pairs_n,
        "sync": {mode: {"median": median(times), "p99": percentile(times, 99)}
                 for mode, times in raw["sync"].items()},
        "callbacks": {"enqueue": float(raw["callbacks"]["enqueue_ns"]) / settings.callbacks_n,
                      "total": float(raw["callbacks"]["total_ns"])},
    }
    return {"membarrier": bool(raw["membarrier"]), "results": {QEMU_IMPL: result}}


def measure(settings: NativeSettings, module: Path, progress: Callable[[str], None],
            qemu_programs: Optional[Dict[str, Path]] = None,
            problems: Optional[List[str]] = None) -> Rounds:
    """Interleave the configurations round by round.

    ``qemu_programs`` maps QEMU_FENCES/QEMU_MEMBARRIER to bench_qemu.c built
    on that QEMU build; a program that fails is dropped from later rounds and
    its failure appended to ``problems``.
    """
    qemu_programs = dict(qemu_programs or {})
    rounds: Rounds = {MEMBARRIER: [], FENCES: [], **{c: [] for c in qemu_programs}}
    for r in range(settings.rounds):
        for config in (MEMBARRIER, FENCES):
            progress(f"C core vs liburcu: round {r + 1}/{settings.rounds} ({config})")
            spec = {"impls": IMPLS[config], "round": r, "pairs_n": settings.pairs_n,
                    "sync_n": settings.sync_n, "callbacks_n": settings.callbacks_n}
            rounds[config].append(run_worker(module, config, spec))
        for config, program in list(qemu_programs.items()):
            progress(f"C core vs liburcu: round {r + 1}/{settings.rounds} ({config})")
            try:
                rounds[config].append(run_qemu(program, settings, config))
            except (RuntimeError, ValueError, KeyError) as exc:
                del qemu_programs[config]
                if problems is not None:
                    problems.append(f"{config}: {exc}")
    return rounds


def _series(rounds: Rounds, config: str, impl: str, *path: str) -> List[float]:
    """One figure per round: results[impl][path...] of each round."""
    values: List[float] = []
    for result in rounds.get(config, []):
        node: Any = result["results"].get(impl)
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, (int, float)):
            values.append(float(node))
    return values


def _mb_label(rounds: Rounds, config: str) -> str:
    states = {bool(r["membarrier"]) for r in rounds.get(config, [])}
    return "on" if states == {True} else "off" if states == {False} else "mixed"


def _row_label(template: str, rounds: Rounds, config: str) -> str:
    return template.format(mb=_mb_label(rounds, config))


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
            table.add(_row_label(label, rounds, config),
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
                table.add(f"{mode_label}: {_row_label(label, rounds, config)}",
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
            table.add(_row_label(label, rounds, config),
                      enqueue=median(_series(rounds, config, impl, "callbacks", "enqueue")),
                      total_ms=t / 1e6, rate=settings.callbacks_n / t * 1e3,
                      ratio=paired_ratio(total, ref))
    return table


def _qemu_programs(cores: QemuCores, progress: Callable[[str], None]) -> Dict[str, Path]:
    """bench_qemu.c built on each of QEMU's builds; failures go to cores.problems."""
    from ..qemu_core import MEMBARRIER as QEMU_MB
    from ..qemu_core import QemuBuildError

    programs: Dict[str, Path] = {}
    for qemu in cores.builds:
        config = QEMU_MEMBARRIER if qemu.mode == QEMU_MB else QEMU_FENCES
        progress(f"C core vs liburcu: compiling bench_qemu.c on {qemu.label}")
        try:
            programs[config] = qemu.compile(
                "bench_qemu", [HERE / "bench_qemu.c", HERE / "bench_harness.c"], [f"-I{HERE}"])
        except QemuBuildError as exc:
            cores.problems.append(str(exc))
    return programs


def run(settings: NativeSettings, progress: Callable[[str], None],
        use_liburcu: bool = True, cache_dir: Optional[Path] = None,
        qemu: Optional[QemuCores] = None) -> List[Table]:
    """Build the extension, measure, and return the three tables.

    With ``qemu``, QEMU's builds get rows too; their failures are appended
    to ``qemu.problems``.
    """
    progress("C core vs liburcu: compiling the benchmark extension")
    built = build(cache_dir=cache_dir, use_liburcu=use_liburcu)
    if not built.liburcu:
        print(built.liburcu_problem, file=sys.stderr)
    programs = _qemu_programs(qemu, progress) if qemu else {}
    rounds = measure(settings, built.path, progress, programs,
                     qemu.problems if qemu else None)
    tables = [pair_table(rounds, settings), sync_table(rounds, settings),
              callbacks_table(rounds, settings)]
    if qemu:
        for table in tables:
            table.notes.append(qemu.note())
            table.notes.extend(qemu.notes)
        if QEMU_FENCES in rounds or QEMU_MEMBARRIER in rounds:
            tables[0].notes.append(
                "QEMU's rcu_read_lock/unlock are inline, but each calls "
                "get_ptr_rcu_reader(), which QEMU keeps out of line so that coroutines "
                "moving between threads find the right thread's record")
        if QEMU_MEMBARRIER in rounds:
            tables[1].notes.append(
                f"the CONFIG_MEMBARRIER build times {qemu_sync_n(settings, QEMU_MEMBARRIER)} "
                "calls per mode and round: each of its grace periods calls "
                "membarrier(MEMBARRIER_CMD_SHARED), which waits for every CPU to schedule")
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
