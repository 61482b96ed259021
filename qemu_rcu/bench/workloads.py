# SPDX-License-Identifier: MIT
"""Part 4: the workloads people choose an RCU by, in plain C programs.

``workloads.c`` is compiled at bench time into one executable per flavour:
qemu-rcu with the core's sources compiled in (``-DQEMU_RCU_CORE``, as QEMU
or any C program links it), liburcu urcu-memb and urcu-mb (inlined), and
pthread's rwlock and mutex; with ``--qemu-source``, also QEMU's own
util/rcu.c in each of QEMU's builds (fences, membarrier).  Each run of an
executable is one cell: a workload, a number of readers and a duration; it
prints one JSON line.

- read-only: 1, 2 and 2 x cores readers;
- read-mostly: the same readers and one updater publishing a new object
  every millisecond, freeing the old one after synchronize_rcu, or through
  call_rcu (the locks: swap under the write lock, then free);
- update-heavy: one reader and one updater, both flat out.

Every round runs every cell once, the flavours in turn (in reverse order
every other round); a figure is the median over rounds and a ratio the
median of per-round ratios to qemu-rcu's cell.  Every reader checks the
object it dereferences: a poisoned read (an object freed too early) fails
the part.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple

from .cbuild import (
    LIBURCU_INSTALL,
    LIBURCU_INSTALL_HINT,
    LIBURCU_MISSING,
    build_program,
    failure,
    first_error,
)
from .report import Column, Table
from .stats import median, paired_ratio

if TYPE_CHECKING:
    from .qemu import QemuCores

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "workloads.c"
REFERENCE = "qemu"


@dataclass(frozen=True)
class Flavour:
    key: str
    label: str
    macro: str
    rcu: bool                      # has call_rcu, and a grace period to time
    libs: Tuple[str, ...] = ()
    liburcu: bool = False
    qemu_build: str = ""           # QEMU's util/rcu.c in this build (qemu_core.MODES)


FLAVOURS: List[Flavour] = [
    Flavour("qemu", "qemu-rcu", "FLAVOR_QEMU_RCU", True),
    Flavour("qemu_src_fences", "QEMU util/rcu.c, fences", "FLAVOR_QEMU_RCU", True,
            qemu_build="fences"),
    Flavour("qemu_src_membarrier", "QEMU util/rcu.c, membarrier", "FLAVOR_QEMU_RCU", True,
            qemu_build="membarrier"),
    Flavour("urcu_memb", "liburcu urcu-memb", "FLAVOR_URCU_MEMB", True,
            ("-lurcu-memb", "-lurcu-common"), True),
    Flavour("urcu_mb", "liburcu urcu-mb", "FLAVOR_URCU_MB", True,
            ("-lurcu-mb", "-lurcu-common"), True),
    Flavour("rwlock", "pthread_rwlock_t", "FLAVOR_RWLOCK", False),
    Flavour("mutex", "pthread_mutex_t", "FLAVOR_MUTEX", False),
]
BY_KEY = {f.key: f for f in FLAVOURS}

READ_ONLY, READ_MOSTLY, UPDATE_HEAVY = "read-only", "read-mostly", "update-heavy"
# How each flavour retires the old object, per program mode.
RETIRE = {"sync": "synchronize_rcu + free", "call": "call_rcu", "lock": "write lock + free"}


@dataclass
class WorkloadsSettings:
    duration: float = 1.0             # seconds per cell
    rounds: int = 3
    interval_us: int = 1000           # the read-mostly updater's period
    reader_counts: List[int] = field(default_factory=list)   # default: 1, 2, 2 x cores


def default_reader_counts(quick: bool = False) -> List[int]:
    many = 2 * (os.cpu_count() or 1)
    return sorted({1, many} if quick else {1, 2, many})


@dataclass(frozen=True)
class Cell:
    workload: str
    mode: str                 # the program's: read, sync, call
    readers: int
    flavour: str

    def argv(self, settings: WorkloadsSettings) -> List[str]:
        interval = settings.interval_us if self.workload == READ_MOSTLY else 0
        return [self.mode, str(self.readers), repr(float(settings.duration)), str(interval)]


@dataclass
class Programs:
    paths: Dict[str, Path]             # flavour key -> executable
    liburcu_problem: str = ""          # why liburcu's flavours are missing


def core_dir() -> Path:
    from qemu_rcu._binding import sources

    return Path(sources()) / "core"


def build_flavour(flavour: Flavour, cache_dir: Optional[Path] = None,
                  break_grace_period: bool = False) -> Path:
    """One flavour's executable; see cbuild.build_program for the errors."""
    flags = [f"-D{flavour.macro}"]
    sources = [SOURCE]
    inputs: List[Path] = []
    name = f"workloads-{flavour.key}"
    if flavour.key == "qemu":
        core = core_dir()
        flags += ["-DQEMU_RCU_CORE", f"-I{core}"]
        sources += sorted(core.glob("*.c"))
        inputs = sorted(core.glob("*.h"))
    if break_grace_period:
        flags.append("-DBENCH_BREAK_GRACE_PERIOD")
        name += "-broken"
    return build_program(name, sources, flags, flavour.libs, inputs, cache_dir)


def build(cache_dir: Optional[Path] = None, use_liburcu: bool = True,
          qemu: Optional[QemuCores] = None) -> Programs:
    """Every flavour's executable, compiled side by side; liburcu's only if
    they build, QEMU's for each build in ``qemu`` (failures go to its
    problems)."""
    from concurrent.futures import Future, ThreadPoolExecutor

    from ..qemu_core import QemuBuildError

    qemu_builds = {b.mode: b for b in qemu.builds} if qemu else {}
    wanted = [f for f in FLAVOURS if (use_liburcu or not f.liburcu)
              and (not f.qemu_build or f.qemu_build in qemu_builds)]
    programs = Programs({}, "" if use_liburcu else "liburcu left out on request")
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 1)) as pool:
        futures: List[Tuple[Flavour, Future[Path]]] = []
        for f in wanted:
            if f.qemu_build:
                futures.append((f, pool.submit(qemu_builds[f.qemu_build].compile,
                                               "workloads", [SOURCE], [f"-D{f.macro}"])))
            else:
                futures.append((f, pool.submit(build_flavour, f, cache_dir)))
        for flavour, future in futures:
            try:
                programs.paths[flavour.key] = future.result()
            except QemuBuildError as exc:
                assert qemu is not None
                qemu.problems.append(str(exc))
            except subprocess.CalledProcessError as exc:
                if not flavour.liburcu:
                    raise failure(f"the workloads program ({flavour.label})", exc) from exc
                if not programs.liburcu_problem:
                    programs.liburcu_problem = LIBURCU_INSTALL_HINT + first_error(exc)
    if programs.liburcu_problem:
        # Both liburcu flavours or neither: a half is no comparison.
        for flavour in FLAVOURS:
            if flavour.liburcu:
                programs.paths.pop(flavour.key, None)
    return programs


def cells(settings: WorkloadsSettings, flavours: List[str]) -> List[Cell]:
    """Every cell of one round, in print order."""
    out: List[Cell] = []
    counts = settings.reader_counts or default_reader_counts()
    for n in counts:
        out += [Cell(READ_ONLY, "read", n, f) for f in flavours]
    for n in counts:
        for f in flavours:
            out.append(Cell(READ_MOSTLY, "sync", n, f))
            if BY_KEY[f].rcu:
                out.append(Cell(READ_MOSTLY, "call", n, f))
    out += [Cell(UPDATE_HEAVY, "sync", 1, f) for f in flavours]
    return out


def run_cell(program: Path, cell: Cell,
             settings: WorkloadsSettings) -> Tuple[Optional[Dict[str, Any]], str]:
    """(result, problem): a poisoned read or a crash is a problem."""
    cmd = [str(program), *cell.argv(settings)]
    what = f"{cell.workload}, {cell.mode}, {cell.readers} reader(s), {BY_KEY[cell.flavour].label}"
    timeout = settings.duration * 10 + 120
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, f"{what}: still running after {timeout:g} s, killed"
    result: Optional[Dict[str, Any]] = None
    try:
        result = json.loads(proc.stdout)
    except ValueError:
        pass
    if proc.returncode == 0 and result is not None:
        return result, ""
    said = proc.stderr.strip() or f"exit status {proc.returncode}"
    return result, f"{what}: {said}"


Results = Dict[Cell, List[Dict[str, Any]]]


def measure(settings: WorkloadsSettings, programs: Programs,
            progress: Callable[[str], None]) -> Tuple[Results, List[str]]:
    """Every cell once per round; returns the results and the problems."""
    flavours = [f.key for f in FLAVOURS if f.key in programs.paths]
    results: Results = {}
    problems: List[str] = []
    for r in range(settings.rounds):
        order = flavours if r % 2 == 0 else flavours[::-1]
        shown: Tuple[str, int] = ("", 0)
        for cell in cells(settings, order):
            if (cell.workload, cell.readers) != shown:
                shown = (cell.workload, cell.readers)
                progress(f"C workloads: round {r + 1}/{settings.rounds}, {cell.workload}, "
                         f"{cell.readers} reader(s)")
            result, problem = run_cell(programs.paths[cell.flavour], cell, settings)
            if problem:
                problems.append(problem)
            if result is not None:
                results.setdefault(cell, []).append(result)
    return results, problems


# ---- Tables -----------------------------------------------------------------

def _series(results: Results, cell: Cell, key: str, per_second: bool = True) -> List[float]:
    values = []
    for result in results.get(cell, []):
        value = float(result[key])
        if per_second:
            value /= float(result["seconds"])
        values.append(value)
    return values


def _gp(results: Results, cell: Cell, key: str) -> List[float]:
    """A grace-period figure in microseconds, from the runs that timed any."""
    return [float(r[key]) / 1e3 for r in results.get(cell, []) if r["gp_n"]]


def _reads(results: Results, cell: Cell) -> List[float]:
    return _series(results, cell, "reads")


def _reference(cell: Cell) -> Cell:
    """qemu-rcu's cell for the same workload (the locks: its synchronize_rcu)."""
    return Cell(cell.workload, cell.mode, cell.readers, REFERENCE)


def _label(cell: Cell) -> str:
    flavour = BY_KEY[cell.flavour]
    label = flavour.label
    if cell.workload == READ_MOSTLY:
        retire = RETIRE[cell.mode if flavour.rcu else "lock"]
        if flavour.macro == "FLAVOR_QEMU_RCU" and cell.mode == "call":
            retire = "call_rcu1"           # QEMU's C API has no call_rcu function
        label += f", {retire}"
    if cell.workload != UPDATE_HEAVY:
        label = f"{cell.readers} reader{'s' if cell.readers > 1 else ''}: {label}"
    return label


def _method(settings: WorkloadsSettings, what: str) -> str:
    return (f"{settings.duration:g} s per cell, {what}; median of {settings.rounds} "
            "interleaved rounds; ratio = row / qemu-rcu's in the same round, median")


def read_only_table(results: Results, settings: WorkloadsSettings) -> Table:
    table = Table(
        key="c_workload_read_only",
        title="C workloads: read-only (readers only, no updater)",
        method=_method(settings, "each reader loops rcu_read_lock, dereference, "
                                 "check a field, rcu_read_unlock"),
        columns=[Column("total", "M reads/s", ".1f"),
                 Column("per_thread", "M/s per thread", ".1f"),
                 Column("min_thread", "slowest thread", ".1f"),
                 Column("ratio", "ratio", ".2f", "x")],
    )
    for cell in results:
        if cell.workload != READ_ONLY:
            continue
        total = _reads(results, cell)
        table.add(_label(cell), total=median(total) / 1e6,
                  per_thread=median(total) / cell.readers / 1e6,
                  min_thread=median(_series(results, cell, "reads_min_thread")) / 1e6,
                  ratio=paired_ratio(total, _reads(results, _reference(cell))))
    return table


def read_mostly_table(results: Results, settings: WorkloadsSettings) -> Table:
    table = Table(
        key="c_workload_read_mostly",
        title="C workloads: read-mostly (readers, and 1 updater publishing every "
              f"{settings.interval_us / 1000:g} ms)",
        method=_method(settings, "loss = 1 - reads / the same readers' read-only reads, "
                                 "per round; grace period in us: p50 and p99 of each "
                                 "run (median over rounds), max over all runs"),
        columns=[Column("total", "M reads/s", ".1f"),
                 Column("loss", "loss", ".1f", "%"),
                 Column("updates", "updates/s", ".0f"),
                 Column("p50", "gp p50", ".1f"), Column("p99", "gp p99", ".1f"),
                 Column("max", "gp max", ".0f"),
                 Column("ratio", "ratio", ".2f", "x")],
    )
    for cell in results:
        if cell.workload != READ_MOSTLY:
            continue
        total = _reads(results, cell)
        alone = _reads(results, Cell(READ_ONLY, "read", cell.readers, cell.flavour))
        loss = [100.0 * (1.0 - t / a) for t, a in zip(total, alone) if a > 0]
        gp_max = _gp(results, cell, "gp_max_ns")
        table.add(_label(cell), total=median(total) / 1e6, loss=median(loss),
                  updates=median(_series(results, cell, "updates")),
                  p50=median(_gp(results, cell, "gp_p50_ns")),
                  p99=median(_gp(results, cell, "gp_p99_ns")),
                  max=max(gp_max) if gp_max else None,
                  ratio=paired_ratio(total, _reads(results, _reference(cell))))
    table.notes.append("grace period: synchronize_rcu's duration; call_rcu's from the "
                       "call to its callback; the locks' from asking for the write lock "
                       "to releasing it (how long the updater waits for readers)")
    return table


def update_heavy_table(results: Results, settings: WorkloadsSettings) -> Table:
    table = Table(
        key="c_workload_update_heavy",
        title="C workloads: update-heavy (1 reader and 1 updater, both flat out)",
        method=_method(settings, "the updater publishes, waits (synchronize_rcu, or "
                                 "the write lock) and frees in a loop; gp in us: p50 "
                                 "and p99 as median over rounds, max over all runs"),
        columns=[Column("total", "M reads/s", ".2f"),
                 Column("updates", "k updates/s", ".1f"),
                 Column("p50", "gp p50", ".2f"), Column("p99", "gp p99", ".1f"),
                 Column("max", "gp max", ".0f"),
                 Column("ratio", "reads ratio", ".2f", "x"),
                 Column("uratio", "updates ratio", ".2f", "x")],
    )
    for cell in results:
        if cell.workload != UPDATE_HEAVY:
            continue
        total = _reads(results, cell)
        updates = _series(results, cell, "updates")
        ref = _reference(cell)
        gp_max = _gp(results, cell, "gp_max_ns")
        table.add(_label(cell), total=median(total) / 1e6, updates=median(updates) / 1e3,
                  p50=median(_gp(results, cell, "gp_p50_ns")),
                  p99=median(_gp(results, cell, "gp_p99_ns")),
                  max=max(gp_max) if gp_max else None,
                  ratio=paired_ratio(total, _reads(results, ref)),
                  uratio=paired_ratio(updates, _series(results, ref, "updates")))
    return table


def _membarrier(results: Results) -> str:
    states = {bool(r["membarrier"]) for cell, runs in results.items()
              if cell.flavour == REFERENCE for r in runs}
    return "on" if states == {True} else "off" if states == {False} else "mixed"


def tables(results: Results, settings: WorkloadsSettings, programs: Programs,
           problems: List[str], qemu: Optional[QemuCores] = None) -> List[Table]:
    out = [read_only_table(results, settings), read_mostly_table(results, settings),
           update_heavy_table(results, settings)]
    runs = sum(len(v) for v in results.values())
    poisoned = sum(int(r["poisoned"]) for v in results.values() for r in v)
    # A run the machine could not schedule on time: its threads got only a
    # share of the CPUs, and its figures say more about the load than the RCU.
    late = sum(1 for v in results.values() for r in v
               if float(r["wall_seconds"]) > 2 * float(r["seconds"]) + 0.05)
    for table in out:
        table.notes.append(
            "every cell is a fresh C program built from workloads.c with -O2; qemu-rcu "
            "compiles the core's sources in (-DQEMU_RCU_CORE), as QEMU links it; "
            f"qemu-rcu membarrier: {_membarrier(results)}")
        table.notes.append(f"poisoned reads (an object freed too early): {poisoned} "
                           f"in {runs} runs" + ("" if not problems else
                                                f"; {len(problems)} runs FAILED"))
        if late:
            table.notes.append(
                f"{late} of {runs} runs took over twice their time to finish: the machine "
                "is busy, so these figures say as much about the load as about the RCU")
        if programs.liburcu_problem:
            table.notes.append(f"{LIBURCU_MISSING}; to add them: {LIBURCU_INSTALL}")
        if qemu:
            table.notes.append(qemu.note())
            table.notes.extend(qemu.notes)
    return out


def run(settings: WorkloadsSettings, progress: Callable[[str], None],
        use_liburcu: bool = True, cache_dir: Optional[Path] = None,
        qemu: Optional[QemuCores] = None) -> Tuple[List[Table], List[str]]:
    """Build, measure, and return the tables and the problems (poisoned reads,
    crashed runs); any problem makes the bench exit with status 1.  With
    ``qemu``, QEMU's builds get rows too (their build failures go to
    ``qemu.problems``)."""
    progress("C workloads: compiling one program per flavour")
    programs = build(cache_dir=cache_dir, use_liburcu=use_liburcu, qemu=qemu)
    if programs.liburcu_problem:
        print(programs.liburcu_problem, file=sys.stderr)
    results, problems = measure(settings, programs, progress)
    return tables(results, settings, programs, problems, qemu), problems
