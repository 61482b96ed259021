# SPDX-License-Identifier: MIT
"""Shared helpers: run a Python snippet in a fresh interpreter."""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import sys
import textwrap
import threading
import warnings
from typing import Any, Callable, Dict, Iterator, Optional, Type

import pytest

from qemu_rcu import RcuGuard, read_lock_held

# Tests send Ctrl-C (SIGINT) to programs they start.  A run started with
# SIGINT ignored (a background job of a non-interactive shell) would pass
# that on, since an ignored signal stays ignored across exec while a handled
# one does not: handle it here, as Python does by default.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def run_python(code: str, timeout: float = 60, env: Optional[Dict[str, str]] = None,
               **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a new interpreter outside the source tree, with ``env``
    added to this process's environment."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True, text=True, timeout=timeout, cwd=os.path.dirname(sys.executable),
        env={**os.environ, "PYTHONFAULTHANDLER": "1", **(env or {})}, **kwargs,
    )


@contextlib.contextmanager
def _nothing_reported() -> Iterator[None]:
    """Fail if the block warns or reports an exception nobody could catch.

    Finalizers cannot raise: a warning turned into an error there goes to
    ``sys.unraisablehook``, so both channels are watched.
    """
    unraisable: list[Any] = []
    hook = sys.unraisablehook
    sys.unraisablehook = unraisable.append
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield
    finally:
        sys.unraisablehook = hook
    assert [str(w.message) for w in caught] == []
    assert [repr(u.exc_value) for u in unraisable] == []


@pytest.fixture
def nothing_reported() -> Any:
    return _nothing_reported


@pytest.fixture
def python() -> Any:
    return run_python


class HeldReader:
    """A thread that sits in a read-side section until released."""

    def __init__(self) -> None:
        self.inside = threading.Event()
        self.release = threading.Event()
        self.thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        with RcuGuard():
            self.inside.set()
            self.release.wait(30)

    def __enter__(self) -> HeldReader:
        self.thread.start()
        assert self.inside.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.thread.join(10)


@pytest.fixture
def held_reader() -> Type[HeldReader]:
    return HeldReader


class Worker:
    """One long-lived thread that runs the calls it is given, one at a time.

    It drops its references to a call's function, arguments and result before
    the caller gets the result, so an object handed back and forth is
    deallocated on whichever thread the test lets go of it last.
    """

    def __init__(self) -> None:
        self._todo: queue.Queue[Any] = queue.Queue()
        self._out: list[tuple[bool, Any]] = []
        self._done = threading.Semaphore(0)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self.ident: int = self.call(threading.get_ident)

    def _run(self) -> None:
        while True:
            job = self._todo.get()
            if job is None:
                return
            try:
                self._out.append((True, job[0](*job[1])))
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                self._out.append((False, exc))
            job = None
            self._done.release()

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        self._todo.put((fn, args))
        assert self._done.acquire(timeout=30), "the worker thread is stuck"
        ok, value = self._out.pop()
        if not ok:
            raise value
        return value

    def stop(self) -> None:
        self._todo.put(None)
        self._thread.join(30)


@pytest.fixture
def worker() -> Iterator[Worker]:
    w = Worker()
    yield w
    w.stop()


@pytest.fixture(autouse=True)
def _no_section_leaks() -> Iterator[None]:
    assert not read_lock_held(), "an earlier test left a read-side section open"
    yield
    assert not read_lock_held(), "this test left a read-side section open"
