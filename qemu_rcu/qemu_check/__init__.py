# SPDX-License-Identifier: MIT
"""``qemu-rcu qemu-check``: this core and QEMU's, checked by each other's tests.

First, rcutorture and test-rcu-{list,simpleq,tailq,slist} are read from a
QEMU source tree (never copied), compiled against the qemu-rcu core and the
shims shipped with this package, and run as QEMU runs them: each g_test case
in a process of its own, with membarrier and with a fence in every reader.
Then this package's own C tests run on QEMU's util/rcu.c, each subtest in a
process of its own, and every result must be a pass, a skip (QEMU lacks what
it tests) or a difference listed in ``differences.py``.

Modules: source (find and check the tree), build (compile), runs (run the
cases, read their figures), ourtests and differences (the other direction),
report (tables, JSON).  This module only builds the command line; the work
is imported in ``run``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .._cli import output_file, seconds
from .source import keep_build, qemu_source

if TYPE_CHECKING:
    from .._progress import Progress
    from . import build, report
    from .source import QemuSource

# The exit status of a run that could not start (as for a usage error).
CANNOT_RUN = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--qemu-source", metavar="DIR", type=qemu_source, required=True,
                        help="a QEMU source tree, 9.0 or newer (its files are read, "
                             "never copied)")
    parser.add_argument("--slow", action="store_true",
                        help="run the g_test cases with -m slow, as QEMU's "
                             "'make check SPEED=slow' does (several minutes)")
    parser.add_argument("--json", metavar="PATH", type=output_file,
                        help="also save the results as JSON")
    parser.add_argument("--keep-build", metavar="DIR", type=keep_build,
                        help="build in DIR and keep it (default: a temporary folder, "
                             "removed at the end)")
    parser.add_argument("--only", choices=("qemu-tests", "our-tests"),
                        help="run only QEMU's tests on this core (qemu-tests) or only "
                             "this package's C tests on QEMU's core (our-tests)")
    # Seconds per test process; for the package's own tests.
    parser.add_argument("--timeout", type=seconds, default=None, help=argparse.SUPPRESS)
    # Some of our C tests only (PROGRAM or PROGRAM:SUBTEST, comma-separated);
    # for the package's own tests.
    parser.add_argument("--our-tests", metavar="LIST", help=argparse.SUPPRESS)
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")


def run(args: argparse.Namespace) -> int:
    import contextlib
    import tempfile

    from qemu_rcu import __version__

    from .._progress import Progress
    from . import build, ourtests, report, runs

    qemu: QemuSource = args.qemu_source
    timeout: float = args.timeout or runs.DEFAULT_TIMEOUT
    version = qemu.version or "unknown version"
    try:
        chosen = ourtests.select(args.our_tests)
    except ValueError as exc:
        print(f"qemu-rcu qemu-check: {exc}", file=sys.stderr)
        return CANNOT_RUN
    try:
        tools = build.toolchain()
    except build.SetupError as exc:
        print(f"qemu-rcu qemu-check: {exc}", file=sys.stderr)
        return CANNOT_RUN

    parts = []
    if args.only != "our-tests":
        parts.append(f"its RCU unit tests on the qemu-rcu core{', -m slow' if args.slow else ''}")
    if args.only != "qemu-tests":
        parts.append("this package's C tests on its util/rcu.c")
    print(f"qemu-rcu {__version__} qemu-check: QEMU {version} ({qemu.root}): "
          f"{'; '.join(parts)}", flush=True)
    progress = Progress(label="qemu-check", quiet=args.quiet)
    result = report.Report(qemu_rcu=__version__, qemu_source=str(qemu.root),
                           qemu_version=version, slow=args.slow, timeout=timeout)
    with contextlib.ExitStack() as stack:
        if args.keep_build:
            folder = Path(args.keep_build)
        else:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(
                prefix="qemu-rcu-qemu-check-")))
        try:
            if args.only != "our-tests":
                _qemu_tests(qemu, folder, tools, args.slow, timeout, progress, result)
            if args.only != "qemu-tests":
                built = ourtests.build_all(qemu, folder / "our-tests", tools, list(chosen),
                                           progress)
                result.qemu_cores = built.cores
                for (mode, program), log in built.failed.items():
                    print(f"qemu-rcu qemu-check: {program} did not compile on QEMU's core "
                          f"({mode}):\n{log}", file=sys.stderr)
                result.our_tests = ourtests.run_all(built, chosen, args.timeout, progress)
        except RuntimeError as exc:
            print(f"qemu-rcu qemu-check: {exc}", file=sys.stderr)
            return 1
    progress.done()

    print()
    report.print_report(result, sys.stdout)
    if args.keep_build:
        print(f"build folder kept: {args.keep_build}")
    if args.json:
        report.save_json(args.json, result)
        progress(f"saved {args.json}")
    return 0 if result.passed else 1


def _qemu_tests(qemu: QemuSource, folder: Path, tools: build.Toolchain, slow: bool,
                timeout: float, progress: Progress, result: report.Report) -> None:
    """QEMU's RCU unit tests, built against this core, into ``result``."""
    from . import build, runs

    programs = build.build(qemu, folder, tools, progress)
    for program, log in programs.failed.items():
        print(f"qemu-rcu qemu-check: {program} did not compile:\n{log}", file=sys.stderr)
        outcome = runs.Outcome("build failed", "see the compiler's output", 0.0, "")
        result.cases.extend(runs.CaseResult(program, "(build)", mode, outcome)
                            for mode in runs.MODES)
    result.cases.extend(runs.run_cases(programs.built, slow, timeout, progress))
    result.command_line = runs.run_command_line(programs.built, timeout, progress)
