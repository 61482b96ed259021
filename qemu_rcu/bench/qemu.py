# SPDX-License-Identifier: MIT
"""``bench --qemu-source``: QEMU's own util/rcu.c, measured in the same run.

QEMU's core is compiled in both of QEMU's builds (``qemu_rcu.qemu_core``):
the default, where every reader fences, and CONFIG_MEMBARRIER, where writers
call membarrier(MEMBARRIER_CMD_SHARED).  The C part (``bench_qemu.c``) and
the workloads part (``workloads.c``) then build their programs on each and
add rows next to qemu-rcu's and liburcu's.  A build this machine cannot run
is left out with the reason in the tables' notes; a build that fails is a
problem, and the bench exits with status 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, List

from .. import qemu_core
from ..qemu_check import build as qemu_build
from ..qemu_check.source import QemuSource


@dataclass
class QemuCores:
    """QEMU's core in the builds that can run here."""

    qemu: QemuSource
    builds: List[qemu_core.QemuBuild] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)      # builds left out, and why
    problems: List[str] = field(default_factory=list)   # failures: exit status 1

    def note(self) -> str:
        """What the QEMU rows are, for the tables that show them."""
        return (f"QEMU util/rcu.c rows: {self.qemu.version_name}, {self.qemu.root}, "
                "compiled with QEMU's flags and stand-ins for the rest of QEMU, linked "
                "into a plain C program with the same loops; the default build (fences) "
                "has a fence in every rcu_read_lock/unlock, the CONFIG_MEMBARRIER build "
                "(membarrier) is QEMU configured with --enable-membarrier")


def prepare(qemu: QemuSource, folder: Path,
            progress: Callable[[str], None]) -> QemuCores:
    """Compile QEMU's core in each build, in ``folder``.

    Raises qemu_check.build.SetupError if the machine lacks the compiler or
    glib's development files.
    """
    tools = qemu_build.toolchain()
    cores = QemuCores(qemu)
    for mode in qemu_core.MODES:
        if mode == qemu_core.MEMBARRIER:
            problem = qemu_core.membarrier_problem()
            if problem:
                cores.notes.append(f"QEMU's membarrier build left out: {problem}")
                continue
        progress(f"compiling {qemu.version_name} util/rcu.c ({mode})")
        try:
            cores.builds.append(qemu_core.build(qemu, folder, tools, mode))
        except qemu_core.QemuBuildError as exc:
            cores.problems.append(str(exc))
    return cores
