# SPDX-License-Identifier: MIT
"""qemu-rcu: QEMU's userspace RCU for Python. Commands: demo (the default),
bench, torture, info, config, qemu-check. Also runs as python -m qemu_rcu."""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import List, Optional

from ._cli import INTERRUPTED, TERMINATED, Terminated, sigterm_as_interrupt
from ._version import __version__

# Subcommand -> (module implementing add_arguments/run, one-line help).
COMMANDS = {
    "demo": ("qemu_rcu.demo", "readers never wait while a writer publishes (default)"),
    "bench": ("qemu_rcu.bench", "measure qemu-rcu next to its peers"),
    "torture": ("qemu_rcu.torture", "rcutorture-style stress of the installed package"),
    "info": ("qemu_rcu.info", "version, Python, barriers and RCU counters"),
    "config": ("qemu_rcu.config", "compiler flags for C code that uses qemu_rcu.h"),
    "qemu-check": ("qemu_rcu.qemu_check", "QEMU's own RCU unit tests run against this core"),
}

def main(argv: Optional[List[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version"):
        argv = ["demo", *argv]
    parser = argparse.ArgumentParser(prog="qemu-rcu", description=__doc__)
    parser.add_argument("--version", action="version", version=f"qemu-rcu {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        cmd = sub.add_parser(name, help=help_text, description=help_text,
                             formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        if name == argv[0]:
            # Only the chosen command's module is imported.
            importlib.import_module(module).add_arguments(cmd)
    args = parser.parse_args(argv)
    try:
        with sigterm_as_interrupt():
            result: int = importlib.import_module(COMMANDS[args.command][0]).run(args)
    except Terminated:
        print(f"qemu-rcu {args.command}: terminated", file=sys.stderr)
        return TERMINATED
    except KeyboardInterrupt:
        # Each command stops its own threads on the way out; no traceback.
        print(f"qemu-rcu {args.command}: interrupted", file=sys.stderr)
        return INTERRUPTED
    return result


if __name__ == "__main__":
    sys.exit(main())
