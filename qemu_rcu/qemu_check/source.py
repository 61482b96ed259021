# SPDX-License-Identifier: MIT
"""Find and check the QEMU source tree given with ``--qemu-source``.

Only a few of its files are used, and none is copied: the two queue headers
the tests include, the RCU unit tests, and QEMU's own implementation,
``util/rcu.c`` and ``include/qemu/rcu.h``, on which this package's C tests
run.
"""

from __future__ import annotations

import argparse
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

# The QEMU headers the tests include and that are used unchanged.
QEMU_HEADERS = ("qemu/queue.h", "qemu/rcu_queue.h")
# QEMU's implementation, on which this package's C tests run.
QEMU_IMPLEMENTATION = ("util/rcu.c", "include/qemu/rcu.h")
# Test program -> its source, under tests/unit (QEMU before 6.0: tests/).
TESTS = {
    "rcutorture": "rcutorture.c",
    "test-rcu-list": "test-rcu-list.c",
    "test-rcu-simpleq": "test-rcu-simpleq.c",
    "test-rcu-tailq": "test-rcu-tailq.c",
    "test-rcu-slist": "test-rcu-slist.c",
}
TEST_FOLDERS = ("tests/unit", "tests")
MIN_VERSION = (9, 0)

_VERSION = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?(?:[-~+.]\w*)*")


class SourceError(ValueError):
    """The folder is not a QEMU source tree this command can use."""


@dataclass(frozen=True)
class QemuSource:
    root: Path
    version: Optional[str]          # VERSION's text; None without the file
    tests: Dict[str, Path]          # program -> its source file

    def header(self, name: str) -> Path:
        """One of QEMU_HEADERS, e.g. ``qemu/queue.h``."""
        return self.root / "include" / name

    @property
    def version_name(self) -> str:
        return f"QEMU {self.version}" if self.version else "QEMU (unknown version)"


def parse_version(text: str) -> Tuple[int, int]:
    """(major, minor) of a VERSION file's text such as ``9.2.0`` or ``10.0.50``."""
    match = _VERSION.fullmatch(text.strip())
    if not match:
        raise SourceError(f"cannot read a QEMU version from VERSION: {text.strip()[:40]!r}")
    return int(match.group(1)), int(match.group(2))


def _find_test(root: Path, name: str) -> Optional[Path]:
    for folder in TEST_FOLDERS:
        path = root / folder / name
        if path.is_file():
            return path
    return None


def find(folder: str) -> QemuSource:
    """The QEMU tree at ``folder``, or SourceError saying what is wrong."""
    root = Path(folder).expanduser()
    if not root.exists():
        raise SourceError(f"{folder} does not exist")
    if not root.is_dir():
        raise SourceError(f"{folder} is not a folder")
    root = root.resolve()
    missing: List[str] = []
    for name in (*(f"include/{h}" for h in QEMU_HEADERS), *QEMU_IMPLEMENTATION):
        if not (root / name).is_file():
            missing.append(name)
    tests: Dict[str, Path] = {}
    for program, name in TESTS.items():
        path = _find_test(root, name)
        if path is None:
            missing.append(f"tests/unit/{name}")
        else:
            tests[program] = path
    if missing:
        raise SourceError(f"{folder} is not a QEMU source tree: missing {', '.join(missing)}")
    version: Optional[str] = None
    version_file = root / "VERSION"
    if version_file.is_file():
        version = version_file.read_text(errors="replace").strip()
        major, minor = parse_version(version)
        if (major, minor) < MIN_VERSION:
            raise SourceError(
                f"QEMU {major}.{minor} is not supported: qemu-check needs QEMU "
                f"{MIN_VERSION[0]}.{MIN_VERSION[1]} or newer")
    return QemuSource(root=root, version=version, tests=tests)


def qemu_source(text: str) -> QemuSource:
    """argparse type for ``--qemu-source``: a bad tree is a usage error."""
    try:
        return find(text)
    except (SourceError, OSError) as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def keep_build(text: str) -> str:
    """argparse type for ``--keep-build``: a folder, or one that can be made."""
    path = os.path.abspath(text)
    if os.path.exists(path) and not os.path.isdir(path):
        raise argparse.ArgumentTypeError(f"{text} is not a folder")
    if not os.path.isdir(os.path.dirname(path)):
        raise argparse.ArgumentTypeError(f"folder {os.path.dirname(path)} does not exist")
    return path
