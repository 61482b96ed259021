# SPDX-License-Identifier: MIT
"""Argument types for ``qemu-rcu``'s commands.

Each one turns a bad value into argparse's usage error (exit status 2)
while the arguments are parsed, before a long run starts.
"""

from __future__ import annotations

import argparse
import math
import os
from typing import Callable, Optional


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
