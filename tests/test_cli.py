# SPDX-License-Identifier: MIT
"""The command line and the example programs: usage errors exit 2 before any
work starts, and Ctrl-C exits 130 with no traceback once workers run."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import List, Tuple

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
QEMU_RCU = [sys.executable, "-m", "qemu_rcu"]


def run(cmd: List[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=cwd)


@pytest.mark.parametrize("args, message", [
    (["demo", "--seconds", "0"], "--seconds: must be a finite number of seconds greater than 0"),
    (["demo", "--seconds", "nan"], "--seconds: must be a finite number of seconds"),
    (["demo", "--seconds", "inf"], "--seconds: must be a finite number of seconds"),
    (["demo", "--seconds", "-1"], "--seconds: must be a finite number of seconds"),
    (["demo", "--seconds", "soon"], "--seconds: not a number of seconds: 'soon'"),
    (["demo", "--readers", "0"], "--readers: must be at least 1, not 0"),
    (["torture", "--seconds", "0"], "--seconds: must be a finite number of seconds"),
    (["torture", "--readers", "0"], "--readers: must be from 1 to"),
    (["torture", "--updaters", "1000"], "--updaters: must be from 1 to"),
    (["torture", "--mode", "rust"], "invalid choice: 'rust'"),
    (["bench", "--rounds", "-1"], "--rounds: must be at least 1, not -1"),
    (["bench", "--rounds", "0"], "--rounds: must be at least 1, not 0"),
    (["bench", "--json", "/no/such/folder/out.json"], "folder /no/such/folder does not exist"),
    (["bench", "--plot", "/no/such/folder/out.png"], "folder /no/such/folder does not exist"),
    (["qemu-check"], "the following arguments are required: --qemu-source"),
    (["qemu-check", "--qemu-source", "/no/such/qemu"], "/no/such/qemu does not exist"),
    (["nonsense"], "invalid choice: 'nonsense'"),
    (["config"], "one of the arguments --cflags --includedir --pkgconfigdir --modversion"),
    (["config", "--cflags", "--includedir"], "not allowed with argument"),
])
def test_bad_arguments_are_usage_errors(tmp_path: Path, args: List[str], message: str) -> None:
    result = run([*QEMU_RCU, *args], tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith("usage: qemu-rcu")
    assert message in result.stderr
    assert result.stdout == ""                 # refused before anything ran


@pytest.mark.parametrize("example, args", [
    ("flatview.py", ["--seconds", "0"]), ("flatview.py", ["--seconds", "nan"]),
    ("flatview.py", ["--dispatchers", "0"]),
    ("config_reload.py", ["--seconds", "inf"]), ("config_reload.py", ["--interval", "0"]),
    ("config_reload.py", ["--workers", "0"]),
    ("typed_usage.py", ["--seconds", "-1"]),
    ("c-extensions/setuptools/run.py", ["--seconds", "0"]),
    ("c-extensions/setuptools/run.py", ["--readers", "0"]),
])
def test_examples_refuse_bad_arguments(tmp_path: Path, example: str, args: List[str]) -> None:
    result = run([sys.executable, str(EXAMPLES / example), *args], tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "usage:" in result.stderr and "error: --" in result.stderr
    assert result.stdout == ""


def test_version_and_help(tmp_path: Path) -> None:
    result = run([*QEMU_RCU, "--help"], tmp_path)
    assert result.returncode == 0 and "``" not in result.stdout
    result = run([*QEMU_RCU, "torture", "--help"], tmp_path)
    assert "how long to run (default: 10.0)" in result.stdout


def threads_of(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/task"))
    except FileNotFoundError:
        return 0


# Each program, and how many threads it has once its workers run: more than
# the main thread and qemu_rcu's own (the callback thread, and a helper for
# grace-period waits) make before them.
INTERRUPTIBLE = [
    pytest.param([*QEMU_RCU, "demo", "--seconds", "60", "--readers", "4"], 6, id="demo"),
    pytest.param([*QEMU_RCU, "torture", "--seconds", "60"], 10, id="torture"),
    pytest.param([*QEMU_RCU, "bench", "--part", "writer"], 5, id="bench"),
    pytest.param([sys.executable, str(EXAMPLES / "flatview.py"), "--seconds", "60"], 7,
                 id="flatview"),
    pytest.param([sys.executable, str(EXAMPLES / "config_reload.py"), "--seconds", "60"], 7,
                 id="config_reload"),
]


def stop_once_running(cmd: List[str], workers_running: int, signum: int,
                      cwd: Path) -> Tuple[int, str, str]:
    """Start cmd, send it signum once its workers run; (status, out, err)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=cwd)
    try:
        deadline = time.monotonic() + 30
        while threads_of(proc.pid) < workers_running:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the workers never started"
            time.sleep(0.01)
        proc.send_signal(signum)
        # Non-daemon workers that were not told to stop would hang here.
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    return proc.returncode, out, err


@pytest.mark.parametrize("cmd, workers_running", INTERRUPTIBLE)
def test_ctrl_c_exits_130_without_a_traceback(tmp_path: Path, cmd: List[str],
                                              workers_running: int) -> None:
    status, out, err = stop_once_running(cmd, workers_running, signal.SIGINT, tmp_path)
    assert status == 130, out + err
    assert "Traceback" not in err, err


@pytest.mark.parametrize("cmd, workers_running", INTERRUPTIBLE[:3])
def test_sigterm_exits_143_without_a_traceback(tmp_path: Path, cmd: List[str],
                                               workers_running: int) -> None:
    status, out, err = stop_once_running(cmd, workers_running, signal.SIGTERM, tmp_path)
    assert status == 143, out + err
    assert "Traceback" not in err, err
    if "torture" in cmd:
        assert "(interrupted)" in out and "PASS" in out, out     # the report, all the same
    else:
        assert "terminated" in err, err


def test_config_names_the_folder_of_the_header(tmp_path: Path) -> None:
    import qemu_rcu
    from qemu_rcu.config import pkgconfig_dir

    include = run([*QEMU_RCU, "config", "--includedir"], tmp_path).stdout.strip()
    assert Path(include, "qemu_rcu.h").is_file()
    assert run([*QEMU_RCU, "config", "--cflags"], tmp_path).stdout.strip() == f"-I{include}"
    version = run([*QEMU_RCU, "config", "--modversion"], tmp_path).stdout.strip()
    assert version == qemu_rcu.__version__
    result = run([*QEMU_RCU, "config", "--pkgconfigdir"], tmp_path)
    if not pkgconfig_dir():
        # An editable install has no installed data files.
        assert result.returncode == 1 and "use --cflags" in result.stderr
        return
    pc = Path(result.stdout.strip(), "qemu-rcu.pc")
    assert f"Version: {qemu_rcu.__version__}" in pc.read_text()
    if shutil.which("pkg-config"):
        env = {**os.environ, "PKG_CONFIG_PATH": str(pc.parent)}
        flags = subprocess.run(["pkg-config", "--cflags", "qemu-rcu"], capture_output=True,
                               text=True, env=env, check=True).stdout.strip()
        assert flags.startswith("-I")
        assert Path(flags[2:]).resolve() == Path(include).resolve()
