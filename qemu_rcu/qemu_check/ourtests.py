# SPDX-License-Identifier: MIT
"""The other direction: this package's C tests run on QEMU's own RCU core.

QEMU's ``util/rcu.c`` is compiled with the shims, once as QEMU builds it by
default (a fence in every reader) and once as configured with
--enable-membarrier.  The package's C tests (``csrc/core/tests``, shipped
with it) are compiled against QEMU's real ``qemu/rcu.h``: the folder
``qemu_core_api/`` comes first on the include path and holds a ``qemu_rcu.h``
that includes only QEMU's header, so the tests see that qemu-rcu's is not
in use and skip what QEMU does not have.  Each subtest then runs in a
process of its own (``PROGRAM SUBTEST``), and its outcome is compared with
the table of differences QEMU has on purpose (``differences.py``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from . import build, differences
from .runs import Figure, Outcome, run_process
from .source import QemuSource

# QEMU's qemu/rcu.h under the name qemu_rcu.h, shared with torture and bench.
ADAPTER = Path(__file__).resolve().parent / "qemu_core_api"
# QEMU's util/rcu.c built as QEMU does by default, and with membarrier.
BUILDS = differences.BUILDS
# Program -> its sources under the package's csrc folder; all use testutil.h.
PROGRAMS: Dict[str, Tuple[str, ...]] = {
    "test_grace": ("core/tests/test_grace.c",),
    "test_registration": ("core/tests/test_registration.c",),
    "test_callbacks": ("core/tests/test_callbacks.c",),
    "test_guards": ("core/tests/test_guards.c",),
    "test_misuse": ("core/tests/test_misuse.c",),
    "test_counter": ("core/tests/test_counter.c",),
    "test_fork": ("core/tests/test_fork.c",),
    "test_qemu_headers": ("core/tests/test_qemu_headers.c",),
    "test_symbols": ("core/tests/test_symbols.c",),
    "rcutorture": ("core/tests/rcutorture.c", "torture/torture.c"),
}
# rcutorture's arguments, as meson runs it: 2 seconds, 3 readers.
TORTURE_ARGV = ("2", "3")
TORTURE_SUBTEST = "2 s, 3 readers"
# Seconds per subtest.  A test's own watchdog (20 s; test_fork's 90 s)
# usually ends a hang first, and is reported as one.
DEFAULT_TIMEOUT = 60.0
FORK_TIMEOUT = 120.0
# A subtest listed as hanging on QEMU's core is given this long, rather than
# its watchdog's 90 s, before it counts as hung.
LISTED_HANG_TIMEOUT = 20.0

# A subtest's verdict: what it means for the run.
PASS = "pass"
SKIP = "skip"                       # needs something QEMU's RCU lacks
DIFFERS = "differs as documented"   # failed the way differences.py says
PASS_DESPITE = "pass (documented to differ)"
FAIL = "FAIL"                       # anything else that did not pass
OK_VERDICTS = (PASS, SKIP, DIFFERS, PASS_DESPITE)


@dataclass
class SubtestResult:
    program: str
    subtest: str
    build: str                      # "fences" or "membarrier"
    outcome: Outcome
    verdict: str
    expected: str = ""              # differences.py's outcome, if listed
    skip_reason: str = ""
    figures: Dict[str, Figure] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.verdict in OK_VERDICTS


@dataclass
class Built:
    folder: Path
    cores: Dict[str, str] = field(default_factory=dict)              # build -> label
    programs: Dict[str, Dict[str, Path]] = field(default_factory=dict)  # build -> program -> exe
    failed: Dict[Tuple[str, str], str] = field(default_factory=dict)    # (build, program) -> log


def select(only: Optional[str]) -> Dict[str, Optional[List[str]]]:
    """``--our-tests`` (PROGRAM or PROGRAM:SUBTEST, comma-separated) as
    program -> its subtests (None: all of them).  None selects everything."""
    if not only:
        return {p: None for p in PROGRAMS}
    chosen: Dict[str, Optional[List[str]]] = {}
    for item in only.split(","):
        program, _, subtest = item.strip().partition(":")
        if program not in PROGRAMS:
            raise ValueError(f"no C test program {program!r} (there are: "
                             f"{', '.join(PROGRAMS)})")
        if subtest:
            subtests = chosen.setdefault(program, [])
            if subtests is not None:
                subtests.append(subtest)
        else:
            chosen[program] = None
    return chosen


def build_all(qemu: QemuSource, folder: Path, tools: build.Toolchain,
              programs: Sequence[str], progress: Callable[[str], None]) -> Built:
    """QEMU's util/rcu.c in both builds, and each test program against each.

    QEMU's file not compiling raises RuntimeError; a test program that does
    not compile is recorded in ``failed``.
    """
    from qemu_rcu._binding import sources

    csrc = Path(sources())
    result = Built(folder=folder)
    for mode in BUILDS:
        progress(f"compiling QEMU's util/rcu.c ({mode})")
        core = build.build_qemu_core(qemu, folder / f"qemu-core-{mode}", tools,
                                     membarrier=mode == "membarrier")
        result.cores[mode] = core.label
        built = result.programs.setdefault(mode, {})
        for program in programs:
            progress(f"compiling {program} on QEMU's core ({mode})")
            exe = folder / f"{program}-on-qemu-{mode}"
            log = folder / f"{program}-on-qemu-{mode}.log"
            srcs = [str(csrc / s) for s in PROGRAMS[program]]
            # QEMU's qemu/rcu.h through the adapter; the shims for the rest.
            cmd = [*tools.cc, *build.CFLAGS, *build.WARNINGS, *core.cflags,
                   f"-I{ADAPTER}", f"-I{core.include}", f"-I{build.SHIMS}",
                   f"-I{csrc / 'torture'}", *tools.glib_cflags, *srcs, *core.objects,
                   "-o", str(exe), *tools.glib_libs]
            if build.compile_logged(cmd, log):
                built[program] = exe
            else:
                result.failed[(mode, program)] = log.read_text()
    return result


_SKIP = re.compile(r"^ok \d+ - \S+ # SKIP (.*)$", re.M)


def _timeout(program: str, subtest: str, mode: str, timeout: Optional[float]) -> float:
    if timeout is not None:
        return timeout
    listed = differences.lookup(program, subtest, mode)
    if listed is not None and listed.statuses == ("hang",):
        return LISTED_HANG_TIMEOUT
    return FORK_TIMEOUT if program == "test_fork" else DEFAULT_TIMEOUT


def judge(program: str, subtest: str, mode: str, outcome: Outcome) -> Tuple[str, str]:
    """(verdict, the listed outcome or "") of one subtest's outcome."""
    listed = differences.lookup(program, subtest, mode)
    expected = listed.outcome if listed else ""
    if outcome.status == "pass":
        return (PASS_DESPITE if listed else PASS), expected
    if listed and outcome.status in listed.statuses:
        return DIFFERS, expected
    return FAIL, expected


def _classify(outcome: Outcome) -> Outcome:
    # The test's own watchdog (alarm) ends a hang with SIGALRM.
    if outcome.status == "crash" and outcome.detail == "SIGALRM":
        return Outcome("hang", "the test's watchdog fired", outcome.seconds, outcome.output)
    return outcome


def run_all(built: Built, chosen: Mapping[str, Optional[List[str]]],
            timeout: Optional[float], progress: Callable[[str], None]) -> List[SubtestResult]:
    results: List[SubtestResult] = []
    for mode in BUILDS:
        for program, wanted in chosen.items():
            if (mode, program) in built.failed:
                outcome = Outcome("build failed", "see the compiler's output", 0.0,
                                  built.failed[(mode, program)][-4000:])
                results.append(SubtestResult(program, "(build)", mode, outcome, FAIL))
                continue
            exe = built.programs[mode][program]
            if program == "rcutorture":
                results.append(_run_torture(exe, mode, _timeout(program, TORTURE_SUBTEST, mode,
                                                                timeout), progress))
                continue
            listing, out = run_process([str(exe), "--list"], os.environ, 30.0)
            names = [line.strip() for line in out.splitlines() if line.strip()]
            if listing.status != "pass" or not names:
                outcome = listing if listing.status != "pass" else \
                    Outcome("fail", "no subtests listed", listing.seconds, out)
                results.append(SubtestResult(program, "(list)", mode, outcome, FAIL))
                continue
            for name in wanted if wanted is not None else names:
                limit = _timeout(program, name, mode, timeout)
                outcome, out = run_process([str(exe), name], os.environ, limit)
                outcome = _classify(outcome)
                skipped = _SKIP.search(out)
                if outcome.status == "pass" and name not in names:
                    outcome = Outcome("fail", f"no subtest {name}", outcome.seconds, out)
                if outcome.status == "pass" and skipped:
                    results.append(SubtestResult(program, name, mode, outcome, SKIP,
                                                 skip_reason=skipped.group(1).strip()))
                else:
                    verdict, expected = judge(program, name, mode, outcome)
                    results.append(SubtestResult(program, name, mode, outcome, verdict,
                                                 expected))
                progress(f"{program} {name} [QEMU's core, {mode}]: {results[-1].verdict} "
                         f"({outcome.seconds:.1f} s)")
    return results


_TORTURE = {
    "reads": re.compile(r"^reads: (\d+)", re.M),
    "updates": re.compile(r"^reads: \d+ updates: (\d+)", re.M),
    "mberrors": re.compile(r"mberrors: (\d+)", re.M),
    "poisoned": re.compile(r"poisoned: (\d+)", re.M),
    "heap_updates": re.compile(r"heap_updates: (\d+)", re.M),
    "reclaimed": re.compile(r"reclaimed: (\d+)", re.M),
    "errors": re.compile(r" errors: (\d+)", re.M),
}
_AGES = re.compile(r"^age histogram:((?: \d+)+)$", re.M)


def torture_figures(out: str) -> Dict[str, Figure]:
    """The figures our rcutorture prints: reads, updates, errors, ages."""
    figures: Dict[str, Figure] = {}
    for name, pattern in _TORTURE.items():
        match = pattern.search(out)
        if match:
            figures[name] = int(match.group(1))
    ages = _AGES.search(out)
    if ages:
        figures["ages"] = [int(n) for n in ages.group(1).split()]
    return figures


def _run_torture(exe: Path, mode: str, timeout: float,
                 progress: Callable[[str], None]) -> SubtestResult:
    outcome, out = run_process([str(exe), *TORTURE_ARGV], os.environ, timeout)
    outcome = _classify(outcome)
    figures = torture_figures(out)
    if outcome.status == "pass" and "ages" not in figures:
        outcome = Outcome("fail", "no figures in the output", outcome.seconds, out)
    verdict, expected = judge("rcutorture", TORTURE_SUBTEST, mode, outcome)
    progress(f"rcutorture {' '.join(TORTURE_ARGV)} [QEMU's core, {mode}]: {verdict}")
    return SubtestResult("rcutorture", TORTURE_SUBTEST, mode, outcome, verdict, expected,
                         figures=figures)
