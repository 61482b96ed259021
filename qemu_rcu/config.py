# SPDX-License-Identifier: MIT
"""``qemu-rcu config``: compiler flags for C code that uses ``qemu_rcu.h``.

Like ``numpy-config`` and ``pybind11 --includes``: a build system that cannot
run Python code asks this command, or pkg-config (``--pkgconfigdir`` names the
folder to add to ``PKG_CONFIG_PATH``), where the header is.
"""

from __future__ import annotations

import argparse
import os
import sys

from . import __version__, get_include


def pkgconfig_dir() -> str:
    """The folder holding ``qemu-rcu.pc``, or "" where none is installed."""
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib", "pkgconfig")
    return here if os.path.exists(os.path.join(here, "qemu-rcu.pc")) else ""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--cflags", action="store_true",
                      help="the compiler flags: -I and the header folder")
    what.add_argument("--includedir", action="store_true", help="the header folder")
    what.add_argument("--pkgconfigdir", action="store_true",
                      help="the folder holding qemu-rcu.pc, for PKG_CONFIG_PATH")
    what.add_argument("--modversion", action="store_true", help="the version of qemu-rcu")


def run(args: argparse.Namespace) -> int:
    if args.cflags:
        print(f"-I{get_include()}")
    elif args.includedir:
        print(get_include())
    elif args.modversion:
        print(__version__)
    else:
        folder = pkgconfig_dir()
        if not folder:
            print("qemu-rcu config: this installation has no pkg-config file (an editable "
                  "install has none); use --cflags", file=sys.stderr)
            return 1
        print(folder)
    return 0
