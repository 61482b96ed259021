# SPDX-License-Identifier: MIT
"""Progress lines on stderr: a long run shows it is alive, and stdout stays
clean for its results."""

from __future__ import annotations

import sys
import time
from typing import Optional, TextIO


class Progress:
    """Prints status lines to ``stream`` (default: stderr).

    With ``label``, each line starts with ``[label  12.3s]`` (the seconds
    since the start).  With ``live`` on a terminal, each line replaces the one
    before, for counters that change all the time; otherwise every line
    stays.  ``quiet`` prints nothing.  Call ``done()`` at the end.
    """

    def __init__(self, stream: Optional[TextIO] = None, *, label: str = "",
                 live: bool = False, quiet: bool = False) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.label = label
        self.live = live and self.stream.isatty()
        self.quiet = quiet
        self._start = time.monotonic()
        self._width = 0

    def __call__(self, line: str) -> None:
        if self.quiet:
            return
        if self.label:
            line = f"[{self.label} {time.monotonic() - self._start:6.1f}s] {line}"
        if self.live:
            self.stream.write("\r" + line.ljust(self._width))
            self._width = len(line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def done(self) -> None:
        """End a live line, so that what follows starts on a line of its own."""
        if self.live and self._width:
            self.stream.write("\n")
            self.stream.flush()
            self._width = 0
