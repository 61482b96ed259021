# SPDX-License-Identifier: MIT
"""``qemu-rcu qemu-check`` without QEMU: a QEMU-shaped tree of our own small
g_test programs and queue headers proves the tree's discovery, the shims,
the compile flags, the runs and the report.  Its util/rcu.c and qemu/rcu.h
are a small RCU of our own with QEMU's API and rules (tests/qemu_like_rcu),
on which the package's C tests run for the other direction.  Nothing here
comes from QEMU; the programs only use QEMU's API names."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

import pytest

QEMU_RCU = [sys.executable, "-m", "qemu_rcu"]


def _glib_problem() -> Optional[str]:
    if shutil.which("pkg-config") is None:
        return "pkg-config is not installed"
    found = subprocess.run(["pkg-config", "--exists", "glib-2.0"], capture_output=True)
    if found.returncode != 0:
        return "glib's development files are not installed (libglib2.0-dev)"
    from qemu_rcu.bench.cbuild import find_compiler
    if find_compiler() is None:
        return "no C compiler"
    return None


GLIB_PROBLEM = _glib_problem()
needs_glib = pytest.mark.skipif(GLIB_PROBLEM is not None, reason=GLIB_PROBLEM or "")

# Our own minimal list macros, in the spelling QEMU's tests use.
QUEUE_H = r"""
#ifndef FIXTURE_QUEUE_H
#define FIXTURE_QUEUE_H
#include <stddef.h>
#define QLIST_HEAD(name, type) struct name { struct type *first; }
#define QLIST_HEAD_INITIALIZER(head) { NULL }
#define QLIST_ENTRY(type) struct { struct type *next; struct type **pprev; }
#define QLIST_INIT(head) ((head)->first = NULL)
#define QLIST_EMPTY(head) ((head)->first == NULL)
#define QLIST_FIRST(head) ((head)->first)
#define QLIST_NEXT(elm, field) ((elm)->field.next)
#define QLIST_INSERT_HEAD(head, elm, field) do {                    \
        (elm)->field.next = (head)->first;                          \
        if ((elm)->field.next) {                                    \
            (elm)->field.next->field.pprev = &(elm)->field.next;    \
        }                                                           \
        (head)->first = (elm);                                      \
        (elm)->field.pprev = &(head)->first;                        \
    } while (0)
#define QLIST_REMOVE(elm, field) do {                               \
        if ((elm)->field.next) {                                    \
            (elm)->field.next->field.pprev = (elm)->field.pprev;    \
        }                                                           \
        *(elm)->field.pprev = (elm)->field.next;                    \
    } while (0)
#define QLIST_FOREACH(var, head, field) \
    for ((var) = (head)->first; (var); (var) = (var)->field.next)
#define QLIST_FOREACH_SAFE(var, head, field, tmp)                   \
    for ((var) = (head)->first;                                     \
         (var) && ((tmp) = (var)->field.next, 1); (var) = (tmp))
#endif
"""

RCU_QUEUE_H = r"""
#ifndef FIXTURE_RCU_QUEUE_H
#define FIXTURE_RCU_QUEUE_H
#include "qemu/queue.h"
#include "qemu/atomic.h"
#define QLIST_INSERT_HEAD_RCU(head, elm, field) do {                \
        (elm)->field.pprev = &(head)->first;                        \
        (elm)->field.next = (head)->first;                          \
        if ((elm)->field.next) {                                    \
            (elm)->field.next->field.pprev = &(elm)->field.next;    \
        }                                                           \
        qatomic_rcu_set(&(head)->first, (elm));                     \
    } while (0)
#define QLIST_REMOVE_RCU(elm, field) do {                           \
        if ((elm)->field.next) {                                    \
            (elm)->field.next->field.pprev = (elm)->field.pprev;    \
        }                                                           \
        qatomic_set((elm)->field.pprev, (elm)->field.next);         \
    } while (0)
#define QLIST_FOREACH_RCU(var, head, field)                         \
    for ((var) = qatomic_rcu_read(&(head)->first); (var);           \
         (var) = qatomic_rcu_read(&(var)->field.next))
#endif
"""

# A list test: readers walk the list while the updater swaps elements and
# frees the old ones with call_rcu1.  EXTRA_CASES adds cases (fail, hang).
LIST_C = r"""
#include "qemu/osdep.h"
#include "qemu/atomic.h"
#include "qemu/rcu.h"
#include "qemu/thread.h"
#include "qemu/rcu_queue.h"

#ifndef LIST_NAME
#define LIST_NAME "qlist"
#endif

struct node {
    int value;
    struct rcu_head rcu;
    QLIST_ENTRY(node) link;
};

static QLIST_HEAD(, node) nodes = QLIST_HEAD_INITIALIZER(nodes);
static int stop;
static long long n_read;
static int64_t n_removed, n_reclaimed;

static void reclaim(struct rcu_head *head)
{
    g_free(container_of(head, struct node, rcu));
    qatomic_inc(&n_reclaimed);
}

static void *reader(void *arg)
{
    long long local = 0;
    struct node *n;

    (void)arg;
    rcu_register_thread();
    while (!qatomic_read(&stop)) {
        rcu_read_lock();
        QLIST_FOREACH_RCU(n, &nodes, link) {
            g_assert(n->value >= 0);
            local++;
        }
        rcu_read_unlock();
    }
    rcu_unregister_thread();
    qatomic_add(&n_read, local);
    return NULL;
}

static void churn(int readers, int rounds)
{
    QemuThread threads[8];
    struct node *n, *next;
    int i;

    for (i = 0; i < readers; i++) {
        qemu_thread_create(&threads[i], "reader", reader, NULL, QEMU_THREAD_JOINABLE);
    }
    for (i = 0; i < rounds; i++) {
        n = g_new0(struct node, 1);
        n->value = i;
        QLIST_INSERT_HEAD_RCU(&nodes, n, link);
        if (i % 2) {
            next = QLIST_NEXT(n, link);
            QLIST_REMOVE_RCU(next, link);
            call_rcu1(&next->rcu, reclaim);
            n_removed++;
        }
        if (i % 100 == 0) {
            synchronize_rcu();
        }
    }
    qatomic_set(&stop, 1);
    for (i = 0; i < readers; i++) {
        qemu_thread_join(&threads[i]);
    }
    QLIST_FOREACH_SAFE(n, &nodes, link, next) {
        QLIST_REMOVE_RCU(n, link);
        call_rcu1(&n->rcu, reclaim);
        n_removed++;
    }
    drain_call_rcu();
}

static void test_churn(void)
{
    churn(2, 1000);
    g_assert_cmpint(qatomic_read(&n_reclaimed), ==, n_removed);
}

EXTRA_CASES

int main(int argc, char *argv[])
{
    if (argc >= 2 && argv[1][0] == '-') {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/rcu/fixture-" LIST_NAME "/churn", test_churn);
        ADD_EXTRA_CASES
        return g_test_run();
    }
    if (argc == 3) {
        churn(atoi(argv[2]), 1000 * atoi(argv[1]));
        printf("%s: %d readers; 1 updater; nodes read: %lld, nodes removed: %" PRIi64
               "; nodes reclaimed: %" PRIi64 "\n", argv[0], atoi(argv[2]), n_read,
               n_removed, (int64_t)qatomic_read(&n_reclaimed));
        return 0;
    }
    fprintf(stderr, "usage: %s seconds readers\n", argv[0]);
    return 1;
}
"""

VARIANT_C = '#define LIST_NAME "{name}"\n#include "test-rcu-list.c"\n'

# rcutorture: readers and an updater of one published counter.
TORTURE_C = r"""
#include "qemu/osdep.h"
#include "qemu/rcu.h"
#include "qemu/thread.h"

static int *current;
static int stop;
static long long n_reads;

static void *reader(void *arg)
{
    long long local = 0;

    (void)arg;
    rcu_register_thread();
    while (!qatomic_read(&stop)) {
        rcu_read_lock();
        g_assert(*qatomic_rcu_read(&current) >= 0);
        rcu_read_unlock();
        local++;
    }
    rcu_unregister_thread();
    qatomic_add(&n_reads, local);
    return NULL;
}

static long stress(int nreaders)
{
    QemuThread threads[8];
    long n_updates;
    int i;

    current = g_new0(int, 1);
    for (i = 0; i < nreaders; i++) {
        qemu_thread_create(&threads[i], "reader", reader, NULL, QEMU_THREAD_JOINABLE);
    }
    for (n_updates = 0; n_updates < 200; n_updates++) {
        int *old = current, *new = g_new0(int, 1);

        *new = (int)n_updates;
        qatomic_rcu_set(&current, new);
        synchronize_rcu();
        g_free(old);
    }
    qatomic_set(&stop, 1);
    for (i = 0; i < nreaders; i++) {
        qemu_thread_join(&threads[i]);
    }
    return n_updates;
}

static void test_stress(void)
{
    g_assert_cmpint(stress(2), ==, 200);
}

int main(int argc, char *argv[])
{
    if (argc >= 2 && argv[1][0] == '-') {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/rcu/fixture-torture/stress", test_stress);
        return g_test_run();
    }
    {
        long n_updates = stress(argc >= 2 ? atoi(argv[1]) : 1);

        printf("n_reads: %lld  n_updates: %ld  n_mberror: 0\n", n_reads, n_updates);
        printf("rcu_stress_count: %lld %ld 0 0 0 0 0 0 0 0 0\n", n_reads, n_updates);
    }
    return 0;
}
"""

# Extra cases, in test-rcu-slist only.
FAIL_CASE = ("static void test_broken(void) { g_assert(qatomic_read(&stop) == 42); }",
             'if (!strcmp(LIST_NAME, "slist")) {\n'
             '    g_test_add_func("/rcu/fixture-" LIST_NAME "/broken", test_broken);\n}')
HANG_CASE = ("static void test_stuck(void) { for (;;) { g_usleep(100000); } }",
             'if (!strcmp(LIST_NAME, "slist")) {\n'
             '    g_test_add_func("/rcu/fixture-" LIST_NAME "/stuck", test_stuck);\n}')
CASES = {"": ("", ""), "fail": FAIL_CASE, "hang": HANG_CASE}


QEMU_LIKE_RCU = Path(__file__).resolve().parent / "qemu_like_rcu"


def make_tree(root: Path, extra: str = "", version: Optional[str] = "9.2.0",
              broken_rcu: bool = False) -> Path:
    """A QEMU-shaped tree of our own code; ``extra`` adds a failing or hanging
    case, ``broken_rcu`` makes its callbacks run out of order."""
    cases, add = CASES[extra]
    rcu_c = (QEMU_LIKE_RCU / "rcu.c").read_text()
    if broken_rcu:
        rcu_c = "#define FIXTURE_LIFO 1\n" + rcu_c
    files: Dict[str, str] = {
        "include/qemu/queue.h": QUEUE_H,
        "include/qemu/rcu_queue.h": RCU_QUEUE_H,
        "include/qemu/rcu.h": (QEMU_LIKE_RCU / "rcu.h").read_text(),
        "util/rcu.c": rcu_c,
        "tests/unit/rcutorture.c": TORTURE_C,
        "tests/unit/test-rcu-list.c": LIST_C.replace("ADD_EXTRA_CASES", add)
                                            .replace("EXTRA_CASES", cases),
    }
    for name in ("simpleq", "tailq", "slist"):
        files[f"tests/unit/test-rcu-{name}.c"] = VARIANT_C.format(name=name)
    if version is not None:
        files["VERSION"] = version + "\n"
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text.lstrip("\n"))
    return root


def qemu_check(tree: Path, *args: str, cwd: Path,
               env: Optional[Dict[str, str]] = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*QEMU_RCU, "qemu-check", "--qemu-source", str(tree), *args],
                          capture_output=True, text=True, timeout=120, cwd=cwd,
                          env={**os.environ, **(env or {})})


def table_rows(stdout: str) -> Dict[str, List[str]]:
    """'program case' -> the cells after it, from the printed table."""
    rows = {}
    for line in stdout.splitlines():
        words = line.split()
        if len(words) >= 4 and words[1].startswith("/rcu/"):
            rows[f"{words[0]} {words[1]}"] = words[2:]
    return rows


@needs_glib
def test_all_pass(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "qemu")
    out_json = tmp_path / "result.json"
    build = tmp_path / "build"
    result = qemu_check(tree, "--json", str(out_json), "--keep-build", str(build),
                        "--quiet", "--only", "qemu-tests", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "QEMU 9.2.0" in result.stdout
    rows = table_rows(result.stdout)
    assert set(rows) == {
        "rcutorture /rcu/fixture-torture/stress", "test-rcu-list /rcu/fixture-qlist/churn",
        "test-rcu-simpleq /rcu/fixture-simpleq/churn", "test-rcu-tailq /rcu/fixture-tailq/churn",
        "test-rcu-slist /rcu/fixture-slist/churn"}
    for cells in rows.values():
        assert cells[0] == "pass" and cells[2] == "pass", cells    # membarrier, fences
    assert "all passed" in result.stdout
    assert "reads" in result.stdout and "removed 1000 == reclaimed 1000" in result.stdout
    # The QEMU headers are linked from the tree, not copied.
    link = build / "qemu-include" / "qemu" / "queue.h"
    assert link.is_symlink() and link.resolve() == (tree / "include/qemu/queue.h").resolve()
    data = json.loads(out_json.read_text())
    assert data["passed"] is True and data["qemu_version"] == "9.2.0"
    assert {c["mode"] for c in data["cases"]} == {"membarrier", "fences"}
    assert len(data["cases"]) == 10 and len(data["command_line"]) == 5
    torture = [f for f in data["command_line"] if f["program"] == "rcutorture"][0]
    assert torture["figures"]["updates"] == 200 and len(torture["figures"]["ages"]) == 11


@needs_glib
def test_failing_case(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "qemu", extra="fail", version=None)
    result = qemu_check(tree, "--quiet", "--only", "qemu-tests", cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "QEMU unknown version" in result.stdout
    rows = table_rows(result.stdout)
    assert rows["test-rcu-slist /rcu/fixture-slist/broken"][0] == "fail"
    assert rows["test-rcu-slist /rcu/fixture-slist/broken"][1] == "fail"     # fences
    assert "assertion failed" in result.stdout      # the case's output follows the table
    assert "test-rcu-list /rcu/fixture-qlist/broken" not in rows
    assert rows["test-rcu-tailq /rcu/fixture-tailq/churn"][0] == "pass"
    assert "FAILED" in result.stdout


@needs_glib
def test_hanging_case(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "qemu", extra="hang")
    result = qemu_check(tree, "--quiet", "--timeout", "3", "--only", "qemu-tests",
                        cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    rows = table_rows(result.stdout)
    assert rows["test-rcu-slist /rcu/fixture-slist/stuck"][0] == "hang"
    assert rows["test-rcu-slist /rcu/fixture-slist/churn"][0] == "pass"


@needs_glib
@pytest.mark.parametrize("signum, status, said", [
    (signal.SIGINT, 130, "interrupted"),       # Ctrl-C
    (signal.SIGTERM, 143, "terminated"),       # kill, a CI job's timeout
])
def test_a_signal_kills_the_running_test(tmp_path: Path, signum: int, status: int,
                                         said: str) -> None:
    tree = make_tree(tmp_path / "qemu", extra="hang")
    build = tmp_path / "build"
    proc = subprocess.Popen(
        [*QEMU_RCU, "qemu-check", "--qemu-source", str(tree), "--keep-build", str(build),
         "--timeout", "100", "--only", "qemu-tests"], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        assert proc.stderr is not None
        for line in proc.stderr:          # progress: the stuck case runs next
            if "fixture-slist/churn [fences]" in line:
                break
        time.sleep(1)
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == status, err
    assert f"qemu-rcu qemu-check: {said}" in err
    time.sleep(0.5)
    left = [pid for pid in os.listdir("/proc") if pid.isdigit()
            and str(build).encode() in _cmdline(pid)]
    assert left == [], f"test processes outlived the {signal.Signals(signum).name}"


# A few of the package's C tests, for the other direction: passes, skips,
# a listed difference that happens and one that does not.
OUR_TESTS = ",".join([
    "test_guards:lock_held", "test_guards:two_guards_in_one_scope",
    "test_registration:first_lock_registers", "test_counter:snapshot_is_full_width"])


def our_rows(stdout: str) -> Dict[str, str]:
    """'program subtest' -> the rest of its line in the second table."""
    rows = {}
    for line in stdout.splitlines():
        words = line.split(maxsplit=2)
        if len(words) == 3 and words[0].startswith("test_"):
            rows[f"{words[0]} {words[1]}"] = words[2]
    return rows


def listed_differences(row: str) -> int:
    """How many of a row's cells are a listed difference that showed, or did
    not this time: a writer that should wait for an unregistered reader can
    still see it leave first, when the machine stalls the writer."""
    return len(re.findall(r"differs: fails|pass \(documented to differ\)", row))


@needs_glib
def test_our_tests_on_a_qemu_like_core(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "qemu")
    out_json = tmp_path / "result.json"
    result = qemu_check(tree, "--only", "our-tests", "--our-tests", OUR_TESTS, "--quiet",
                        "--json", str(out_json), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    rows = our_rows(result.stdout)
    assert rows["test_guards lock_held"].split()[::2] == ["pass", "pass"], rows
    assert rows["test_guards two_guards_in_one_scope"].split() == ["skip", "skip"]
    assert listed_differences(rows["test_registration first_lock_registers"]) == 2, rows
    # Listed, but this small core keeps the counter at full width.
    assert rows["test_counter snapshot_is_full_width"].count(
        "pass (documented to differ)") == 2
    assert "QEMU's RCU has no RCU_READ_LOCK_GUARD() that nests in one scope" in result.stdout
    assert "all passed" in result.stdout
    data = json.loads(out_json.read_text())
    assert data["passed"] is True and data["cases"] == []
    assert {r["build"] for r in data["our_tests"]} == {"fences", "membarrier"}
    assert len(data["our_tests"]) == 8


@needs_glib
def test_our_rcutorture_on_a_qemu_like_core(tmp_path: Path) -> None:
    out_json = tmp_path / "result.json"
    result = qemu_check(make_tree(tmp_path / "qemu"), "--only", "our-tests", "--our-tests",
                        "rcutorture", "--quiet", "--json", str(out_json), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "rcutorture (this package's) on QEMU's core:" in result.stdout
    torture = json.loads(out_json.read_text())["our_tests"]
    assert [r["build"] for r in torture] == ["fences", "membarrier"]
    for run in torture:
        f = run["figures"]
        assert run["verdict"] == "pass" and f["errors"] == 0 and len(f["ages"]) == 11
        assert f["reads"] > 0 and f["heap_updates"] == f["reclaimed"]
        assert not any(f["ages"][2:])


@needs_glib
def test_undocumented_failure_on_qemus_core(tmp_path: Path) -> None:
    # Callbacks run out of order: a bug, and no listed difference.
    tree = make_tree(tmp_path / "qemu", broken_rcu=True)
    result = qemu_check(tree, "--only", "our-tests", "--quiet", "--our-tests",
                        "test_callbacks:fifo_one_producer,test_registration:first_lock_registers",
                        cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    rows = our_rows(result.stdout)
    # Each build fails the check, or crashes: run last first, the drain's own
    # callback can return before the test's, which then touch freed nodes.
    verdicts = re.findall(r"FAIL|CRASH \(SIG\w+\)", rows["test_callbacks fifo_one_producer"])
    assert len(verdicts) == 2, result.stdout
    assert listed_differences(rows["test_registration first_lock_registers"]) == 2, \
        result.stdout
    assert "callbacks out of order" in result.stdout
    assert "not a listed difference; its output ends" in result.stdout
    assert "FAILED" in result.stdout


def test_unknown_c_test(tmp_path: Path) -> None:
    result = qemu_check(make_tree(tmp_path / "qemu"), "--our-tests", "test_nothing",
                        cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "no C test program 'test_nothing'" in result.stderr


@pytest.mark.parametrize("listed, status, verdict", [
    (None, "pass", "pass"),
    (None, "fail", "FAIL"),
    ("fails", "pass", "pass (documented to differ)"),
    ("fails", "fail", "differs as documented"),
    ("fails", "crash", "FAIL"),              # a worse outcome than the listed one
    ("crashes", "hang", "FAIL"),
    ("fails or hangs", "hang", "differs as documented"),
])
def test_judging_against_the_differences(monkeypatch: pytest.MonkeyPatch,
                                         listed: Optional[str], status: str,
                                         verdict: str) -> None:
    from qemu_rcu.qemu_check import differences, ourtests
    from qemu_rcu.qemu_check.runs import Outcome

    rows = () if listed is None else (differences.Difference("p", "s", listed, "why"),)
    monkeypatch.setattr(differences, "DIFFERENCES", rows)
    got, expected = ourtests.judge("p", "s", "fences", Outcome(status, "", 0.0, ""))
    assert got == verdict and expected == (listed or "")
    assert differences.lookup("p", "s", "other build") is None


def test_readme_shows_the_differences() -> None:
    from qemu_rcu.qemu_check.differences import README_BEGIN, README_END, markdown_table

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    assert README_BEGIN in readme and README_END in readme
    shown = readme.split(README_BEGIN, 1)[1].split(README_END, 1)[0]
    assert shown.strip() == markdown_table().strip(), (
        "README's table of differences is out of date: paste the output of "
        "python -m qemu_rcu.qemu_check.differences between its markers")


def test_every_difference_names_a_real_subtest() -> None:
    import re

    from qemu_rcu.qemu_check.differences import DIFFERENCES
    from qemu_rcu.qemu_check.ourtests import PROGRAMS

    csrc = Path(__file__).resolve().parent.parent / "csrc"
    for row in DIFFERENCES:
        text = (csrc / PROGRAMS[row.program][0]).read_text()
        assert re.search(rf"\bRUN\({row.subtest}\)", text), (row.program, row.subtest)
        assert row.why and row.statuses


def _cmdline(pid: str) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _usage_error(result: subprocess.CompletedProcess[str], message: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith("usage: qemu-rcu"), result.stderr
    assert message in result.stderr, result.stderr
    assert result.stdout == ""


def test_missing_folder(tmp_path: Path) -> None:
    _usage_error(qemu_check(tmp_path / "nowhere", cwd=tmp_path), "nowhere does not exist")


def test_not_a_folder(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    _usage_error(qemu_check(tmp_path / "file", cwd=tmp_path), "file is not a folder")


def test_missing_files(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "qemu")
    (tree / "util/rcu.c").unlink()
    (tree / "tests/unit/rcutorture.c").unlink()
    _usage_error(qemu_check(tree, cwd=tmp_path),
                 "is not a QEMU source tree: missing util/rcu.c, tests/unit/rcutorture.c")


def test_old_test_folder_is_found(tmp_path: Path) -> None:
    from qemu_rcu.qemu_check.source import find

    tree = make_tree(tmp_path / "qemu")
    (tree / "tests/unit").rename(tree / "tests/old")
    for name in os.listdir(tree / "tests/old"):
        (tree / "tests/old" / name).rename(tree / "tests" / name)
    assert find(str(tree)).tests["rcutorture"] == (tree / "tests/rcutorture.c").resolve()


@pytest.mark.parametrize("version, message", [
    ("8.2.0", "QEMU 8.2 is not supported: qemu-check needs QEMU 9.0 or newer"),
    ("not a version", "cannot read a QEMU version from VERSION: 'not a version'"),
])
def test_bad_version(tmp_path: Path, version: str, message: str) -> None:
    _usage_error(qemu_check(make_tree(tmp_path / "qemu", version=version), cwd=tmp_path),
                 message)


@pytest.mark.parametrize("version", ["9.0.0", "10.1.50", "9.2.0-rc1"])
def test_good_versions(version: str) -> None:
    from qemu_rcu.qemu_check.source import MIN_VERSION, parse_version

    assert parse_version(version) >= MIN_VERSION


def test_json_folder_is_checked(tmp_path: Path) -> None:
    _usage_error(qemu_check(make_tree(tmp_path / "qemu"), "--json", "/no/such/folder/x.json",
                            cwd=tmp_path), "folder /no/such/folder does not exist")


def test_without_pkg_config(tmp_path: Path) -> None:
    # A PATH holding only the compiler: pkg-config cannot be found.
    from qemu_rcu.bench.cbuild import find_compiler

    cc = find_compiler()
    if cc is None:
        pytest.skip("no C compiler")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "cc").symlink_to(shutil.which(cc[0]) or cc[0])
    result = qemu_check(make_tree(tmp_path / "qemu"), cwd=tmp_path,
                        env={"PATH": str(bin_dir), "CC": "cc"})
    assert result.returncode == 2, result.stdout + result.stderr
    assert "qemu-rcu qemu-check: pkg-config was not found" in result.stderr
    assert "libglib2.0-dev" in result.stderr and "glib2-devel" in result.stderr
    assert result.stdout == ""
