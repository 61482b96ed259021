# SPDX-License-Identifier: MIT
"""The results: QEMU's tests on this core (test case x barrier mode), this
package's tests on QEMU's core (subtest x QEMU build), the key figures, and
the same as JSON."""

from __future__ import annotations

import json
import platform
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, TextIO, Tuple

from .differences import OUTCOMES
from .ourtests import BUILDS, DIFFERS, PASS, PASS_DESPITE, SKIP, SubtestResult
from .runs import MODES, CaseResult, FigureResult, Outcome


@dataclass
class Report:
    qemu_rcu: str                   # this package's version
    qemu_source: str
    qemu_version: str               # VERSION's text, or "unknown version"
    slow: bool
    timeout: float
    cases: List[CaseResult] = field(default_factory=list)
    command_line: List[FigureResult] = field(default_factory=list)
    # This package's C tests on QEMU's own core, and that core's builds.
    our_tests: List[SubtestResult] = field(default_factory=list)
    qemu_cores: Dict[str, str] = field(default_factory=dict)

    def outcomes(self) -> List[Outcome]:
        return [*(r.outcome for r in self.cases), *(f.outcome for f in self.command_line)]

    @property
    def passed(self) -> bool:
        """Every QEMU test passed on this core, and every one of our tests
        had the result expected on QEMU's."""
        return (all(o.status == "pass" for o in self.outcomes())
                and all(r.ok for r in self.our_tests))

    def our_counts(self) -> Dict[str, int]:
        counts: Dict[str, int] = {}
        for r in self.our_tests:
            counts[r.verdict] = counts.get(r.verdict, 0) + 1
        return counts

    def counts(self) -> Dict[str, int]:
        counts: Dict[str, int] = {}
        for o in self.outcomes():
            counts[o.status] = counts.get(o.status, 0) + 1
        return counts


def _cell(outcome: Outcome) -> str:
    """Pass with its seconds, crash with its signal, hang with its limit;
    why a case failed is in its output, printed after the table."""
    if outcome.status == "pass":
        return f"pass {outcome.seconds:.1f}s"
    if outcome.status == "crash":
        return f"crash ({outcome.detail})"
    if outcome.status == "hang":
        return f"hang (>{outcome.seconds:.0f}s)"
    return outcome.status


def _figures_text(result: FigureResult) -> str:
    f = result.figures
    if "ages" in f:
        return (f"reads {f['reads']}, updates {f['updates']}, mberror {f['mberror']}, "
                f"age histogram {' '.join(str(n) for n in f['ages'])}")   # type: ignore[union-attr]
    if "removed" in f:
        same = "==" if f["removed"] == f["reclaimed"] else "!="
        return f"nodes read {f['read']}, removed {f['removed']} {same} reclaimed {f['reclaimed']}"
    return ""


def _table(header: List[str], lines: List[List[str]], out: TextIO) -> None:
    widths = [max(len(row[i]) for row in [header, *lines]) for i in range(len(header))]
    for row in [header, ["-" * w for w in widths], *lines]:
        out.write("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() + "\n")


def _our_cell(result: SubtestResult) -> str:
    """pass/skip/differs, or what went wrong (with what was expected)."""
    o = result.outcome
    if result.verdict == PASS:
        return f"pass {o.seconds:.1f}s"
    if result.verdict in (SKIP, PASS_DESPITE):
        return result.verdict
    if result.verdict == DIFFERS:
        # What happened, which is one of the outcomes listed.
        happened = {status: word for word, status in OUTCOMES.items()}[o.status]
        return f"differs: {happened}"
    # Upper case: the status word of a result that fails the run.
    status, _, rest = _cell(o).partition(" ")
    what = f"{status.upper()} {rest}".rstrip()
    return f"{what}, expected {result.expected}" if result.expected else what


def print_report(report: Report, out: TextIO) -> None:
    if report.cases or report.command_line:
        _print_qemu_tests(report, out)
    if report.our_tests:
        _print_our_tests(report, out)
    verdict = "all passed" if report.passed else "FAILED"
    out.write(f"\nQEMU {report.qemu_version}: {verdict}\n")


def _print_our_tests(report: Report, out: TextIO) -> None:
    builds = [b for b in BUILDS if any(r.build == b for r in report.our_tests)]
    out.write("\nThis package's C tests on QEMU's own util/rcu.c, built as QEMU builds it "
              "by default (fences) and with --enable-membarrier (membarrier):\n\n")
    rows: Dict[Tuple[str, str], Dict[str, str]] = {}
    for r in report.our_tests:
        rows.setdefault((r.program, r.subtest), {})[r.build] = _our_cell(r)
    lines = [[program, subtest, *(cells.get(b, "-") for b in builds)]
             for (program, subtest), cells in rows.items()]
    _table(["test", "subtest", *(f"QEMU {b}" for b in builds)], lines, out)

    torture = [r for r in report.our_tests if r.figures]
    if torture:
        out.write("\nrcutorture (this package's) on QEMU's core:\n")
        for r in torture:
            f = r.figures
            ages = " ".join(str(n) for n in f.get("ages", []))   # type: ignore[union-attr]
            out.write(f"  {r.subtest} [{r.build}]: {_our_cell(r)}; reads {f.get('reads')}, "
                      f"updates {f.get('updates')}, heap updates {f.get('heap_updates')} == "
                      f"reclaimed {f.get('reclaimed')}, errors {f.get('errors')}, "
                      f"age histogram {ages}\n")

    skipped = sorted({(r.program, r.subtest, r.skip_reason) for r in report.our_tests
                      if r.verdict == SKIP})
    if skipped:
        out.write("\nSkipped on QEMU's core:\n")
        for program, subtest, why in skipped:
            out.write(f"  {program} {subtest}: {why}\n")
    unexpected = [r for r in report.our_tests if not r.ok]
    for r in unexpected:
        expected = f", listed as {r.expected}" if r.expected else ", not a listed difference"
        out.write(f"\n--- {r.program} {r.subtest} [QEMU {r.build}]: {r.outcome.status} "
                  f"({r.outcome.detail}){expected}; its output ends:\n")
        out.write(r.outcome.output.rstrip() + "\n")
    counts = report.our_counts()
    summary = ", ".join(f"{n} {verdict}" for verdict, n in sorted(counts.items()))
    out.write(f"\nThis package's tests on QEMU's core: {summary}\n")


def _print_qemu_tests(report: Report, out: TextIO) -> None:
    # Rows keep the order the cases ran in; one column per barrier mode.
    rows: Dict[Tuple[str, str], Dict[str, str]] = {}
    for r in report.cases:
        rows.setdefault((r.program, r.case), {})[r.mode] = _cell(r.outcome)
    modes = list(MODES)
    out.write("QEMU's RCU unit tests on the qemu-rcu core:\n\n")
    lines = [[program, case, *(cells.get(m, "-") for m in modes)]
             for (program, case), cells in rows.items()]
    _table(["test", "case", *modes], lines, out)

    if report.command_line:
        out.write("\nCommand-line runs (membarrier):\n")
        for f in report.command_line:
            text = _figures_text(f)
            status = _cell(f.outcome) if f.outcome.status == "pass" else \
                f"{f.outcome.status} ({f.outcome.detail})"
            out.write(f"  {f.program} {' '.join(f.argv)}: {status}"
                      f"{'; ' + text if text else ''}\n")

    failed = [(f"{r.program} {r.case} [{r.mode}]", r.outcome) for r in report.cases]
    failed += [(f"{f.program} {' '.join(f.argv)} [{f.mode}]", f.outcome)
               for f in report.command_line]
    failed = [(name, o) for name, o in failed if o.status != "pass" and o.output]
    for name, outcome in failed:
        # A failed assertion is the output's own last line; say the rest.
        why = "" if outcome.status == "fail" else f" ({outcome.detail})"
        out.write(f"\n--- {name}: {outcome.status}{why}; its output ends:\n")
        out.write(outcome.output.rstrip() + "\n")

    counts = report.counts()
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    out.write(f"\nQEMU's tests on the qemu-rcu core: {summary}\n")


def to_json(report: Report) -> Dict[str, Any]:
    data = asdict(report)
    data["command_line"] = [{**asdict(f), "argv": " ".join(f.argv)}
                            for f in report.command_line]
    data["our_tests"] = [{**asdict(r), "ok": r.ok} for r in report.our_tests]
    data["passed"] = report.passed
    data["machine"] = {"python": platform.python_version(), "system": platform.platform(),
                       "cpu": platform.machine()}
    return data


def save_json(path: str, report: Report) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(to_json(report), fh, indent=2)
        fh.write("\n")
