# SPDX-License-Identifier: MIT
"""``torture --qemu-source`` and ``bench --qemu-source`` without QEMU.

The tests write a QEMU-shaped tree whose ``util/rcu.c`` and
``include/qemu/rcu.h`` are our own: QEMU's API names (rcu_read_lock,
synchronize_rcu, call_rcu1, drain_call_rcu, ...) over a reader-writer lock,
which is a correct if slow RCU.  Variants break it on purpose (a
synchronize_rcu() that returns at once, one that crashes, one that does not
compile), so that the tests can fail.  Nothing here comes from QEMU.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest

QEMU_RCU = [sys.executable, "-m", "qemu_rcu"]


def _glib_problem() -> Optional[str]:
    from qemu_rcu.bench.cbuild import find_compiler

    if find_compiler() is None:
        return "no C compiler"
    if shutil.which("pkg-config") is None:
        return "pkg-config is not installed"
    found = subprocess.run(["pkg-config", "--exists", "glib-2.0"], capture_output=True)
    if found.returncode != 0:
        return "glib's development files are not installed (libglib2.0-dev)"
    return None


GLIB_PROBLEM = _glib_problem()
needs_glib = pytest.mark.skipif(GLIB_PROBLEM is not None, reason=GLIB_PROBLEM or "")

RCU_H = r"""
/* QEMU's RCU API names for the tests, over a reader-writer lock. */
#ifndef FIXTURE_QEMU_RCU_H
#define FIXTURE_QEMU_RCU_H

#include "qemu/atomic.h"

struct rcu_head;
typedef void RCUCBFunc(struct rcu_head *head);

struct rcu_head {
    struct rcu_head *next;
    RCUCBFunc *func;
};

void rcu_read_lock(void);
void rcu_read_unlock(void);
void synchronize_rcu(void);
void rcu_register_thread(void);
void rcu_unregister_thread(void);
void call_rcu1(struct rcu_head *head, RCUCBFunc *func);
void drain_call_rcu(void);

/* g_free(obj) after a grace period; field must be obj's first. */
void fixture_g_free(struct rcu_head *head);
#define g_free_rcu(obj, field) call_rcu1(&(obj)->field, fixture_g_free)

#endif
"""

# A grace period is taking the write lock once: every reader inside a
# section when it was asked for has left.  Callbacks run at once after one.
RCU_C = r"""
#include "qemu/osdep.h"
#include "qemu/rcu.h"

static pthread_rwlock_t sections;
static __thread unsigned depth;
static __thread bool registered;

/* As QEMU's core does, the thread that runs the constructor is registered
 * by it, and registering a thread twice is a bug the program dies of. */
static void __attribute__((constructor)) fixture_rcu_init(void)
{
    pthread_rwlockattr_t attr;

    /* Writers first: readers that loop without a pause would starve them. */
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&sections, &attr);
    registered = true;
}

static void wait_for_readers(void)
{
    pthread_rwlock_wrlock(&sections);
    pthread_rwlock_unlock(&sections);
}

void rcu_read_lock(void)
{
    if (depth++ == 0) {
        pthread_rwlock_rdlock(&sections);
    }
}

void rcu_read_unlock(void)
{
    if (--depth == 0) {
        pthread_rwlock_unlock(&sections);
    }
}

void synchronize_rcu(void)
{
    SYNCHRONIZE_BODY
}

void rcu_register_thread(void)
{
    if (registered) {
        fprintf(stderr, "fixture: rcu_register_thread() twice\n");
        abort();
    }
    registered = true;
}

void rcu_unregister_thread(void)
{
    if (!registered) {
        fprintf(stderr, "fixture: rcu_unregister_thread() without registering\n");
        abort();
    }
    registered = false;
}

void call_rcu1(struct rcu_head *head, RCUCBFunc *func)
{
    wait_for_readers();
    func(head);
}

void drain_call_rcu(void)
{
}

void fixture_g_free(struct rcu_head *head)
{
    g_free(head);
}
"""

SYNCHRONIZE = {
    "good": "wait_for_readers();",
    # No grace period at all: readers keep what the updater recycles.
    "broken": "/* returns at once */",
    # A grace period one to two seconds after the first kills the program.
    "crash": """static long first;
    struct timespec ts;
    long unset = 0;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    __atomic_compare_exchange_n(&first, &unset, (long)ts.tv_sec, 0, __ATOMIC_RELAXED,
                                __ATOMIC_RELAXED);
    wait_for_readers();
    if (ts.tv_sec >= __atomic_load_n(&first, __ATOMIC_RELAXED) + 2) {
        abort();
    }""",
    "no-compile": "wait_for_readers() this is not C;",
}


def make_tree(root: Path, core: str = "good") -> Path:
    """A QEMU-shaped tree of our own; ``core`` picks the synchronize_rcu()."""
    files: Dict[str, str] = {
        "VERSION": "9.2.0\n",
        "include/qemu/rcu.h": RCU_H,
        "include/qemu/queue.h": "",
        "include/qemu/rcu_queue.h": "",
        "util/rcu.c": RCU_C.replace("SYNCHRONIZE_BODY", SYNCHRONIZE[core]),
    }
    for name in ("rcutorture", "test-rcu-list", "test-rcu-simpleq", "test-rcu-tailq",
                 "test-rcu-slist"):
        files[f"tests/unit/{name}.c"] = ""     # qemu-check's, not built here
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text.lstrip("\n"))
    return root


def qemu_rcu(*args: str, cwd: Path, timeout: float = 120,
             env: Optional[Dict[str, str]] = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*QEMU_RCU, *args], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd, env={**os.environ, **(env or {})})


def errors(stdout: str) -> int:
    found = re.search(r"^errors: (\d+)$", stdout, re.MULTILINE)
    assert found is not None, stdout
    return int(found[1])


def usage_error(result: subprocess.CompletedProcess[str], message: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith("usage: qemu-rcu"), result.stderr
    assert message in result.stderr, result.stderr
    assert result.stdout == ""


# ---- torture ----------------------------------------------------------------


@needs_glib
def test_torture_on_a_correct_core_passes(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "qemu")
    result = qemu_rcu("torture", "--qemu-source", str(tree), "--seconds", "1", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "mode c, 2 readers and 4 updaters per side, on QEMU 9.2.0 util/rcu.c (fences), " \
           "in a separate program, membarrier no" in out
    # What the engine does differently without qemu-rcu's additions.
    assert "note: every reader registers itself" in out
    assert "note: the grace-period updaters call synchronize_rcu() only" in out
    assert re.findall(r"^(C|Python) threads:$", out, re.MULTILINE) == ["C"]
    reads = re.search(r"reads ([\d,]+)  pipeline updates ([\d,]+)  heap objects retired "
                      r"([\d,]+) \(reclaimed ([\d,]+)\)", out)
    assert reads is not None, out
    assert int(reads[1].replace(",", "")) > 0 and int(reads[2].replace(",", "")) > 0
    assert reads[3] == reads[4]
    assert "grace periods: not counted" in out
    assert errors(out) == 0 and out.rstrip().endswith("PASS")
    assert "reads/s" in result.stderr and "grace periods" not in result.stderr


@needs_glib
def test_torture_membarrier_build(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "qemu")
    result = qemu_rcu("torture", "--qemu-source", str(tree), "--qemu-membarrier",
                      "--seconds", "0.5", "--updaters", "2", "--mode", "c", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "on QEMU 9.2.0 util/rcu.c (membarrier), in a separate program, membarrier yes" \
        in result.stdout
    # Two updaters: no grace-period loops, so nothing to say about them.
    assert "grace-period updaters" not in result.stdout
    assert "PASS" in result.stdout


@needs_glib
def test_torture_catches_a_broken_grace_period(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "qemu", "broken")
    result = qemu_rcu("torture", "--qemu-source", str(tree), "--seconds", "1", cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert errors(result.stdout) > 0
    ages = re.search(r"ages >= 2: (\d+)", result.stdout)
    assert ages is not None and int(ages[1]) > 0, result.stdout
    assert result.stdout.rstrip().endswith("FAIL")


@needs_glib
def test_torture_reports_a_crashed_program(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "qemu", "crash")
    result = qemu_rcu("torture", "--qemu-source", str(tree), "--seconds", "10", cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "C: the torture program ended early (killed by signal 6)" in result.stdout
    assert errors(result.stdout) >= 1 and "FAIL" in result.stdout


@needs_glib
def test_torture_on_a_core_that_does_not_compile(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "qemu", "no-compile")
    result = qemu_rcu("torture", "--qemu-source", str(tree), "--seconds", "1", cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "QEMU's util/rcu.c did not compile with the shims" in result.stderr
    assert "this is not C" in result.stderr        # the compiler's own words
    assert "PASS" not in result.stdout and "FAIL" not in result.stdout


@needs_glib
def test_torture_ctrl_c_stops_the_program(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "qemu")
    # A session of its own, so that Ctrl-C can go to the whole group, as a
    # terminal sends it: the torture program must ignore it and wait for
    # its parent to stop it.
    proc = subprocess.Popen([*QEMU_RCU, "torture", "--qemu-source", str(tree),
                             "--seconds", "100"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                            start_new_session=True)
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            if "reads/s" in line:
                break
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, out + err
    assert "(interrupted)" in out and "C threads:" in out and errors(out) == 0
    time.sleep(0.5)
    left = [pid for pid in os.listdir("/proc") if pid.isdigit()
            and b"qemu-rcu-torture-" in _cmdline(pid)]
    assert left == [], "the torture program outlived Ctrl-C"


def _cmdline(pid: str) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


@pytest.mark.parametrize("mode", ["python", "both"])
def test_torture_qemu_source_is_c_only(tmp_path: Path, mode: str) -> None:
    tree = make_tree(tmp_path / "qemu")
    usage_error(qemu_rcu("torture", "--qemu-source", str(tree), "--mode", mode, cwd=tmp_path),
                f"--qemu-source runs the C threads only: it cannot be used with --mode {mode}")


def test_torture_qemu_membarrier_needs_qemu_source(tmp_path: Path) -> None:
    usage_error(qemu_rcu("torture", "--qemu-membarrier", cwd=tmp_path),
                "--qemu-membarrier needs --qemu-source")


@pytest.mark.parametrize("command", ["torture", "bench"])
def test_bad_qemu_source(tmp_path: Path, command: str) -> None:
    usage_error(qemu_rcu(command, "--qemu-source", str(tmp_path / "nowhere"), cwd=tmp_path),
                "nowhere does not exist")
    tree = make_tree(tmp_path / "qemu")
    (tree / "util/rcu.c").unlink()
    usage_error(qemu_rcu(command, "--qemu-source", str(tree), cwd=tmp_path),
                "is not a QEMU source tree: missing util/rcu.c")


@pytest.mark.parametrize("command", ["torture", "bench"])
def test_without_pkg_config(tmp_path: Path, command: str) -> None:
    # A PATH holding only the compiler: glib's flags cannot be found.
    from qemu_rcu.bench.cbuild import find_compiler

    cc = find_compiler()
    if cc is None:
        pytest.skip("no C compiler")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "cc").symlink_to(shutil.which(cc[0]) or cc[0])
    args = ["--quiet", "--part", "c"] if command == "bench" else []
    result = qemu_rcu(command, "--qemu-source", str(make_tree(tmp_path / "qemu")), *args,
                      cwd=tmp_path, env={"PATH": str(bin_dir), "CC": "cc"})
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"qemu-rcu {command}: pkg-config was not found" in result.stderr
    assert "libglib2.0-dev" in result.stderr


def test_counts_line_is_parsed() -> None:
    from qemu_rcu.torture import _parse_counts

    c = _parse_counts("final reads=10 updates=2 heap_updates=3 reclaimed=3 sync_loops=4 "
                      "mberrors=0 poisoned=1 recycled=0 longest_gp_ns=99 "
                      "age=7,2,1,0,0,0,0,0,0,0,0")
    assert (c.reads, c.updates, c.heap_updates, c.reclaimed, c.sync_loops) == (10, 2, 3, 3, 4)
    assert c.age == [7, 2, 1] + [0] * 8 and c.errors() == 2
    with pytest.raises(ValueError):
        _parse_counts("final reads=1 updates=1 heap_updates=0 reclaimed=0 sync_loops=0 "
                      "mberrors=0 poisoned=0 recycled=0 longest_gp_ns=0 age=1,2")


# ---- bench ------------------------------------------------------------------


def _bench(monkeypatch: pytest.MonkeyPatch, tree: Path, *argv: str) -> int:
    import argparse

    from qemu_rcu import bench
    from qemu_rcu.bench.native import NativeSettings
    from qemu_rcu.bench.workloads import WorkloadsSettings

    tiny: Dict[str, Any] = {
        "c": NativeSettings(pairs_n=2000, sync_n=20, callbacks_n=200, rounds=1),
        "workloads": WorkloadsSettings(duration=0.1, rounds=1, reader_counts=[2]),
    }
    monkeypatch.setattr(bench, "_settings", lambda quick, rounds: tiny)
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    return bench.run(parser.parse_args(["--quiet", "--qemu-source", str(tree), *argv]))


def _rows(out: str, title: str) -> List[str]:
    """The row lines of the table titled ``title`` in printed output."""
    block = out.split(f"== {title} ==", 1)[1].split("\n\n", 1)[0]
    return [line for line in block.splitlines()[4:] if not line.startswith("note:")]


@needs_glib
def test_bench_has_qemu_rows(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
    tree = make_tree(tmp_path / "qemu")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    status = _bench(monkeypatch, tree, "--part", "c", "--part", "workloads")
    out, err = capsys.readouterr()
    assert status == 0, out + err
    pairs = _rows(out, "C read side: one lock+unlock pair, single thread")
    assert any(r.startswith("qemu-rcu inline fast path") for r in pairs), pairs
    for build in ("default build (fences)", "CONFIG_MEMBARRIER build"):
        assert any(r.startswith(f"QEMU util/rcu.c, inline, {build}") for r in pairs), pairs
    sync = _rows(out, "C synchronize_rcu() latency")
    for mode in ("no other thread", "4 idle registered threads",
                 "1 thread looping short read sections"):
        assert any(r.startswith(f"{mode}: QEMU util/rcu.c, default build (fences)")
                   for r in sync), sync
    callbacks = _rows(out, "C call_rcu1 throughput: queue N callbacks, then drain")
    assert any(r.startswith("QEMU util/rcu.c, CONFIG_MEMBARRIER build")
               for r in callbacks), callbacks
    assert f"QEMU util/rcu.c rows: QEMU 9.2.0, {tree.resolve()}" in out
    read_only = _rows(out, "C workloads: read-only (readers only, no updater)")
    assert any(r.startswith("2 readers: QEMU util/rcu.c, fences") for r in read_only)
    assert any(r.startswith("2 readers: QEMU util/rcu.c, membarrier") for r in read_only)
    assert any("QEMU util/rcu.c, fences, call_rcu1" in r for r in out.splitlines())
    update_heavy = _rows(out, "C workloads: update-heavy (1 reader and 1 updater, both flat out)")
    assert any(r.startswith("QEMU util/rcu.c, membarrier") for r in update_heavy)


@needs_glib
def test_bench_catches_a_broken_qemu_core(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    tree = make_tree(tmp_path / "qemu", "broken")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    status = _bench(monkeypatch, tree, "--part", "workloads")
    out, err = capsys.readouterr()
    assert status == 1, out + err
    assert "workloads FAILED" in err and "QEMU util/rcu.c" in err
    assert "a grace period was too short" in err


@needs_glib
def test_bench_qemu_core_that_does_not_compile(monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    tree = make_tree(tmp_path / "qemu", "no-compile")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    status = _bench(monkeypatch, tree, "--part", "workloads")
    out, err = capsys.readouterr()
    assert status == 1, out + err
    assert "QEMU's util/rcu.c FAILED" in err and "this is not C" in err
    # The other rows are still measured.
    read_only = _rows(out, "C workloads: read-only (readers only, no updater)")
    assert any(r.startswith("2 readers: qemu-rcu") for r in read_only)
    assert not any("QEMU util/rcu.c" in r for r in read_only)


# ---- a kernel without MEMBARRIER_CMD_SHARED ---------------------------------

NO_SHARED = "this kernel lacks membarrier(MEMBARRIER_CMD_SHARED), as the test pretends"


@needs_glib
def test_bench_leaves_out_the_membarrier_build(monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    from qemu_rcu import qemu_core

    monkeypatch.setattr(qemu_core, "membarrier_problem", lambda: NO_SHARED)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    status = _bench(monkeypatch, make_tree(tmp_path / "qemu"), "--part", "c")
    out, err = capsys.readouterr()
    assert status == 0, out + err
    pairs = _rows(out, "C read side: one lock+unlock pair, single thread")
    assert any(r.startswith("QEMU util/rcu.c, inline, default build") for r in pairs), pairs
    assert not any("CONFIG_MEMBARRIER" in r for r in pairs), pairs
    assert f"note: QEMU's membarrier build left out: {NO_SHARED}" in out


@needs_glib
def test_torture_membarrier_build_without_kernel_support(python: Any, tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "qemu")
    result = python(f"""
        import argparse, sys
        from qemu_rcu import qemu_core, torture
        qemu_core.membarrier_problem = lambda: {NO_SHARED!r}
        parser = argparse.ArgumentParser()
        torture.add_arguments(parser)
        sys.exit(torture.run(parser.parse_args(
            ["--qemu-source", {str(tree)!r}, "--qemu-membarrier", "--seconds", "0.5"])))
    """)
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"qemu-rcu torture: {NO_SHARED}" in result.stderr
    assert result.stdout == ""
