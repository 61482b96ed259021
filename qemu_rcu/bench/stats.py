# SPDX-License-Identifier: MIT
"""Small statistics for benchmark rounds: medians, percentiles, paired ratios.

Shared machines drift during a run, so every figure is the median of several
rounds, and a ratio is the median of per-round ratios: each round measures a
row and its reference moments apart, which cancels most of the drift.
"""

from __future__ import annotations

import math
import statistics
from typing import Sequence


def median(values: Sequence[float]) -> float:
    """The median, or NaN for no values (a row that never ran)."""
    return statistics.median(values) if values else math.nan


def percentile(values: Sequence[float], pct: float) -> float:
    """The nearest-rank percentile (``pct`` in 0..100) of ``values``."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = math.ceil(pct / 100.0 * len(ordered))
    return ordered[min(max(rank, 1), len(ordered)) - 1]


def paired_ratio(rows: Sequence[float], refs: Sequence[float]) -> float:
    """Median over rounds of ``row / reference`` measured in the same round."""
    ratios = [r / ref for r, ref in zip(rows, refs) if ref > 0 and not math.isnan(r)]
    return median(ratios)
