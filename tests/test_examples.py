# SPDX-License-Identifier: MIT
"""The programs in examples/ run, briefly, and say what they should."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, Optional

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_example(path: Path, *args: str, cwd: Path,
                env: Optional[Dict[str, str]] = None) -> subprocess.CompletedProcess[str]:
    # Run from elsewhere: the examples must use the installed package.
    result = subprocess.run(
        [sys.executable, str(path), *args], capture_output=True, text=True, timeout=90,
        cwd=cwd, env=dict(os.environ, PYTHONFAULTHANDLER="1", **(env or {})),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def number(pattern: str, text: str) -> int:
    found = re.search(pattern, text, re.MULTILINE)
    assert found is not None, f"{pattern!r} not in:\n{text}"
    return int(found[1].replace(",", ""))


def test_flatview(tmp_path: Path) -> None:
    out = run_example(EXAMPLES / "flatview.py", "--seconds", "1", "--dispatchers", "3",
                      cwd=tmp_path).stdout
    assert number(r"^dispatches: ([\d,]+)", out) > 0
    updates = number(r"^updates: ([\d,]+)", out)
    assert updates > 0
    # After the final drain every replaced view has been reclaimed.
    assert f"views reclaimed: {updates:,} of {updates:,} replaced" in out
    assert number(r"^grace periods: ([\d,]+)", out) > 0
    assert "dead views touched: 0" in out
    assert "unplugged regions touched: 0" in out


def test_config_reload(tmp_path: Path) -> None:
    out = run_example(EXAMPLES / "config_reload.py", "--seconds", "1", "--workers", "2",
                      cwd=tmp_path).stdout
    assert number(r"^requests served: ([\d,]+)", out) > 0
    assert "max reader latency:" in out
    published = number(r"^versions published: (\d+)", out)
    assert published > 0
    assert f"old versions released: {published} of {published} replaced" in out


def test_typed_usage(tmp_path: Path) -> None:
    out = run_example(EXAMPLES / "typed_usage.py", "--seconds", "0.3", cwd=tmp_path).stdout
    assert "after unlock: RcuGuardExpired" in out
    assert "grace period over: True" in out
    assert "callback ran; drained: True; bob's session open: False" in out


def pip_install_recipe(name: str, tmp_path: Path) -> Path:
    """pip install examples/c-extensions/NAME (a copy, so the source tree stays
    clean) into a --target folder, warnings as errors; return that folder."""
    if shutil.which(shlex.split(os.environ.get("CC", "cc"))[0]) is None:
        pytest.skip("no C compiler")
    source, target = tmp_path / "src" / name, tmp_path / "site"
    shutil.copytree(EXAMPLES / "c-extensions" / name, source)
    # --no-deps: qemu-rcu, its dependency, is already installed in this venv.
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-build-isolation", "--no-deps",
         "--no-cache-dir", "--disable-pip-version-check", "--target", str(target), str(source)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
        env=dict(os.environ, CFLAGS=os.environ.get("CFLAGS", "") + " -Werror"),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return target


def test_c_extension(tmp_path: Path) -> None:
    site = pip_install_recipe("setuptools", tmp_path)
    folder = EXAMPLES / "c-extensions" / "setuptools"
    env = {"PYTHONPATH": str(site)}
    out = run_example(folder / "run.py", "--seconds", "1", "--readers", "2",
                      cwd=tmp_path, env=env).stdout
    assert "lookup(10.1.2.3) -> 192.0.2.11" in out
    assert "inside a Python RcuGuard, C's rcu_read_lock_held(): True" in out
    assert number(r"C readers, .*: ([\d,]+) lookups", out) > 0
    replaced = number(r"^tables replaced: ([\d,]+)", out)
    assert replaced > 0
    assert number(r"RCU callbacks run meanwhile: ([\d,]+)", out) >= replaced
    assert "damaged tables seen: 0" in out
    assert "after clear(): lookup(10.1.2.3) -> None" in out
    out = run_example(folder / "check_rcu_routes.py", cwd=tmp_path, env=env).stdout
    assert "all checks passed" in out


def test_cffi_recipe(tmp_path: Path) -> None:
    # A cffi function calls import_qemu_rcu() without the GIL.
    site = pip_install_recipe("cffi", tmp_path)
    out = run_example(EXAMPLES / "c-extensions" / "cffi" / "check_rcu_config.py",
                      cwd=tmp_path, env={"PYTHONPATH": str(site)}).stdout
    assert "all checks passed" in out
