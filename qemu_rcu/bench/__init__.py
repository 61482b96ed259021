# SPDX-License-Identifier: MIT
"""``qemu-rcu bench``: qemu-rcu measured side by side with its peers.

Four parts, each printed as tables of medians and ratios measured in this
one run (absolute times from different runs are never comparable on a
shared machine):

- ``c``: the C core next to liburcu, the same loops in C (native.py);
- ``python``: the Python read path next to Python's locks, and call_rcu's
  cost end to end (read_path.py);
- ``writer``: readers of a shared configuration while a writer keeps
  rebuilding it (writer.py);
- ``workloads``: read-only, read-mostly and update-heavy workloads in plain
  C programs built at run time (qemu-rcu's core compiled in, as QEMU links
  it), next to liburcu and pthread's rwlock and mutex, with a check that no
  reader ever sees a freed object (workloads.py).

``--qemu-source DIR`` adds QEMU's own util/rcu.c to the ``c`` and
``workloads`` parts, in QEMU's default build and its membarrier build
(qemu.py).

This module only builds the command line; the heavy imports wait until
``run``, so ``qemu-rcu bench --help`` answers at once.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

from .._cli import count, output_file
from .._progress import Progress
from ..qemu_check.source import qemu_source

if TYPE_CHECKING:
    from .qemu import QemuCores
    from .report import Table

PARTS = ("c", "python", "writer", "workloads")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true",
                        help="short run for a CI smoke test (fewer iterations and rounds)")
    parser.add_argument("--json", metavar="PATH", type=output_file,
                        help="also save the results as JSON")
    parser.add_argument("--plot", metavar="PATH", type=output_file,
                        help="also draw the ratios as a PNG (needs matplotlib: "
                             "pip install qemu-rcu[bench])")
    parser.add_argument("--part", action="append", choices=PARTS, dest="parts",
                        help="run only this part (repeatable; default: all)")
    parser.add_argument("--rounds", type=count(1), metavar="N",
                        help="interleaved rounds per measurement (default: 5, the "
                             "writer and workloads parts 3; --quick: 3, and 2 for "
                             "those two)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    parser.add_argument("--qemu-source", metavar="DIR", type=qemu_source,
                        help="also measure QEMU's own util/rcu.c from this QEMU source "
                             "tree, in QEMU's default and membarrier builds, in the c "
                             "and workloads parts (needs glib's development files)")


def _settings(quick: bool, rounds: Any) -> Dict[str, Any]:
    from .native import NativeSettings
    from .read_path import ReadPathSettings
    from .workloads import WorkloadsSettings, default_reader_counts
    from .writer import WriterSettings

    if quick:
        s: Dict[str, Any] = {
            "c": NativeSettings(pairs_n=10_000_000, sync_n=200, callbacks_n=100_000, rounds=3),
            "python": ReadPathSettings(number=100_000, rounds=3, callbacks_n=20_000),
            "writer": WriterSettings(duration=0.5, rounds=2),
            "workloads": WorkloadsSettings(duration=0.2, rounds=2,
                                           reader_counts=default_reader_counts(quick=True)),
        }
    else:
        s = {"c": NativeSettings(), "python": ReadPathSettings(), "writer": WriterSettings(),
             "workloads": WorkloadsSettings(reader_counts=default_reader_counts())}
    if rounds:
        for part in s.values():
            part.rounds = max(1, int(rounds))
    return s


# The exit status of a bench that could not start (as for a usage error).
CANNOT_RUN = 2


def _run_parts(parts: List[str], settings: Dict[str, Any], progress: Progress,
               info: Dict[str, str], cores: Optional[QemuCores]) -> Tuple[List[Table], int]:
    """Run and print each part; return every table and the exit status so far."""
    import sys

    from . import native, read_path, workloads, writer
    from .cbuild import BuildError
    from .report import print_tables

    status = 0
    tables: List[Table] = []
    for part in parts:
        if part == "c":
            try:
                new = native.run(settings["c"], progress, qemu=cores)
            except BuildError as exc:
                print(f"C part skipped: {exc}", file=sys.stderr)
                status = 1
                continue
        elif part == "workloads":
            try:
                new, problems = workloads.run(settings["workloads"], progress, qemu=cores)
            except BuildError as exc:
                print(f"workloads part skipped: {exc}", file=sys.stderr)
                status = 1
                continue
            for problem in problems:
                print(f"workloads FAILED: {problem}", file=sys.stderr)
            if problems:
                status = 1
        elif part == "python":
            new = read_path.run(settings["python"], progress)
        else:
            new = writer.run(settings["writer"], progress)
        # Print each part as it finishes: a long run shows results early.
        print_tables(new, info, sys.stdout)
        tables.extend(new)
    return tables, status


def run(args: argparse.Namespace) -> int:
    import contextlib
    import dataclasses
    import sys
    import tempfile
    from pathlib import Path

    from qemu_rcu import __version__
    from qemu_rcu._binding import membarrier_in_use

    from ..qemu_check.build import SetupError
    from . import plot, qemu
    from .report import machine_info, machine_line, save_json

    parts: List[str] = args.parts or list(PARTS)
    settings = _settings(args.quick, args.rounds)
    progress = Progress(label="bench", quiet=args.quiet)
    if args.plot and not plot.available():
        print(plot.PLOT_HINT, file=sys.stderr)
    info = machine_info()
    info["qemu_rcu"] = __version__
    info["membarrier"] = "on" if membarrier_in_use() else "off"
    print(f"qemu-rcu {__version__} bench{' --quick' if args.quick else ''}: "
          f"{', '.join(parts)}; membarrier in use: "
          f"{membarrier_in_use()} (QEMU_RCU_MEMBARRIER=0 turns it off)")

    with contextlib.ExitStack() as stack:
        cores: Optional[QemuCores] = None
        if args.qemu_source and {"c", "workloads"} & set(parts):
            # QEMU's core is compiled once, into a folder that lasts the run.
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(
                prefix="qemu-rcu-bench-qemu-")))
            try:
                cores = qemu.prepare(args.qemu_source, folder, progress)
            except SetupError as exc:
                print(f"qemu-rcu bench: {exc}", file=sys.stderr)
                return CANNOT_RUN
            info["qemu"] = f"{args.qemu_source.version_name} ({args.qemu_source.root})"
            print(f"QEMU's own util/rcu.c: {info['qemu']}, builds: "
                  f"{', '.join(b.mode for b in cores.builds) or 'none'}")
        elif args.qemu_source:
            print("qemu-rcu bench: --qemu-source adds rows to the c and workloads parts "
                  "only, and this run has neither", file=sys.stderr)
        print(machine_line(info), end="\n\n", flush=True)
        tables, status = _run_parts(parts, settings, progress, info, cores)
    if cores is not None:
        for problem in cores.problems:
            print(f"QEMU's util/rcu.c FAILED: {problem}", file=sys.stderr)
        if cores.problems:
            status = 1

    if args.json:
        save_json(args.json, tables, info, {
            "quick": args.quick, "parts": parts,
            **{k: dataclasses.asdict(v) for k, v in settings.items() if k in parts}})
        progress(f"saved {args.json}")
    if args.plot:
        if plot.available():
            plot.save(tables, args.plot, machine_line(info))
            progress(f"saved {args.plot}")
        else:
            print(plot.PLOT_HINT, file=sys.stderr)
            status = 1
    return status
