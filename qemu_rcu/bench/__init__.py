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

This module only builds the command line; the heavy imports wait until
``run``, so ``qemu-rcu bench --help`` answers at once.
"""

from __future__ import annotations

import argparse
from typing import Any, Dict, List

from .._cli import count, output_file

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


def run(args: argparse.Namespace) -> int:
    import dataclasses
    import sys

    from qemu_rcu import __version__
    from qemu_rcu._binding import membarrier_in_use

    from .._progress import Progress
    from . import native, plot, read_path, workloads, writer
    from .cbuild import BuildError
    from .report import Table, machine_info, machine_line, print_tables, save_json

    parts: List[str] = args.parts or list(PARTS)
    settings = _settings(args.quick, args.rounds)
    progress = Progress(label="bench", quiet=args.quiet)
    status = 0
    if args.plot and not plot.available():
        print(plot.PLOT_HINT, file=sys.stderr)
    info = machine_info()
    info["qemu_rcu"] = __version__
    info["membarrier"] = "on" if membarrier_in_use() else "off"
    print(f"qemu-rcu {__version__} bench{' --quick' if args.quick else ''}: "
          f"{', '.join(parts)}; membarrier in use: "
          f"{membarrier_in_use()} (QEMU_RCU_MEMBARRIER=0 turns it off)")
    print(machine_line(info), end="\n\n", flush=True)

    tables: List[Table] = []
    for part in parts:
        if part == "c":
            try:
                new = native.run(settings["c"], progress)
            except BuildError as exc:
                print(f"C part skipped: {exc}", file=sys.stderr)
                status = 1
                continue
        elif part == "workloads":
            try:
                new, problems = workloads.run(settings["workloads"], progress)
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
