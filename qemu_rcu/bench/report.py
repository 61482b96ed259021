# SPDX-License-Identifier: MIT
"""Result tables: printing them, and saving them as JSON.

Every table says what was measured and how (iterations, rounds, medians,
what the ratio is relative to), and ends with the machine line (date, CPU,
Python), so a pasted table is never read without its context.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import platform
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional, TextIO, Union

Cell = Union[str, float, int, None]


@dataclass
class Column:
    key: str
    title: str
    fmt: str = ".2f"      # format spec for numbers
    suffix: str = ""      # printed after the number, e.g. "x" for ratios


@dataclass
class Table:
    key: str              # stable id, used in the JSON
    title: str            # what was measured
    method: str           # iterations, rounds, and what the ratio compares
    columns: List[Column]
    rows: List[Dict[str, Cell]] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)

    def add(self, name: str, **values: Cell) -> None:
        self.rows.append({"name": name, **values})


def count(n: int) -> str:
    """1e8 for powers of ten, 250,000 otherwise: how iteration counts read best."""
    exponent = len(str(n)) - 1
    return f"1e{exponent}" if n >= 1000 and n == 10 ** exponent else f"{n:,}"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def machine_info() -> Dict[str, str]:
    """Where and when: the context every table is printed with."""
    return {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu": _cpu_model(),
        "cpus": str(os.cpu_count() or "?"),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
    }


def machine_line(info: Dict[str, str]) -> str:
    return (f"{info['date']} | {info['cpu']} ({info['cpus']} CPUs) | "
            f"{info['python']} | {info['platform']}")


def _format(value: Cell, column: Column) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, str):
        return value
    return f"{value:{column.fmt}}{column.suffix}"


def render(table: Table, info: Dict[str, str]) -> str:
    """The table as text, name column left-aligned and numbers right-aligned."""
    names = [str(row["name"]) for row in table.rows]
    cells = [[_format(row.get(c.key), c) for c in table.columns] for row in table.rows]
    name_width = max([len("what"), *map(len, names)])
    widths = [max([len(c.title), *(len(r[i]) for r in cells)])
              for i, c in enumerate(table.columns)]
    header = "what".ljust(name_width) + "".join(
        "  " + c.title.rjust(w) for c, w in zip(table.columns, widths))
    lines = [f"== {table.title} ==", table.method, header, "-" * len(header)]
    for name, row in zip(names, cells):
        lines.append(name.ljust(name_width)
                     + "".join("  " + v.rjust(w) for v, w in zip(row, widths)))
    lines.extend(f"note: {n}" for n in table.notes)
    lines.append(machine_line(info))
    return "\n".join(lines)


def print_tables(tables: List[Table], info: Dict[str, str], out: TextIO) -> None:
    for table in tables:
        print(render(table, info), file=out, end="\n\n", flush=True)


def _json_safe(value: object) -> object:
    # JSON has no NaN; a row that could not be measured is null.
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def save_json(path: str, tables: List[Table], info: Dict[str, str],
              settings: Optional[Dict[str, object]] = None) -> None:
    doc = {
        "machine": info,
        "settings": settings or {},
        "tables": [asdict(t) for t in tables],
    }
    with open(path, "w", encoding="utf-8") as f:
        json.dump(_json_safe(doc), f, indent=2)
        f.write("\n")
