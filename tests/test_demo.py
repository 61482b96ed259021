# SPDX-License-Identifier: MIT
"""``python -m qemu_rcu`` runs the demo by default."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import List


def qemu_rcu(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "qemu_rcu", *args], capture_output=True,
                          text=True, timeout=60, cwd=tmp_path)


def test_demo_is_the_default_command(tmp_path: Path) -> None:
    for args in (["--seconds", "0.3"], ["demo", "--seconds", "0.3", "--readers", "1"]):
        result = qemu_rcu(tmp_path, *args)
        assert result.returncode == 0, result.stderr
        lines: List[str] = result.stdout.splitlines()
        assert "RcuCell:" in lines[1] and "0 reads of a reclaimed version" in lines[1]
        assert "threading.Lock:" in lines[2]
        assert lines[3].startswith("Conclusion: with RCU the slowest read took")


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    result = qemu_rcu(tmp_path, "demo", "--seconds", "0")
    assert result.returncode != 0 and "--seconds" in result.stderr
    result = qemu_rcu(tmp_path, "nonsense")
    assert result.returncode == 2 and "invalid choice" in result.stderr
