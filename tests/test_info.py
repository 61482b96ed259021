# SPDX-License-Identifier: MIT
"""``python -m qemu_rcu info``."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict

import qemu_rcu


def info(tmp_path: Path, **env: str) -> Dict[str, str]:
    result = subprocess.run(
        [sys.executable, "-m", "qemu_rcu", "info"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
        env=dict(os.environ, **env),
    )
    assert result.returncode == 0, result.stderr
    fields = {}
    for line in result.stdout.splitlines():
        name, _, value = line.partition(":")
        fields[name] = value.strip()
    return fields


def test_info_describes_the_installation(tmp_path: Path) -> None:
    fields = info(tmp_path)
    assert fields["qemu_rcu"] == qemu_rcu.__version__
    assert fields["python"].startswith(platform.python_version())
    assert platform.python_implementation() in fields["python"]
    assert fields["membarrier"] in ("yes", "no")
    assert (Path(fields["header folder"]) / "qemu_rcu.h").is_file()
    for counter in ("grace periods", "callbacks queued", "callbacks invoked",
                    "callbacks pending", "registered threads"):
        assert fields[counter].isdigit()
    assert int(fields["registered threads"]) >= 1   # the main thread


def test_info_tells_when_membarrier_is_switched_off(tmp_path: Path) -> None:
    fields = info(tmp_path, QEMU_RCU_MEMBARRIER="0")
    assert fields["membarrier"] == "no (disabled by QEMU_RCU_MEMBARRIER=0)"


def test_version_is_the_one_in_meson_build(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "qemu_rcu", "--version"],
                            capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"qemu-rcu {qemu_rcu.__version__}\n"
    # The version is written once, in meson.build; the metadata comes from it.
    assert qemu_rcu.__version__ == importlib.metadata.version("qemu-rcu")
    assert re.fullmatch(r"\d+\.\d+\.\d+", qemu_rcu.__version__)
