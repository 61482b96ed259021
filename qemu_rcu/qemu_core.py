# SPDX-License-Identifier: MIT
"""C programs of this package built on QEMU's own ``util/rcu.c``.

``qemu-rcu torture --qemu-source`` and ``qemu-rcu bench --qemu-source``
compile the torture engine and the benchmark loops against QEMU's
``qemu/rcu.h`` and link them with QEMU's ``util/rcu.c``, compiled by
``qemu_check.build.build_qemu_core`` with the shims standing in for the rest
of QEMU.  The programs include ``qemu_rcu.h`` as always; on this include
path it is the adapter in ``qemu_check/qemu_core_api``, which includes
QEMU's header and, by not defining ``QEMU_RCU_API_VERSION``, tells the code
to leave out qemu-rcu's additions to QEMU's API.

Two builds of QEMU's core exist, as QEMU configures them: ``fences`` (the
default: a full fence in every ``rcu_read_lock()`` and ``rcu_read_unlock()``)
and ``membarrier`` (``--enable-membarrier``: readers pay only a compiler
barrier, and each grace period costs ``membarrier(MEMBARRIER_CMD_SHARED)``
calls, which wait for every CPU to schedule).
"""

from __future__ import annotations

import ctypes
import platform
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

from .qemu_check import build as qemu_build
from .qemu_check.source import QemuSource

FENCES = "fences"
MEMBARRIER = "membarrier"
MODES = (FENCES, MEMBARRIER)
API = Path(__file__).resolve().parent / "qemu_check" / "qemu_core_api"
DESCRIPTION = {
    FENCES: "QEMU's default build: a fence in every reader",
    MEMBARRIER: "CONFIG_MEMBARRIER build: membarrier(MEMBARRIER_CMD_SHARED) in writers",
}

# Linux's membarrier(2) on x86_64, the one architecture this package runs on.
_SYS_MEMBARRIER = 324
_MEMBARRIER_CMD_QUERY = 0
_MEMBARRIER_CMD_SHARED = 1


class QemuBuildError(RuntimeError):
    """QEMU's core, or a program of ours on it, did not compile."""


def membarrier_problem() -> Optional[str]:
    """Why a CONFIG_MEMBARRIER build of QEMU's core cannot run here, or None.

    Such a build ends at start-up when the kernel lacks
    MEMBARRIER_CMD_SHARED; asking first lets the caller skip it with a reason.
    """
    if platform.machine() != "x86_64":
        return None             # the build itself will say, when it starts
    libc = ctypes.CDLL(None, use_errno=True)
    commands = libc.syscall(_SYS_MEMBARRIER, _MEMBARRIER_CMD_QUERY, 0)
    if commands < 0 or not commands & _MEMBARRIER_CMD_SHARED:
        return ("this kernel lacks membarrier(MEMBARRIER_CMD_SHARED), which QEMU "
                "built with CONFIG_MEMBARRIER needs")
    return None


@dataclass
class QemuBuild:
    """QEMU's core in one mode, and a folder to build programs on it in."""

    qemu: QemuSource
    mode: str
    core: qemu_build.QemuCore
    tools: qemu_build.Toolchain
    folder: Path

    @property
    def label(self) -> str:
        return self.core.label

    def compile(self, name: str, sources: Sequence[Path],
                flags: Sequence[str] = ()) -> Path:
        """Compile ``sources`` with QEMU's flags into the executable ``name``.

        Includes resolve to QEMU's headers, then the adapter, then the shims:
        QEMU's ``qemu/rcu.h`` comes first, so it is never the shim's.
        Warnings go to ``name.log`` only; an error raises QemuBuildError.
        """
        exe = self.folder / f"{name}-{self.mode}"
        log = self.folder / f"{name}-{self.mode}.log"
        cmd = [*self.tools.cc, *qemu_build.CFLAGS, *qemu_build.WARNINGS, *self.core.cflags,
               *flags, f"-I{self.core.include}", f"-I{API}", f"-I{qemu_build.SHIMS}",
               *self.tools.glib_cflags, *map(str, sources), *self.core.objects,
               "-o", str(exe), *self.tools.glib_libs]
        result = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        log.write_text(shlex.join(cmd) + "\n" + result.stdout + result.stderr)
        if result.returncode != 0:
            raise QemuBuildError(f"{name} did not compile on {self.label}:\n"
                                 f"{log.read_text()}")
        return exe


def build(qemu: QemuSource, folder: Path, tools: qemu_build.Toolchain,
          mode: str) -> QemuBuild:
    """QEMU's util/rcu.c in ``mode`` (FENCES or MEMBARRIER), in ``folder``."""
    sub = folder / f"qemu-{mode}"
    try:
        core = qemu_build.build_qemu_core(qemu, sub, tools, membarrier=mode == MEMBARRIER)
    except RuntimeError as exc:
        raise QemuBuildError(str(exc)) from None
    return QemuBuild(qemu, mode, core, tools, sub)
