# SPDX-License-Identifier: MIT
"""One round of the C benchmark, in a process of its own.

``python -m qemu_rcu.bench.native_worker MODULE SPEC_JSON`` loads the
compiled ``_qemu_rcu_bench_c``, runs every loop once and prints the results
as JSON.  A process per round and configuration is how the parent measures
the core with and without membarrier: the core reads QEMU_RCU_MEMBARRIER
once, when it starts.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from types import ModuleType
from typing import Any, Dict, List

from .stats import median, percentile

# What bench_sync_latency() calls its modes (enum bench_sync_mode).
SYNC_MODES = {"alone": 0, "idle4": 1, "reader": 2}
# Implementations with a write side (grace periods and callbacks).
WRITERS = ("ours_exported", "urcu_memb", "urcu_mb")


def load(path: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location("_qemu_rcu_bench_c", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rotate(items: List[str], by: int) -> List[str]:
    # Each round starts with a different row, so no row always runs first
    # (cold caches, frequency ramp-up).
    if not items:
        return items
    by %= len(items)
    return items[by:] + items[:by]


def run_round(mod: Any, spec: Dict[str, Any]) -> Dict[str, Any]:
    """Run each requested loop once; times in ns, under results[implementation]."""
    compiled = set(mod.implementations())
    impls = _rotate([i for i in spec["impls"] if i in compiled], int(spec["round"]))
    writers = [i for i in impls if i in WRITERS]
    for impl in impls:
        mod.setup(impl)
    results: Dict[str, Dict[str, Any]] = {impl: {} for impl in impls}
    n = int(spec["pairs_n"])
    for impl in impls:
        results[impl]["pairs"] = mod.read_pairs(impl, n) / n
    for mode, code in SYNC_MODES.items():
        for impl in writers:
            times = mod.sync_latency(impl, code, int(spec["sync_n"]))
            results[impl].setdefault("sync", {})[mode] = {
                "median": median(times), "p99": percentile(times, 99)}
    n = int(spec["callbacks_n"])
    for impl in writers:
        # A first run pays for page faults on fresh callback memory; only a
        # second one measures the queue.
        mod.call_rcu(impl, n)
        ran, enqueue_ns, total_ns = mod.call_rcu(impl, n)
        if ran != n:
            raise RuntimeError(f"{impl}: {ran} of {n} callbacks ran")
        results[impl]["callbacks"] = {"enqueue": enqueue_ns / n, "total": float(total_ns)}
    return {"membarrier": bool(mod.membarrier_active()), "results": results}


def main(argv: List[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m qemu_rcu.bench.native_worker MODULE SPEC_JSON",
              file=sys.stderr)
        return 2
    mod = load(argv[0])
    print(json.dumps(run_round(mod, json.loads(argv[1]))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
