"""Shared helpers: run a Python snippet in a fresh interpreter."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from typing import Any, Type

import pytest

from qemu_rcu import RcuGuard


def run_python(code: str, timeout: float = 60, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a new interpreter outside the source tree."""
    env = dict(os.environ, PYTHONFAULTHANDLER="1")
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True, text=True, timeout=timeout, cwd=os.path.dirname(sys.executable),
        env=env, **kwargs,
    )


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
