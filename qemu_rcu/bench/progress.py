# SPDX-License-Identifier: MIT
"""Progress lines on stderr, so a long run shows it is alive and stdout stays
clean for the tables."""

from __future__ import annotations

import sys
import time


class Progress:
    """Prints ``[bench  12.3s] message`` lines to stderr unless quiet."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self._start = time.monotonic()

    def __call__(self, message: str) -> None:
        if not self.quiet:
            elapsed = time.monotonic() - self._start
            print(f"[bench {elapsed:6.1f}s] {message}", file=sys.stderr, flush=True)
