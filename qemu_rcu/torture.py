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
the one RCU domain.  ``--qemu-source DIR`` runs the C threads on QEMU's own
``util/rcu.c`` instead: the engine is compiled with ``torture_main.c`` into a
program linked with QEMU's core, and this module drives it through a pipe.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import select
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, List, Optional, Protocol, TextIO, Tuple

from . import __version__, _cli
from ._binding import ffi, lib, membarrier_in_use
from ._progress import Progress
from .callbacks import drain_call_rcu, synchronize_rcu
from .cell import RcuCell
from .guard import RcuGuard
from .qemu_check.source import QemuSource, qemu_source

if TYPE_CHECKING:
    from .qemu_check.build import Toolchain

PIPE_LEN = 10
AGES = PIPE_LEN + 1          # ages 0..9, and a last bucket for 10 and over
PROGRESS_INTERVAL_S = 0.5
# How long the separate torture program may take to answer: to start (its
# threads), to report a snapshot, and to stop (join, then drain callbacks).
# Generous, for a loaded machine; past them the program is called hung.
START_TIMEOUT_S = 60.0
SNAPSHOT_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 120.0


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


# ---- C mode on QEMU's core: the engine in a program of its own --------------


class TortureProgramError(RuntimeError):
    """The separate torture program could not start."""


def _parse_counts(line: str) -> Counts:
    """A ``counts``/``final`` line of torture_main.c: ``WORD key=value ...``."""
    fields = dict(word.split("=", 1) for word in line.split()[1:])
    age = [int(a) for a in fields["age"].split(",")]
    if len(age) != AGES:
        raise ValueError(f"{len(age)} ages instead of {AGES}")
    return Counts(reads=int(fields["reads"]), updates=int(fields["updates"]),
                  heap_updates=int(fields["heap_updates"]),
                  reclaimed=int(fields["reclaimed"]), sync_loops=int(fields["sync_loops"]),
                  mberrors=int(fields["mberrors"]), poisoned=int(fields["poisoned"]),
                  recycled=int(fields["recycled"]), age=age)


class ProgramTorture:
    """The C threads of torture.c in a separate program (torture_main.c).

    It answers one line per command on its stdin; its stderr goes to a file,
    quoted if it ends early.  Anything that goes wrong with the program (it
    crashes, stops answering, prints nonsense) is kept in ``problem`` and
    counts as an error, and the last counts it gave stand as its result.
    """

    label = "C"

    def __init__(self, program: Path, readers: int, updaters: int, log: Path) -> None:
        self.notes: List[str] = []
        self.membarrier = False
        self.problem = ""
        self._last = Counts()
        self._buffer = b""
        self._log = log
        with open(log, "wb") as stderr:
            self._proc = subprocess.Popen([str(program), str(readers), str(updaters)],
                                          stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                          stderr=stderr, bufsize=0)
        while True:
            line = self._line(START_TIMEOUT_S)
            if line is None:
                self._kill()
                raise TortureProgramError(self.problem or "the torture program did not start")
            if line.startswith("note "):
                self.notes.append(line[5:])
            elif line.startswith("ready"):
                self.membarrier = "membarrier=1" in line.split()
                return

    def _stderr(self) -> str:
        text = self._log.read_text(errors="replace").strip()
        return f": {text}" if text else ""

    def _ended(self) -> str:
        status = self._proc.poll()
        if status is None:
            return "the torture program stopped answering"
        how = f"killed by signal {-status}" if status < 0 else f"exit status {status}"
        return f"the torture program ended early ({how}){self._stderr()}"

    def _line(self, timeout: float) -> Optional[str]:
        """The program's next line; None (and ``problem`` set) if it has none."""
        assert self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            ready = select.select([fd], [], [], max(left, 0))[0] if left > 0 else []
            chunk = os.read(fd, 65536) if ready else b""
            if not chunk:
                if not ready:
                    self.problem = (f"the torture program gave no answer within "
                                    f"{timeout:g} s")
                else:
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        self._proc.wait(timeout)      # its end of the pipe is closed
                    self.problem = self._ended()
                return None
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line.decode(errors="replace")

    def _send(self, command: str) -> bool:
        assert self._proc.stdin is not None
        try:
            self._proc.stdin.write(command.encode() + b"\n")
            return True
        except (BrokenPipeError, ValueError):
            return False

    def _counts(self, word: str, timeout: float) -> None:
        """Read the program's ``word`` line into the last counts."""
        while True:
            line = self._line(timeout)
            if line is None:
                return
            first = line.split()[0] if line.strip() else ""
            if first == "counts" and word != "counts":
                continue        # the answer to a snapshot that Ctrl-C cut short
            try:
                if first != word:
                    raise ValueError(f"expected {word!r}")
                self._last = _parse_counts(line)
            except (ValueError, KeyError, IndexError) as exc:
                self.problem = f"cannot read the torture program's line {line!r}: {exc}"
            return

    def _kill(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        for pipe in (self._proc.stdin, self._proc.stdout):
            if pipe is not None:
                pipe.close()

    def snapshot(self) -> Counts:
        if not self.problem:
            if self._send("snapshot"):
                self._counts("counts", SNAPSHOT_TIMEOUT_S)
            else:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self._proc.wait(SNAPSHOT_TIMEOUT_S)     # it closed its stdin
                self.problem = self._ended()
        return self._last

    def stop(self) -> Counts:
        try:
            if not self.problem:
                self._send("stop")
                self._counts("final", STOP_TIMEOUT_S)
            if not self.problem:
                status = self._proc.wait(STOP_TIMEOUT_S)
                if status not in (0, 1):       # 1: the final counts hold errors
                    self.problem = self._ended()
        except subprocess.TimeoutExpired:
            self.problem = "the torture program did not exit after its final counts"
        finally:
            # Also on a second Ctrl-C: the program never outlives the command.
            self._kill()
        return self._last


@dataclass
class QemuProgram:
    """The torture program built on QEMU's core, ready to run."""

    path: Path
    label: str                 # which core, e.g. "QEMU 9.2.0 util/rcu.c (fences)"
    folder: Path               # for the program's stderr


def build_qemu_program(qemu: QemuSource, folder: Path, tools: Toolchain,
                       mode: str) -> QemuProgram:
    """torture.c and torture_main.c on QEMU's util/rcu.c, in ``folder``.

    Raises qemu_core.QemuBuildError if either does not compile.
    """
    from . import qemu_core
    from ._binding import sources

    torture_dir = Path(sources()) / "torture"
    built = qemu_core.build(qemu, folder, tools, mode)
    exe = built.compile("torture", [torture_dir / "torture.c", torture_dir / "torture_main.c"],
                        [f"-I{torture_dir}"])
    return QemuProgram(exe, built.label, built.folder)


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
            progress: Progress, qemu: Optional[QemuProgram] = None) -> Tuple[int, int]:
    """Run, print the report on stdout; return (errors, stopped_by): the
    exit status of the signal that stopped the run early (130 for Ctrl-C,
    143 for SIGTERM), or 0.

    With ``qemu``, the C side is that program, on QEMU's core (mode "c").
    """
    # QEMU's core keeps no count of its grace periods.
    grace_periods: Optional[Callable[[], int]] = None if qemu else _grace_periods
    gp0 = grace_periods() if grace_periods else 0
    runs: List[Side] = []
    stopped_by = 0
    final: List[Tuple[str, Counts, str]] = []
    program: Optional[ProgramTorture] = None
    start = time.monotonic()
    try:
        if qemu is not None:
            program = ProgramTorture(qemu.path, readers, updaters, qemu.folder / "torture.err")
            runs.append(program)
        elif mode in ("c", "both"):
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
            now = time.monotonic()
            snaps = [r.snapshot() for r in runs]
            dt = max(now - last_t, 1e-9)
            parts = [f"{now - start:5.1f}s"]
            for r, s, prev in zip(runs, snaps, last):
                reads = (s.reads - prev.reads) / dt
                updates = (s.updates + s.heap_updates - prev.updates - prev.heap_updates) / dt
                parts.append(f"{r.label}: {_si(reads)} reads/s {_si(updates)} updates/s")
            if grace_periods:
                gp = grace_periods()
                parts.append(f"grace periods {gp - gp0:,} ({_si((gp - last_gp) / dt)}/s)")
                last_gp = gp
            parts.append(f"errors {sum(s.errors() for s in snaps)}")
            progress("  ".join(parts))
            last, last_t = snaps, now
            if any(getattr(r, "problem", "") for r in runs):
                break               # a torture program died or hung: stop here
    except _cli.Terminated:
        stopped_by = _cli.TERMINATED
    except KeyboardInterrupt:
        stopped_by = _cli.INTERRUPTED
    finally:
        for r in runs:
            final.append((r.label, r.stop(), getattr(r, "problem", "")))
        progress.done()
    elapsed = time.monotonic() - start

    if program is not None and qemu is not None:
        where = (f"on {qemu.label}, in a separate program, membarrier "
                 f"{'yes' if program.membarrier else 'no'}")
    else:
        where = f"membarrier {'yes' if membarrier_in_use() else 'no'}"
    print(f"qemu_rcu {__version__} torture: {elapsed:.1f} s, mode {mode}, {readers} readers "
          f"and {updaters} updaters per side, {where}"
          + (" (interrupted)" if stopped_by else ""))
    for note in program.notes if program is not None else []:
        print(f"note: {note}")
    errors = 0
    for label, c, problem in final:
        print("\n".join(_report(label, c)))
        errors += c.errors() + _lost(c)
        if problem:
            print(f"  {label}: {problem}")
            errors += 1
        elif (c.reads == 0 or c.updates == 0) and not stopped_by:
            # Stopped early by the user, a run may not have got going: only a
            # run that had its time counts this against the core.
            print(f"  {label}: no reads or no pipeline updates: nothing was tested")
            errors += 1
    if grace_periods:
        print(f"grace periods: {grace_periods() - gp0:,}")
    else:
        print("grace periods: not counted (QEMU's util/rcu.c keeps no count)")
    print(f"errors: {errors}")
    print("PASS" if errors == 0 else "FAIL")
    return errors, stopped_by


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=_cli.seconds, default=10.0, help="how long to run")
    parser.add_argument("--readers", type=_cli.count(1, lib.QEMU_RCU_TORTURE_MAX_READERS),
                        default=2, help="reader threads per side")
    parser.add_argument("--updaters", type=_cli.count(1, lib.QEMU_RCU_TORTURE_MAX_UPDATERS),
                        default=4, help="updater threads per side: the pipeline, the heap "
                                        "reclaimer, then grace-period loops")
    parser.add_argument("--mode", choices=("c", "python", "both"), default=None,
                        help="C threads in the extension, Python threads, or both at once "
                             "(default: both; c with --qemu-source)")
    parser.add_argument("--qemu-source", metavar="DIR", type=qemu_source,
                        help="run the C threads on QEMU's own util/rcu.c from this QEMU "
                             "source tree, in a program built at run time (needs a C "
                             "compiler and glib's development files)")
    parser.add_argument("--qemu-membarrier", action="store_true",
                        help="with --qemu-source: build QEMU's core as configured with "
                             "--enable-membarrier (default: QEMU's default build, a "
                             "fence in every reader)")
    # Cross-option mistakes are usage errors too, found after parsing.
    parser.set_defaults(usage_error=parser.error)


# The exit status of a torture that could not run (as for a usage error).
CANNOT_RUN = 2


def _qemu_program(args: argparse.Namespace, folder: Path) -> QemuProgram:
    """Build the torture program on QEMU's core; errors say what went wrong."""
    from . import qemu_core
    from .qemu_check import build as qemu_build

    mode = qemu_core.MEMBARRIER if args.qemu_membarrier else qemu_core.FENCES
    if mode == qemu_core.MEMBARRIER:
        problem = qemu_core.membarrier_problem()
        if problem:
            raise TortureProgramError(problem)
    tools = qemu_build.toolchain()
    return build_qemu_program(args.qemu_source, folder, tools, mode)


def run(args: argparse.Namespace, stream: Optional[TextIO] = None) -> int:
    import sys

    from .qemu_check.build import SetupError
    from .qemu_core import QemuBuildError

    mode = args.mode or ("c" if args.qemu_source else "both")
    if args.qemu_source and mode != "c":
        args.usage_error(f"--qemu-source runs the C threads only: it cannot be used "
                         f"with --mode {mode}")
    if args.qemu_membarrier and not args.qemu_source:
        args.usage_error("--qemu-membarrier needs --qemu-source")
    progress = Progress(stream, live=True)
    with tempfile.TemporaryDirectory(prefix="qemu-rcu-torture-") as tmp:
        qemu: Optional[QemuProgram] = None
        if args.qemu_source:
            try:
                progress(f"compiling the torture program on {args.qemu_source.root}")
                qemu = _qemu_program(args, Path(tmp))
                progress.done()
            except (SetupError, QemuBuildError, TortureProgramError) as exc:
                progress.done()
                print(f"qemu-rcu torture: {exc}", file=sys.stderr)
                return CANNOT_RUN
        try:
            errors, stopped_by = torture(args.seconds, args.readers, args.updaters, mode,
                                          progress, qemu)
        except TortureProgramError as exc:
            print(f"qemu-rcu torture: {exc}", file=sys.stderr)
            return CANNOT_RUN
    if errors:
        return 1
    return stopped_by
