# SPDX-License-Identifier: MIT
"""The results: a table of test case x barrier mode, the key figures, and
the same as JSON."""

from __future__ import annotations

import json
import platform
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, TextIO, Tuple

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

    def outcomes(self) -> List[Outcome]:
        return [*(r.outcome for r in self.cases), *(f.outcome for f in self.command_line)]

    @property
    def passed(self) -> bool:
        return all(o.status == "pass" for o in self.outcomes())

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


def print_report(report: Report, out: TextIO) -> None:
    # Rows keep the order the cases ran in; one column per barrier mode.
    rows: Dict[Tuple[str, str], Dict[str, str]] = {}
    for r in report.cases:
        rows.setdefault((r.program, r.case), {})[r.mode] = _cell(r.outcome)
    modes = list(MODES)
    header = ["test", "case", *modes]
    lines = [[program, case, *(cells.get(m, "-") for m in modes)]
             for (program, case), cells in rows.items()]
    widths = [max(len(row[i]) for row in [header, *lines]) for i in range(len(header))]
    for row in [header, ["-" * w for w in widths], *lines]:
        out.write("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() + "\n")

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
    verdict = "all passed" if report.passed else "FAILED"
    out.write(f"\nQEMU {report.qemu_version}: {summary}: {verdict}\n")


def to_json(report: Report) -> Dict[str, Any]:
    data = asdict(report)
    data["command_line"] = [{**asdict(f), "argv": " ".join(f.argv)}
                            for f in report.command_line]
    data["passed"] = report.passed
    data["machine"] = {"python": platform.python_version(), "system": platform.platform(),
                       "cpu": platform.machine()}
    return data


def save_json(path: str, report: Report) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(to_json(report), fh, indent=2)
        fh.write("\n")
