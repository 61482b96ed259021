# SPDX-License-Identifier: MIT
"""Compile QEMU's RCU unit tests against the qemu-rcu core.

Each test is compiled with QEMU's own flags.  Its QEMU includes resolve, in
this order, to the shims shipped in ``shims/`` (stand-ins for osdep.h,
thread.h, atomic.h and the other headers the tests reach; ``qemu/rcu.h``
includes the core's ``qemu_rcu.h``), then to a folder of symbolic links to
the QEMU tree's ``queue.h`` and ``rcu_queue.h``, then to the core's own
folder.  The core's sources, shipped with the package, are compiled once and
linked into every test.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Sequence

from .source import QEMU_HEADERS, QemuSource

SHIMS = Path(__file__).resolve().parent / "shims"
CORE_SOURCES = ("event.c", "rcu.c", "rcu_callbacks.c", "rcu_completion.c", "domain.c")

GLIB_INSTALL = ("install glib's development files: sudo apt-get install libglib2.0-dev "
                "pkg-config (Debian, Ubuntu) or sudo dnf install glib2-devel pkgconf "
                "(Fedora)")

# QEMU's code-generation flags and GCC's share of its warnings (QEMU 9.x and
# 10.x meson.build), so that the shims and qemu_rcu.h are held to them too.
# Warnings are kept in each program's .log; they do not fail the build.
CFLAGS = ("-std=gnu11", "-O2", "-g", "-pthread", "-D_GNU_SOURCE", "-D_FILE_OFFSET_BITS=64",
          "-D_LARGEFILE_SOURCE", "-fno-strict-aliasing", "-fno-common", "-fwrapv")
# The core is compiled as any program that links it compiles it.
CORE_CFLAGS = ("-std=gnu11", "-O2", "-g", "-pthread", "-DQEMU_RCU_CORE")
WARNINGS = ("-Wall", "-Wundef", "-Wwrite-strings", "-Wmissing-prototypes",
            "-Wstrict-prototypes", "-Wredundant-decls", "-Wold-style-definition",
            "-Wtype-limits", "-Wformat-security", "-Wformat-y2k", "-Winit-self",
            "-Wignored-qualifiers", "-Wempty-body", "-Wnested-externs", "-Wendif-labels",
            "-Wexpansion-to-defined", "-Wmissing-format-attribute", "-Wvla",
            "-Wno-missing-include-dirs", "-Wno-shift-negative-value", "-Wno-psabi")


class SetupError(RuntimeError):
    """Something the machine lacks (a C compiler, glib's development files)."""


@dataclass
class Toolchain:
    cc: List[str]
    glib_cflags: List[str]
    glib_libs: List[str]


@dataclass
class QemuCore:
    """QEMU's util/rcu.c compiled with the shims, ready to link.

    A program built against it puts ``include`` ahead of the shims, so that
    ``qemu/rcu.h`` is QEMU's own, and links ``objects``.
    """
    include: Path
    objects: List[str]
    cflags: List[str]          # the defines it was compiled with (and users must be)
    label: str                 # e.g. "QEMU 9.2.0 util/rcu.c (fences)"


@dataclass
class Programs:
    folder: Path
    built: Dict[str, Path] = field(default_factory=dict)     # program -> executable
    failed: Dict[str, str] = field(default_factory=dict)     # program -> compiler output


def toolchain() -> Toolchain:
    """The C compiler and glib's flags, or SetupError saying what to install."""
    from qemu_rcu.bench.cbuild import find_compiler

    cc = find_compiler()
    if cc is None:
        raise SetupError("no C compiler found (set CC, or install gcc or clang)")
    pkg_config = shutil.which("pkg-config") or shutil.which("pkgconf")
    if pkg_config is None:
        raise SetupError(f"pkg-config was not found; {GLIB_INSTALL}")
    flags: Dict[str, List[str]] = {}
    for what in ("--cflags", "--libs"):
        result = subprocess.run([pkg_config, what, "glib-2.0"], capture_output=True,
                                text=True)
        if result.returncode != 0:
            raise SetupError(f"glib-2.0 was not found by pkg-config; {GLIB_INSTALL}")
        flags[what] = shlex.split(result.stdout)
    return Toolchain(cc=cc, glib_cflags=flags["--cflags"], glib_libs=flags["--libs"])


def core_folder() -> Path:
    from qemu_rcu._binding import sources

    return Path(sources()) / "core"


def _link_headers(qemu: QemuSource, folder: Path) -> Path:
    """A folder of symbolic links to QEMU's queue headers (never copies)."""
    include = folder / "qemu-include"
    for name in QEMU_HEADERS:
        link = include / name
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(qemu.header(name))
    return include


def build_qemu_core(qemu: QemuSource, folder: Path, tools: Toolchain, *,
                    membarrier: bool = False, extra_cflags: Sequence[str] = ()) -> QemuCore:
    """Compile QEMU's own util/rcu.c with the shims, in ``folder``.

    ``membarrier`` compiles it as QEMU configured with --enable-membarrier
    (CONFIG_MEMBARRIER: readers without fences, writers call membarrier);
    otherwise as QEMU's default build, a full fence in every reader.
    ``extra_cflags`` (e.g. a sanitizer) are added to the compiler's command.
    Raises RuntimeError with the compiler's output if it does not compile.
    """
    mode = "membarrier" if membarrier else "fences"
    folder.mkdir(parents=True, exist_ok=True)
    include = folder / "qemu-core-include"
    for name in (*QEMU_HEADERS, "qemu/rcu.h"):
        link = include / name
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(qemu.header(name))
    defines = ["-DCONFIG_MEMBARRIER"] if membarrier else []
    obj = folder / f"qemu-util-rcu-{mode}.o"
    log = folder / f"qemu-util-rcu-{mode}.log"
    cmd = [*tools.cc, *CFLAGS, *WARNINGS, *defines, *extra_cflags, f"-I{include}",
           f"-I{SHIMS}", *tools.glib_cflags, "-c", str(qemu.root / "util" / "rcu.c"),
           "-o", str(obj)]
    if not compile_logged(cmd, log):
        raise RuntimeError(f"QEMU's util/rcu.c did not compile with the shims:\n"
                           f"{log.read_text()}")
    return QemuCore(include=include, objects=[str(obj)], cflags=defines,
                    label=f"{qemu.version_name} util/rcu.c ({mode})")


def compile_logged(cmd: Sequence[str], log: Path) -> bool:
    result = subprocess.run(list(cmd), capture_output=True, text=True,
                            stdin=subprocess.DEVNULL)
    log.write_text(" ".join(shlex.quote(c) for c in cmd) + "\n" + result.stdout
                   + result.stderr)
    return result.returncode == 0


def build(qemu: QemuSource, folder: Path, tools: Toolchain,
          progress: Callable[[str], None]) -> Programs:
    """Compile the core, then every test program, in ``folder``.

    A test that does not compile is recorded in ``failed``; the core not
    compiling raises RuntimeError with the compiler's output.
    """
    folder.mkdir(parents=True, exist_ok=True)
    include = _link_headers(qemu, folder)
    core = core_folder()
    objects: List[str] = []
    progress(f"compiling the qemu-rcu core ({core})")
    for name in CORE_SOURCES:
        obj = folder / f"core-{name[:-2]}.o"
        log = folder / f"core-{name[:-2]}.log"
        if not compile_logged([*tools.cc, *CORE_CFLAGS, f"-I{core}", "-c",
                         str(core / name), "-o", str(obj)], log):
            raise RuntimeError(f"the qemu-rcu core did not compile:\n{log.read_text()}")
        objects.append(str(obj))
    programs = Programs(folder=folder)
    for program, src in qemu.tests.items():
        progress(f"compiling {program}")
        exe = folder / program
        log = folder / f"{program}.log"
        cmd = [*tools.cc, *CFLAGS, *WARNINGS, f"-I{SHIMS}", f"-I{include}", f"-I{core}",
               *tools.glib_cflags, str(src), *objects, "-o", str(exe), *tools.glib_libs]
        if compile_logged(cmd, log):
            programs.built[program] = exe
        else:
            programs.failed[program] = log.read_text()
    return programs

