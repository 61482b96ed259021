# SPDX-License-Identifier: MIT
"""``--plot PATH``: the ratio column of every table as a bar chart (PNG).

matplotlib is optional (the ``bench`` extra); without it the caller prints
PLOT_HINT instead.
"""

from __future__ import annotations

import importlib.util
import math
from typing import List

from .report import Table

PLOT_HINT = ("--plot needs matplotlib, which is not installed: "
             "pip install qemu-rcu[bench]")


def available() -> bool:
    return importlib.util.find_spec("matplotlib") is not None


def save(tables: List[Table], path: str, subtitle: str) -> None:
    """One panel per table: each row's ratio on a log axis, 1x marked."""
    import matplotlib

    matplotlib.use("Agg")          # files only, never a window
    import matplotlib.pyplot as plt

    panels = [t for t in tables if any(isinstance(r.get("ratio"), float) for r in t.rows)]
    if not panels:
        return
    heights = [max(1.5, 0.32 * len(t.rows) + 1.0) for t in panels]
    fig, axes = plt.subplots(len(panels), 1, figsize=(11, sum(heights)),
                             gridspec_kw={"height_ratios": heights}, squeeze=False)
    for ax, table in zip(axes[:, 0], panels):
        rows = [r for r in table.rows
                if isinstance(r.get("ratio"), float) and not math.isnan(float(str(r["ratio"])))]
        labels = [str(r["name"]) for r in rows]
        ratios = [float(str(r["ratio"])) for r in rows]
        ax.barh(range(len(rows)), ratios, color="tab:blue")
        ax.set_yticks(range(len(rows)), labels, fontsize=7)
        ax.invert_yaxis()
        ax.set_xscale("log")
        ax.axvline(1.0, color="black", linewidth=0.8)
        ax.set_title(table.title, fontsize=9)
        ax.set_xlabel("ratio to the table's reference (log scale; 1x = reference)", fontsize=7)
        for i, ratio in enumerate(ratios):
            ax.text(ratio, i, f" {ratio:.2f}x", va="center", fontsize=6)
    fig.suptitle(f"qemu-rcu bench: {subtitle}", fontsize=8)
    fig.tight_layout(rect=(0.0, 0.0, 1.0, 0.98))   # room for the suptitle
    fig.savefig(path, dpi=120)
    plt.close(fig)
