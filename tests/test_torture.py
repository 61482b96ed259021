# SPDX-License-Identifier: MIT
"""``python -m qemu_rcu torture``: short runs in fresh interpreters."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, List

import pytest

REPORT_LINES = [
    "age histogram:",
    "ages >= 2: 0",
    "memory-ordering errors (mbtest): 0",
    "poisoned reads: 0",
    "recycled reads: 0",
    "lost callbacks: 0",
    "errors: 0",
]


def torture(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # Outside the source tree, so the installed package is the one tested.
    return subprocess.run(
        [sys.executable, "-m", "qemu_rcu", "torture", *args],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
        env=dict(os.environ, PYTHONFAULTHANDLER="1"),
    )


def sides(stdout: str) -> List[str]:
    return re.findall(r"^(C|Python) threads:$", stdout, re.MULTILINE)


def test_both_sides_at_once_pass(tmp_path: Path) -> None:
    result = torture(tmp_path, "--seconds", "1.5", "--mode", "both", "--readers", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert sides(result.stdout) == ["C", "Python"]
    for line in REPORT_LINES:
        assert line in result.stdout
    assert result.stdout.rstrip().endswith("PASS")
    # stderr is not a terminal here: the progress comes as plain lines.
    progress = [line for line in result.stderr.splitlines() if "reads/s" in line]
    assert progress and "\r" not in result.stderr
    assert all("errors 0" in line for line in progress)


@pytest.mark.parametrize("mode,label", [("c", "C"), ("python", "Python")])
def test_one_side(tmp_path: Path, mode: str, label: str) -> None:
    result = torture(tmp_path, "--seconds", "1", "--mode", mode,
                     "--readers", "1", "--updaters", "3")
    assert result.returncode == 0, result.stdout + result.stderr
    assert sides(result.stdout) == [label]
    for line in REPORT_LINES:
        assert line in result.stdout
    reads = re.search(r"reads ([\d,]+)  pipeline updates ([\d,]+)", result.stdout)
    assert reads is not None
    assert int(reads[1].replace(",", "")) > 0 and int(reads[2].replace(",", "")) > 0


def test_a_single_updater_runs_only_the_pipeline(tmp_path: Path) -> None:
    result = torture(tmp_path, "--seconds", "0.5", "--mode", "c", "--updaters", "1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "heap objects retired 0 (reclaimed 0)" in result.stdout


def test_a_broken_grace_period_is_caught(python: Any) -> None:
    # A torture that cannot fail proves nothing: make the pipeline updater's
    # synchronize_rcu() return at once and expect age and poison errors.
    result = python("""
        import argparse, sys
        import qemu_rcu.torture as t
        t.synchronize_rcu = lambda: True
        parser = argparse.ArgumentParser()
        t.add_arguments(parser)
        sys.exit(t.run(parser.parse_args(["--seconds", "1", "--mode", "python"])))
    """)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAIL" in result.stdout
    errors = re.search(r"^errors: (\d+)$", result.stdout, re.MULTILINE)
    assert errors is not None and int(errors[1]) > 0


@pytest.mark.parametrize("args", [
    ["--seconds", "0"], ["--readers", "0"], ["--updaters", "0"], ["--mode", "rust"],
])
def test_bad_arguments_are_refused(tmp_path: Path, args: List[str]) -> None:
    result = torture(tmp_path, *args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "error:" in result.stderr
    assert "PASS" not in result.stdout


def test_a_run_that_did_nothing_fails_unless_it_was_interrupted(python: Any) -> None:
    # A side that never read or updated tested nothing: a failure when the
    # run had its time, but only an interruption when Ctrl-C cut it short
    # (then its threads may not have got going at all).
    result = python("""
        import time
        from qemu_rcu import torture
        from qemu_rcu._progress import Progress
        class Idle:
            label = "C"
            def __init__(self, readers, updaters): pass
            def snapshot(self): return torture.Counts()
            def stop(self): return torture.Counts()
        torture.CTorture = Idle
        print("full", torture.torture(0.01, 1, 1, "c", Progress(quiet=True)))
        sleep = time.sleep
        def interrupt(seconds):
            time.sleep = sleep
            raise KeyboardInterrupt
        time.sleep = interrupt
        print("interrupted", torture.torture(60, 1, 1, "c", Progress(quiet=True)))
    """)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "full (1, 0)" in lines, result.stdout
    assert "interrupted (0, 130)" in lines, result.stdout
