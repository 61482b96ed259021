# SPDX-License-Identifier: MIT
"""Argument types and signal handling for ``qemu-rcu``'s commands.

Each argument type turns a bad value into argparse's usage error (exit
status 2) while the arguments are parsed, before a long run starts.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import signal
import threading
from types import FrameType
from typing import Callable, Iterator, Optional

# The exit statuses of a program ended by Ctrl-C or SIGTERM (128 + the
# signal's number), as shells use.
INTERRUPTED = 128 + signal.SIGINT
TERMINATED = 128 + signal.SIGTERM


def seconds(text: str) -> float:
    """A duration: a finite number of seconds greater than zero."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(
            f"must be a finite number of seconds greater than 0, not {text}")
    return value


def count(minimum: int, maximum: Optional[int] = None) -> Callable[[str], int]:
    """A whole number from ``minimum`` to ``maximum`` (no limit if None)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if value < minimum or (maximum is not None and value > maximum):
            limits = f"from {minimum} to {maximum}" if maximum is not None \
                else f"at least {minimum}"
            raise argparse.ArgumentTypeError(f"must be {limits}, not {value}")
        return value
    parse.__name__ = "count"        # argparse names the type in its messages
    return parse


def output_file(text: str) -> str:
    """A file to write at the end of a run: its folder must exist already."""
    folder = os.path.dirname(os.path.abspath(text))
    if not os.path.isdir(folder):
        raise argparse.ArgumentTypeError(f"folder {folder} does not exist")
    if os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"{text} is a folder, not a file")
    return text


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that every command's clean-up runs:
    its threads stop, and the programs it started are killed (a signal sent
    to qemu-rcu alone does not reach them)."""


def _raise_terminated(signum: int, frame: Optional[FrameType]) -> None:
    raise Terminated


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM into Terminated while a command runs, unless someone
    else (an embedding program, a test runner) handles SIGTERM already."""
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL):
        yield
        return
    signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
