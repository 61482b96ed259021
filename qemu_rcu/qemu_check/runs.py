# SPDX-License-Identifier: MIT
"""Run the compiled tests the way QEMU's tests/unit/meson.build runs them.

Every g_test case runs in a process of its own (``--tap -k -p CASE``) with a
time limit, once per barrier mode.  Then rcutorture and the list tests run
once in their command-line mode, whose output carries the figures worth
reading: reads, updates and the age histogram; nodes removed and reclaimed.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

# Barrier mode -> environment: the core's default (membarrier where the
# kernel has it), and a full fence in every reader.
MODES: Dict[str, Dict[str, str]] = {
    "membarrier": {},
    "fences": {"QEMU_RCU_MEMBARRIER": "0"},
}
DEFAULT_TIMEOUT = 30.0      # seconds per process, as QEMU's meson test default
LIST_TESTS = ("test-rcu-list", "test-rcu-simpleq", "test-rcu-tailq", "test-rcu-slist")
# Command-line forms: rcutorture NREADERS stress SECONDS; list tests SECONDS NREADERS.
TORTURE_ARGV = ("2", "stress", "1")
LIST_ARGV = ("1", "2")
OUTPUT_TAIL = 40            # lines of a failed run's output that are kept

Figure = Union[int, List[int]]


@dataclass
class Outcome:
    status: str             # pass, fail, hang, crash
    detail: str             # e.g. "exit status 1", "SIGSEGV", "no answer in 30 s"
    seconds: float
    output: str             # the end of stdout and stderr, kept when it did not pass


@dataclass
class CaseResult:
    program: str
    case: str               # the g_test path, or "(build)" / "(list)"
    mode: str
    outcome: Outcome


@dataclass
class FigureResult:
    program: str
    argv: List[str]
    mode: str
    outcome: Outcome
    figures: Dict[str, Figure] = field(default_factory=dict)


def _tail(text: str) -> str:
    return "\n".join(text.rstrip().splitlines()[-OUTPUT_TAIL:])


def run_process(cmd: Sequence[str], env: Mapping[str, str],
                timeout: float) -> Tuple[Outcome, str]:
    """Run ``cmd`` in a session of its own; kill all of it on timeout or Ctrl-C.

    Returns how it went and its whole output (stdout, then stderr merged in).
    """
    start = time.monotonic()
    proc = _start(cmd, env)
    timed_out = False
    try:
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill(proc)
            out, _ = proc.communicate()
    except BaseException:
        # Ctrl-C: the test runs in its own session, so the terminal's SIGINT
        # did not reach it.
        _kill(proc)
        proc.wait()
        raise
    seconds = time.monotonic() - start
    return _classify(proc.returncode, timed_out, out, seconds, timeout), out


def _start(cmd: Sequence[str], env: Mapping[str, str]) -> subprocess.Popen[str]:
    """Popen, with Ctrl-C and SIGTERM held back until the child can be killed.

    An exception raised inside Popen by a signal handler, after the fork,
    would leave a child in a session of its own that nothing kills (the
    terminal's SIGINT does not reach it).  So the signals whose Python
    handlers would raise only note themselves meanwhile; the child is then
    killed and the first signal raised again.
    """
    def popen() -> subprocess.Popen[str]:
        return subprocess.Popen(list(cmd), env=dict(env), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                errors="replace", start_new_session=True)

    if threading.current_thread() is not threading.main_thread():
        return popen()              # signal handlers run in the main thread only
    held = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        handler = signal.getsignal(signum)
        if callable(handler):
            held[signum] = handler
    arrived: List[int] = []
    for signum in held:
        signal.signal(signum, lambda signum, frame: arrived.append(signum))
    try:
        proc = popen()
    finally:
        for signum, handler in held.items():
            signal.signal(signum, handler)
    if arrived:
        _kill(proc)
        proc.communicate()
        signal.raise_signal(arrived[0])     # now the real handler runs
    return proc


def _kill(proc: subprocess.Popen[str]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _classify(rc: int, timed_out: bool, out: str, seconds: float, timeout: float) -> Outcome:
    # A g_test assertion prints "Bail out!" (TAP) and aborts: a failure of
    # the test, not a crash.
    failed_check = "Bail out!" in out or re.search(r"^not ok\b", out, re.M) is not None
    if timed_out:
        return Outcome("hang", f"no end within {timeout:g} s", seconds, _tail(out))
    if failed_check:
        return Outcome("fail", _assertion(out) or f"exit status {rc}", seconds, _tail(out))
    if rc < 0:
        try:
            name = signal.Signals(-rc).name
        except ValueError:
            name = f"signal {-rc}"
        return Outcome("crash", name, seconds, _tail(out))
    if rc != 0:
        return Outcome("fail", f"exit status {rc}", seconds, _tail(out))
    return Outcome("pass", "", seconds, "")


def _assertion(out: str) -> str:
    for line in out.splitlines():
        if line.startswith("Bail out!"):
            return line[len("Bail out!"):].strip()
    return ""


def _env(mode: str) -> Dict[str, str]:
    return {**os.environ, **MODES[mode]}


def list_cases(exe: Path, slow: bool, timeout: float) -> Tuple[List[str], Outcome]:
    """The g_test cases ``exe -l`` names, and how the listing went."""
    cmd = [str(exe), "-l", *(["-m", "slow"] if slow else [])]
    outcome, out = run_process(cmd, os.environ, timeout)
    cases = [line.strip() for line in out.splitlines() if line.startswith("/")]
    return cases, outcome


def run_cases(programs: Mapping[str, Path], slow: bool, timeout: float,
              progress: Callable[[str], None]) -> List[CaseResult]:
    results: List[CaseResult] = []
    for program, exe in programs.items():
        cases, listing = list_cases(exe, slow, timeout)
        if listing.status != "pass" or not cases:
            if listing.status == "pass":
                listing = Outcome("fail", "no test cases listed", listing.seconds, "")
            results.extend(CaseResult(program, "(list)", mode, listing) for mode in MODES)
            continue
        for case in cases:
            for mode in MODES:
                cmd = [str(exe), "--tap", "-k", "-p", case, *(["-m", "slow"] if slow else [])]
                outcome, _ = run_process(cmd, _env(mode), timeout)
                progress(f"{program} {case} [{mode}]: {outcome.status} "
                         f"({outcome.seconds:.1f} s)")
                results.append(CaseResult(program, case, mode, outcome))
    return results


_TORTURE_COUNTS = re.compile(r"n_reads:\s*(\d+)\s+n_updates:\s*(\d+)\s+n_mberror:\s*(\d+)")
_TORTURE_AGES = re.compile(r"rcu_stress_count:((?:\s+\d+)+)")
_LIST_COUNTS = re.compile(r"nodes read:\s*(\d+),\s*nodes removed:\s*(\d+);\s*"
                          r"nodes reclaimed:\s*(\d+)")


def torture_figures(out: str) -> Tuple[Dict[str, Figure], Optional[str]]:
    """rcutorture's stress figures, and what is wrong with them (None if nothing).

    As rcutorture's own g_test form asserts: no memory-barrier error, and no
    reader saw an element two or more updates old.
    """
    counts, ages = _TORTURE_COUNTS.search(out), _TORTURE_AGES.search(out)
    if not counts or not ages:
        return {}, "no stress figures in the output"
    histogram = [int(n) for n in ages.group(1).split()]
    figures: Dict[str, Figure] = {"reads": int(counts.group(1)),
                                  "updates": int(counts.group(2)),
                                  "mberror": int(counts.group(3)), "ages": histogram}
    if figures["mberror"]:
        return figures, f"{figures['mberror']} memory-barrier error(s)"
    if any(histogram[2:]):
        return figures, "readers saw elements two or more updates old"
    return figures, None


def list_figures(out: str) -> Tuple[Dict[str, Figure], Optional[str]]:
    """A list test's nodes read, removed and reclaimed (every removed one must be)."""
    counts = _LIST_COUNTS.search(out)
    if not counts:
        return {}, "no node counts in the output"
    figures: Dict[str, Figure] = {"read": int(counts.group(1)),
                                  "removed": int(counts.group(2)),
                                  "reclaimed": int(counts.group(3))}
    if figures["removed"] != figures["reclaimed"]:
        return figures, "removed != reclaimed"
    return figures, None


def run_command_line(programs: Mapping[str, Path], timeout: float,
                     progress: Callable[[str], None]) -> List[FigureResult]:
    """rcutorture and each list test once, in the default barrier mode."""
    results: List[FigureResult] = []
    mode = "membarrier"
    for program, exe in programs.items():
        if program == "rcutorture":
            argv, parse = list(TORTURE_ARGV), torture_figures
        elif program in LIST_TESTS:
            argv, parse = list(LIST_ARGV), list_figures
        else:
            continue
        outcome, out = run_process([str(exe), *argv], _env(mode), timeout)
        figures, problem = parse(out)
        if outcome.status == "pass" and problem:
            outcome = Outcome("fail", problem, outcome.seconds, _tail(out))
        progress(f"{program} {' '.join(argv)} [{mode}]: {outcome.status}")
        results.append(FigureResult(program, argv, mode, outcome, figures))
    return results
