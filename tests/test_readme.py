# SPDX-License-Identifier: MIT
"""The README's Python tour runs as written and passes mypy --strict."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import qemu_rcu

README = Path(__file__).resolve().parent.parent / "README.md"


def python_blocks() -> str:
    blocks = re.findall(r"^```python\n(.*?)^```$", README.read_text(), re.MULTILINE | re.DOTALL)
    assert blocks, "the README has no Python example"
    return "\n\n".join(blocks)


def test_the_tour_runs(python: Any) -> None:
    result = python(python_blocks())
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[:1] == ["fast"]


@pytest.mark.skipif(importlib.util.find_spec("mypy") is None,
                    reason="mypy is not installed (the dev extra has it)")
def test_the_tour_passes_mypy_strict(tmp_path: Path) -> None:
    tour = tmp_path / "tour.py"
    tour.write_text(python_blocks())
    env = dict(os.environ)
    source_tree = Path(qemu_rcu.__file__).resolve().parent.parent
    if (source_tree / "meson.build").exists():
        # An editable install, which mypy cannot follow: point it at the tree.
        env["MYPYPATH"] = str(source_tree)
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(tour)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
