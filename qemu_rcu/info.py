# SPDX-License-Identifier: MIT
"""``qemu-rcu info``: what this installation is and what RCU has done so far."""

from __future__ import annotations

import argparse
import os
import platform
import sys

import qemu_rcu
from qemu_rcu import ffi, lib
from qemu_rcu._binding import membarrier_in_use


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``info`` takes no options."""


def run(args: argparse.Namespace) -> int:
    # The barrier choice is made when the extension loads; the environment
    # variable explains a "no" that the kernel did not cause.
    membarrier = "yes" if membarrier_in_use() else "no"
    if membarrier == "no" and os.environ.get("QEMU_RCU_MEMBARRIER") == "0":
        membarrier += " (disabled by QEMU_RCU_MEMBARRIER=0)"
    stats = ffi.new("struct rcu_stats *")
    lib.rcu_get_stats(stats)
    rows = [
        ("qemu_rcu", qemu_rcu.__version__),
        ("package", os.path.dirname(os.path.abspath(qemu_rcu.__file__))),
        ("python", f"{platform.python_version()} ({platform.python_implementation()}, "
                   f"{sys.platform})"),
        ("membarrier", membarrier),
        ("header folder", qemu_rcu.get_include()),
        ("grace periods", f"{stats.grace_periods}"),
        ("callbacks queued", f"{stats.callbacks_queued}"),
        ("callbacks invoked", f"{stats.callbacks_invoked}"),
        ("callbacks pending", f"{stats.callbacks_pending}"),
        ("registered threads", f"{stats.registered_threads}"),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name + ':':<{width + 1}} {value}")
    return 0
