# SPDX-License-Identifier: MIT
"""Fault tests in fresh interpreters: exit, fork, signals, fatal misuse.

The exit and fork behaviour they check is described in docs/design.md,
"Fork and exit".
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import Any, Dict

import pytest

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")


@pytest.mark.parametrize("attempt", range(3))
def test_exit_runs_ten_thousand_pending_callbacks(python: Any, attempt: int) -> None:
    result = python("""
        import atexit
        ran = []
        atexit.register(lambda: print("ran", len(ran)))   # runs after qemu_rcu's handler
        import qemu_rcu
        for i in range(10_000):
            qemu_rcu.call_rcu(ran.append, i)
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["ran", "10000"]


def patience(seconds: float) -> Dict[str, str]:
    """The variable that makes exit give up after ``seconds`` with no callback completed."""
    return {"QEMU_RCU_EXIT_PATIENCE": str(seconds)}


# A daemon thread that enters a read-side section and never leaves it.
READER_STUCK_INSIDE = """
import threading, qemu_rcu
inside = threading.Event()
def reader():
    g = qemu_rcu.RcuGuard()
    inside.set()
    threading.Event().wait()
threading.Thread(target=reader, daemon=True).start()
inside.wait()
"""


def test_exit_with_a_reader_thread_still_inside(python: Any) -> None:
    result = python(READER_STUCK_INSIDE + """
qemu_rcu.call_rcu(print, "never")
""", env=patience(0.5))
    assert result.returncode == 0, result.stderr
    assert ("1 Python RCU callbacks never ran at exit: a read-side section stayed open"
            in result.stderr)


def test_exit_runs_slow_callbacks_for_as_long_as_they_keep_completing(python: Any) -> None:
    # 40 callbacks of 0.1 s: eight times the patience in all, but one
    # completes every 0.1 s, so exit must run every one of them.
    result = python("""
        import atexit, time
        ran = []
        atexit.register(lambda: print("ran", len(ran)))   # runs after qemu_rcu's handler
        import qemu_rcu
        def slow(i):
            time.sleep(0.1)
            ran.append(i)
        for i in range(40):
            qemu_rcu.call_rcu(slow, i)
    """, timeout=60, env=patience(0.5))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["ran", "40"]
    assert "never ran" not in result.stderr


def test_exit_cuts_off_callbacks_that_keep_queuing_callbacks(python: Any) -> None:
    result = python("""
        import atexit, time
        ran = []
        atexit.register(lambda: print("ran", ran.count(-1), len(ran) > 23))
        import qemu_rcu
        def again(i):
            ran.append(i)
            time.sleep(0.05)     # the queue is empty while a callback still runs
            qemu_rcu.call_rcu(again, i + 1)
        def before_exit(i):
            time.sleep(0.05)
            ran.append(-1)
        for i in range(20):
            qemu_rcu.call_rcu(before_exit, i)
        qemu_rcu.call_rcu(again, 0)
    """, timeout=60, env=patience(0.5))
    assert result.returncode == 0, result.stderr
    # Every callback queued before exit ran; the endless chain was cut off,
    # with its last link still queued or refused as it was being queued.
    assert result.stdout.split() == ["ran", "20", "True"]
    assert ("callbacks kept queuing callbacks during exit, and those queued after exit "
            "began were cut off after 0.5 s" in result.stderr)


def test_exit_patience_that_is_not_a_number_is_reported_and_ignored(python: Any) -> None:
    result = python("""
        import qemu_rcu
        qemu_rcu.call_rcu(print, "ran")
    """, env={"QEMU_RCU_EXIT_PATIENCE": "soon"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ran"
    assert ("ignoring QEMU_RCU_EXIT_PATIENCE='soon': not a non-negative number of "
            "seconds; using 10") in result.stderr


def test_after_the_exit_handler_queuing_raises_and_changes_nothing(python: Any) -> None:
    # atexit handlers run last-registered first, so this one runs after
    # qemu_rcu's, when callbacks no longer run: like concurrent.futures'
    # submit() after shutdown, queuing raises instead of losing callbacks.
    result = python("""
        import atexit
        def late():
            import qemu_rcu
            cell = qemu_rcu.RcuCell("v1")
            attempts = [
                lambda: qemu_rcu.call_rcu(print, "never"),
                lambda: cell.set("v2"),
                lambda: cell.update(lambda old: "v3"),
                lambda: qemu_rcu.drain_call_rcu(),
            ]
            for attempt in attempts:
                try:
                    attempt()
                    print("accepted")
                except qemu_rcu.RcuError as exc:
                    print("refused:", str(exc).split(":")[0], flush=True)
            print("cell:", cell.raw_get())
            print("synchronize:", qemu_rcu.synchronize_rcu(timeout=10))
        atexit.register(late)
        import qemu_rcu
        qemu_rcu.call_rcu(print, "early callback", flush=True)
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "early callback",
        "refused: call_rcu() called after the interpreter began exiting; queued "
        "callbacks no longer run.  Call it before exit, or from an atexit handler "
        "registered after importing qemu_rcu",
        "refused: RcuCell.set()", "refused: RcuCell.update()", "refused: drain_call_rcu()",
        "cell: v1", "synchronize: True"]
    assert "never ran" not in result.stderr


def test_exit_inside_a_guard_while_a_callback_waits_for_it(python: Any) -> None:
    # The callback waits for the main thread's section, which never ends:
    # at exit its wait raises, so exit does not wait for it forever.
    result = python("""
        import threading, qemu_rcu
        running, go = threading.Event(), threading.Event()
        def waits_for_main():
            running.set()
            go.wait()
            qemu_rcu.synchronize_rcu()
        qemu_rcu.call_rcu(waits_for_main)
        assert running.wait(10)
        guard = qemu_rcu.RcuGuard()
        go.set()
    """, timeout=30)
    assert result.returncode == 0, result.stderr
    assert "synchronize_rcu(): the interpreter is exiting" in result.stderr
    assert "still running at exit" not in result.stderr


def test_exit_gives_up_on_a_callback_that_never_returns(python: Any) -> None:
    result = python("""
        import threading, qemu_rcu
        running = threading.Event()
        def stuck():
            running.set()
            threading.Event().wait()
        qemu_rcu.call_rcu(stuck)
        qemu_rcu.call_rcu(print, "after the stuck one")
        assert running.wait(10)
    """, timeout=30, env=patience(0.5))
    assert result.returncode == 0, result.stderr
    assert "the Python RCU callback <function stuck at" in result.stderr
    assert "was still running at exit" in result.stderr
    assert ("1 Python RCU callbacks never ran at exit: the callback <function stuck at"
            in result.stderr)
    assert "did not return for 0.5 s" in result.stderr
    assert "after the stuck one" not in result.stdout


# A C library that drains at process exit, after Py_Finalize (libc's
# atexit), and says so on stdout when its drain returns.
C_DRAIN_AT_EXIT = """
import ctypes
from qemu_rcu import ffi, lib
libc = ctypes.CDLL(None)
libc.strdup.restype = ctypes.c_void_p
def address(name):
    return ctypes.c_void_p(int(ffi.cast("uintptr_t", ffi.addressof(lib, name))))
# libc runs these last registered first: the drain, then the message.
libc.__cxa_atexit(ctypes.cast(libc.puts, ctypes.c_void_p),
                  ctypes.c_void_p(libc.strdup(b"C drain returned")), None)
libc.__cxa_atexit(address("drain_call_rcu"), None, None)
"""


@pytest.mark.parametrize("block", ["time.sleep(3)", "threading.Event().wait()"])
def test_c_callbacks_outlive_a_python_callback_stuck_at_exit(python: Any, block: str) -> None:
    # Exit gives up on a Python callback that blocks: when it wakes, the
    # finalized interpreter ends its thread; or it never wakes.  Either way
    # a new thread must run C callbacks for the drain after Py_Finalize.
    result = python(C_DRAIN_AT_EXIT + f"""
import threading, time, qemu_rcu
started = threading.Event()
def blocks():
    started.set()
    {block}
qemu_rcu.call_rcu(blocks)
assert started.wait(10)
""", timeout=30, env=patience(0.3))
    assert result.returncode == 0, result.stderr
    assert "still running at exit" in result.stderr
    assert result.stdout.strip() == "C drain returned"


def test_c_callbacks_queued_before_exit_run_while_python_can(python: Any) -> None:
    # A cffi callback enters Python: the exit handler drains it first.
    result = python(C_DRAIN_AT_EXIT + """
import qemu_rcu
head = ffi.new("struct rcu_head *")
@ffi.callback("void(struct rcu_head *)")
def from_c(h):
    print("cffi callback ran", flush=True)
lib.call_rcu1(head, from_c)
""", timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:2] == ["cffi callback ran", "C drain returned"]


def test_cell_update_that_outlasts_the_exit_handler_publishes_and_reports(python: Any) -> None:
    # The update began before exit and its fn returns after the exit handler:
    # the new value stays published, and the skipped reclaim is reported
    # instead of raised after the change.
    result = python("""
        import atexit, threading, time
        done = threading.Event()
        def late():
            done.wait(10)
            print("cell:", cell.raw_get(), "| update:", outcome, flush=True)
        atexit.register(late)                  # runs after qemu_rcu's handler
        import qemu_rcu
        class V:
            def __init__(self, n): self.n = n
            def __repr__(self): return f"V({self.n})"
            def __rcu_reclaim__(self): print("reclaimed", self, flush=True)
        cell = qemu_rcu.RcuCell(V(1))
        inside, outcome = threading.Event(), []
        def new_value(old):
            inside.set()
            while qemu_rcu._native._accepting_callbacks():   # until exit closes it
                time.sleep(0.01)
            return V(2)
        def writer():
            try:
                cell.update(new_value)
                outcome.append("returned")
            except Exception as exc:
                outcome.append(repr(exc))
            done.set()
        threading.Thread(target=writer, daemon=True).start()
        inside.wait(10)
    """, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "cell: V(2) | update: ['returned']"
    assert "RcuCell.update(): the interpreter began exiting meanwhile" in result.stderr


def test_exception_in_callback_is_reported_and_the_thread_carries_on(python: Any) -> None:
    result = python("""
        import qemu_rcu
        def boom():
            raise ValueError("callback exploded")
        qemu_rcu.call_rcu(boom)
        qemu_rcu.call_rcu(print, "after")
        qemu_rcu.drain_call_rcu()
    """)
    assert result.returncode == 0, result.stderr
    assert "callback exploded" in result.stderr
    assert "Exception ignored" in result.stderr
    assert result.stdout.strip() == "after"


FORK_SCRIPT = """
import os, sys, qemu_rcu
inside = sys.argv[1] == "inside"
cell = qemu_rcu.RcuCell("v1")

def child_checks():
    assert qemu_rcu.read_lock_held() == inside, "section state across fork"
    if inside:
        assert cell.get(guard).value == "v1"
        guard.unlock()
    with qemu_rcu.RcuGuard() as g:
        assert cell.get(g).value == "v1"
    assert qemu_rcu.synchronize_rcu(timeout=10)
    done = []
    qemu_rcu.call_rcu(done.append, 1)
    assert qemu_rcu.drain_call_rcu(timeout=10)
    assert done == [1]
    cell.set("v2")
    assert qemu_rcu.drain_call_rcu(timeout=10)

guard = qemu_rcu.RcuGuard() if inside else None
pid = os.fork()
if pid == 0:
    try:
        child_checks()
    except BaseException as exc:
        print("child failed:", repr(exc), flush=True)
        os._exit(1)
    os._exit(0)
_, status = os.waitpid(pid, 0)
if guard is not None:
    guard.unlock()
assert qemu_rcu.synchronize_rcu(timeout=10)
print("child status", status)
"""


@pytest.mark.parametrize("where", ["outside", "inside"])
def test_fork_child_can_read_synchronize_and_run_callbacks(where: str) -> None:
    result = subprocess.run([sys.executable, "-c", FORK_SCRIPT, where], capture_output=True,
                            text=True, timeout=60, cwd=os.path.dirname(sys.executable))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "child status 0", result.stdout


def test_fork_child_runs_a_callback_whose_head_stayed_in_the_parent(python: Any) -> None:
    # The parent's callback thread is in the middle of a run of callbacks
    # when it forks: the grace-period head covering the rest of the run went
    # with that thread, so the child must queue a fresh one, or its drain
    # returns with the callback never run.
    result = python("""
        import os, threading, qemu_rcu
        ran = []
        first_started, first_go = threading.Event(), threading.Event()
        second_started, second_go = threading.Event(), threading.Event()
        def block(started, go):
            started.set()
            go.wait(30)
        qemu_rcu.call_rcu(block, first_started, first_go)   # holds the callback thread
        assert first_started.wait(10)
        # One batch, run by its last grace-period head: the block, then ran.append.
        qemu_rcu.call_rcu(block, second_started, second_go)
        qemu_rcu.call_rcu(ran.append, "queued before fork")
        first_go.set()
        assert second_started.wait(10)
        pid = os.fork()
        if pid == 0:
            ok = qemu_rcu.drain_call_rcu(timeout=10)
            print("child", ok, ran, flush=True)
            os._exit(0)
        second_go.set()
        _, status = os.waitpid(pid, 0)
        assert qemu_rcu.drain_call_rcu(timeout=10)
        print("parent", ran, "child status", status, flush=True)
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "child True ['queued before fork']",
        "parent ['queued before fork'] child status 0",
    ]


def test_fork_child_is_not_blamed_for_other_threads_guards(python: Any) -> None:
    # Another thread's guard is copied into the child, but its section is not.
    result = python("""
        import gc, os, threading, warnings, qemu_rcu
        kept, made, done = [], threading.Event(), threading.Event()
        def owner():
            kept.append(qemu_rcu.RcuGuard())
            made.set()
            done.wait()
            kept[0].unlock()
        t = threading.Thread(target=owner)
        t.start()
        made.wait()
        pid = os.fork()
        if pid == 0:
            try:
                kept[0].unlock()
            except qemu_rcu.RcuThreadError as exc:
                print("unlock:", exc, flush=True)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                kept.clear()
                gc.collect()
            print("warnings:", [str(w.message) for w in caught], flush=True)
            os._exit(0)
        os.waitpid(pid, 0)
        done.set()
        t.join()
    """)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("unlock: RcuGuard belongs to thread")
    assert "of the parent process" in lines[0]
    assert lines[1] == "warnings: []"


def test_fork_while_callbacks_run(python: Any) -> None:
    result = python("""
        import os, threading, time, qemu_rcu
        stop = threading.Event()
        errors = []          # a flooding thread that died would leave no load behind
        def spin_a_little():
            t = time.perf_counter()
            while time.perf_counter() - t < 0.0001:
                pass
        def flood():
            try:
                while not stop.is_set():
                    for _ in range(50):
                        qemu_rcu.call_rcu(spin_a_little)
                    qemu_rcu.drain_call_rcu()      # keeps the backlog bounded
            except BaseException as exc:
                errors.append(repr(exc))
        flooders = [threading.Thread(target=flood) for _ in range(2)]
        for p in flooders:
            p.start()
        failures = 0
        for i in range(20):
            pid = os.fork()
            if pid == 0:
                ok = qemu_rcu.synchronize_rcu(timeout=10)
                done = []
                qemu_rcu.call_rcu(done.append, 1)
                ok = ok and qemu_rcu.drain_call_rcu(timeout=20) and done == [1]
                os._exit(0 if ok else 1)
            _, status = os.waitpid(pid, 0)
            failures += status != 0
        stop.set()
        for p in flooders:
            p.join()
        assert qemu_rcu.drain_call_rcu(timeout=30)
        print("failures", failures, "flooder errors", errors)
    """, timeout=240)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "failures 0 flooder errors []"


def test_ctrl_c_interrupts_a_synchronize_waiting_on_a_reader() -> None:
    # "waiting" is printed only once the main thread is inside the wait loop
    # of synchronize_rcu (seen in its stack), so SIGINT can land nowhere else.
    code = READER_STUCK_INSIDE + """
import sys, time
main = threading.get_ident()
def in_wait():
    frame = sys._current_frames().get(main)
    while frame is not None:
        if frame.f_code.co_name == "_wait":
            return True
        frame = frame.f_back
    return False
def announce():
    while not in_wait():
        time.sleep(0.001)
    print("waiting", flush=True)
threading.Thread(target=announce, daemon=True).start()
try:
    qemu_rcu.synchronize_rcu()
    print("returned")
except KeyboardInterrupt as exc:
    frames = [f.name for f in __import__("traceback").extract_tb(exc.__traceback__)]
    print("interrupted in", frames[-1], flush=True)
import os
os._exit(0)
"""
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            cwd=os.path.dirname(sys.executable))
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "waiting"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert out.strip() == "interrupted in _wait", err
    assert proc.returncode == 0


@pytest.mark.parametrize("code, message", [
    ("lib.rcu_read_lock(); lib.synchronize_rcu()", "synchronize_rcu() called inside a read-side"),
    ("lib.rcu_read_lock(); lib.drain_call_rcu()", "drain_call_rcu() called inside a read-side"),
    ("lib.rcu_read_unlock()", "rcu_read_unlock() called with no read-side"),
    ("lib.rcu_read_lock(); lib.rcu_unregister_thread()", "rcu_unregister_thread() called inside"),
])
def test_c_level_misuse_fails_loudly(python: Any, code: str, message: str) -> None:
    result = python(f"from qemu_rcu import lib\n{code}\n")
    assert result.returncode == -signal.SIGABRT
    assert "qemu-rcu: fatal: " + message in result.stderr


def test_threads_exiting_while_registered(python: Any) -> None:
    result = python("""
        import threading, qemu_rcu
        def reader(leave_open):
            qemu_rcu.register_thread()
            if leave_open:
                qemu_rcu.lib.rcu_read_lock()       # the thread ends inside its section
            else:
                with qemu_rcu.RcuGuard():
                    pass
        for i in range(50):
            t = threading.Thread(target=reader, args=(i % 2 == 0,))
            t.start()
            t.join()
        assert qemu_rcu.synchronize_rcu(timeout=10)
        qemu_rcu.call_rcu(print, "callbacks still run")
        assert qemu_rcu.drain_call_rcu(timeout=10)
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "callbacks still run"


def test_callback_that_keeps_a_guard_fails_loudly(python: Any) -> None:
    result = python("""
        import qemu_rcu
        kept = []
        def keep_guard():
            kept.append(qemu_rcu.RcuGuard())
        qemu_rcu.call_rcu(keep_guard)
        qemu_rcu.drain_call_rcu(timeout=10)
    """)
    assert result.returncode == -signal.SIGABRT
    assert "keep_guard" in result.stderr
    assert "returned inside a read-side section" in result.stderr


def test_fork_from_a_signal_handler_during_synchronize(python: Any) -> None:
    result = python("""
        import os, signal, threading, qemu_rcu
        inside = threading.Event()
        def reader():
            with qemu_rcu.RcuGuard():
                inside.set()
                threading.Event().wait(1.0)   # holds the parent's wait up for 1 s
        threading.Thread(target=reader, daemon=True).start()
        inside.wait()
        forked = []
        def handler(signum, frame):
            forked.append(os.fork())
        signal.signal(signal.SIGALRM, handler)
        signal.setitimer(signal.ITIMER_REAL, 0.1)
        ok = qemu_rcu.synchronize_rcu(timeout=20)
        if forked == [0]:
            # The child's wait went on after the handler; the reader is gone.
            os._exit(0 if ok else 3)
        _, status = os.waitpid(forked[0], 0)
        print("parent", ok, "child status", status)
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["parent", "True", "child", "status", "0"]


def test_cell_set_from_a_handler_that_interrupted_a_set_of_that_cell(python: Any) -> None:
    # The subclass sends the signal from inside set()'s writer lock, so the
    # handler's set() of the same cell on the same thread always meets it.
    result = python("""
        import os, signal, qemu_rcu
        errors = []
        class Cell(qemu_rcu.RcuCell):
            def _exchange(self, value):
                if value == "outer":
                    os.kill(os.getpid(), signal.SIGUSR1)
                return super()._exchange(value)
        cell = Cell("first")
        def handler(signum, frame):
            try:
                cell.set("from handler")
            except qemu_rcu.RcuError as exc:
                errors.append(str(exc))
        signal.signal(signal.SIGUSR1, handler)
        cell.set("outer")
        print(cell.raw_get())
        for error in errors:
            print(error)
    """, timeout=30)
    assert result.returncode == 0, result.stderr
    value, *errors = result.stdout.splitlines()
    assert value == "outer"
    assert len(errors) == 1
    assert "RcuCell.set() called while this thread is already writing this cell" in errors[0]


def test_cell_writes_from_a_timer_signal_never_hang(python: Any) -> None:
    # Handlers land at random points of the main thread's writes: each either
    # publishes or raises RcuError, and every replaced value is reclaimed.
    # Handlers nest (a signal can land inside the handler), so the handler
    # counts with list.append, one step no handler can land inside; "n += 1"
    # is a load and a store with a gap between them.
    result = python("""
        import signal, qemu_rcu
        class Value:
            reclaimed = 0
            def __rcu_reclaim__(self):
                Value.reclaimed += 1
        cell = qemu_rcu.RcuCell(Value())
        ok, queued = [], []
        ran = []
        def handler(signum, frame):
            qemu_rcu.call_rcu(ran.append, 1)      # call_rcu from a handler works
            queued.append(1)
            try:
                cell.set(Value())
                ok.append(1)
            except qemu_rcu.RcuError:
                pass
        signal.signal(signal.SIGALRM, handler)
        signal.setitimer(signal.ITIMER_REAL, 0.0001, 0.0001)
        for _ in range(20_000):
            cell.set(Value())
            cell.update(lambda old: Value())
            qemu_rcu.call_rcu(ran.append, 0)
        signal.setitimer(signal.ITIMER_REAL, 0)
        qemu_rcu.drain_call_rcu()
        writes = 40_000 + len(ok)
        print(len(ok) > 0, Value.reclaimed == writes,
              ran.count(0) == 20_000, ran.count(1) == len(queued))
    """, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True", "True", "True"]


# Runs CODE in a new legacy (shared-GIL) subinterpreter, which can load
# single-phase extension modules such as cffi's.
RUN_IN_SUBINTERPRETER = """
def run_in_subinterpreter(code):
    try:
        import _interpreters                        # 3.13+
    except ImportError:
        import _testcapi
        assert _testcapi.run_in_subinterp(code) == 0
        return
    interp = _interpreters.create("legacy")
    try:
        assert _interpreters.run_string(interp, code) is None
    finally:
        _interpreters.destroy(interp)
"""

IMPORT_IN_SUBINTERPRETER = '''
import os
try:
    import qemu_rcu
    os.write(1, b"imported\\n")
except ImportError as exc:
    os.write(1, ("refused: " + str(exc) + "\\n").encode())
'''


@pytest.mark.parametrize("main_first", [True, False])
def test_subinterpreters_are_refused_and_leave_the_main_interpreter_alone(
        python: Any, main_first: bool) -> None:
    result = python(RUN_IN_SUBINTERPRETER + f"""
import sys
if {main_first}:
    import qemu_rcu
run_in_subinterpreter({IMPORT_IN_SUBINTERPRETER!r})
run_in_subinterpreter({IMPORT_IN_SUBINTERPRETER!r})
import qemu_rcu
ran = []
cell = qemu_rcu.RcuCell(1)
cell.set(2)
qemu_rcu.call_rcu(ran.append, "callback")
print(qemu_rcu.drain_call_rcu(timeout=30), ran, cell.raw_get(), flush=True)
""", timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    message = ("refused: qemu_rcu cannot be imported in a subinterpreter: its RCU domain "
               "and callback thread belong to the main interpreter. Import it there.")
    assert lines == [message, message, "True ['callback'] 2"]
