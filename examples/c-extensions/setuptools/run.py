# SPDX-License-Identifier: MIT
"""Drive rcu_routes from Python: C readers, Python writer, one RCU domain.

    pip install --no-build-isolation examples/c-extensions/setuptools
    python examples/c-extensions/setuptools/run.py --seconds 3 --readers 2

Uses the installed rcu_routes module: publishes a routing table, starts C
reader threads that look up random addresses, then keeps changing routes
from Python for a while.  Every change publishes a new table; the old one
is freed by the C side's free_rcu() after a grace period.  The C readers
verify every table they walk; a damaged one (freed too early) makes the
program exit with status 1.
"""

from __future__ import annotations

import argparse
import importlib
import ipaddress
import math
import random
import sys
import time
from typing import Dict, List, Optional, Protocol, Sequence, Tuple, cast

from qemu_rcu import RcuGuard, drain_call_rcu, ffi, lib

Route = Tuple[int, int, int]          # (prefix, length, next hop), host order


class RcuRoutes(Protocol):
    """What rcu_routes.c exports, for the type checker."""

    def publish(self, routes: Sequence[Route], version: int) -> None: ...
    def lookup(self, addr: int) -> Optional[int]: ...
    def start_readers(self, count: int) -> None: ...
    def stop_readers(self) -> Dict[str, int]: ...
    def clear(self) -> None: ...
    def lock_held(self) -> bool: ...


def load() -> RcuRoutes:
    """Import the installed module; its PyInit calls import_qemu_rcu()."""
    try:
        module = importlib.import_module("rcu_routes")
    except ModuleNotFoundError as e:
        if e.name != "rcu_routes":
            raise
        raise SystemExit("rcu_routes is not installed; install it first with\n"
                         "    pip install --no-build-isolation examples/c-extensions/setuptools"
                         ) from None
    return cast(RcuRoutes, module)


def ip(text: str) -> int:
    return int(ipaddress.IPv4Address(text))


def route(network: str, nexthop: str) -> Route:
    net = ipaddress.IPv4Network(network)
    return int(net.network_address), net.prefixlen, ip(nexthop)


def callbacks_invoked() -> int:
    stats = ffi.new("struct rcu_stats *")
    lib.rcu_get_stats(stats)
    return int(stats.callbacks_invoked)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="how long to run (3)")
    parser.add_argument("--readers", type=int, default=2, help="C reader threads (2)")
    args = parser.parse_args(argv)
    if not 0 < args.seconds < math.inf:
        parser.error("--seconds must be finite and greater than 0")
    if args.readers < 1:
        parser.error("--readers must be at least 1")

    routes = load()
    table = [route("192.168.0.0/16", "192.0.2.1"), route("10.0.0.0/8", "192.0.2.10"),
             route("10.1.0.0/16", "192.0.2.11"), route("172.16.0.0/12", "192.0.2.20")]
    version = 1
    routes.publish(table, version)
    print(f"lookup(10.1.2.3) -> {ipaddress.IPv4Address(routes.lookup(ip('10.1.2.3')) or 0)}")

    # One RCU domain: a Python guard is a read-side section for C as well.
    with RcuGuard():
        print(f"inside a Python RcuGuard, C's rcu_read_lock_held(): {routes.lock_held()}")
    print(f"after it:                                  {routes.lock_held()}")

    callbacks_before = callbacks_invoked()
    routes.start_readers(args.readers)
    try:
        rng = random.Random(7)
        python_lookups = 0
        deadline = time.monotonic() + args.seconds
        while time.monotonic() < deadline:
            # Change the table: add a /24 somewhere in 10/8, or drop one.
            extra = table[4:]
            if extra and rng.random() < 0.4:
                extra.remove(rng.choice(extra))
            else:
                net = f"10.{rng.randrange(256)}.{rng.randrange(256)}.0/24"
                extra.append(route(net, f"198.51.100.{rng.randrange(1, 255)}"))
            table = table[:4] + extra
            version += 1
            routes.publish(table, version)      # the old table: free_rcu() in C
            for _ in range(100):
                routes.lookup(rng.getrandbits(32))
                python_lookups += 1
            time.sleep(0.001)
    finally:                                # on Ctrl-C too: the C readers must stop
        counters = routes.stop_readers()
    # Python's drain also waits for C's free_rcu() callbacks: one queue.
    drain_call_rcu()

    print(f"{args.readers} C readers, {args.seconds:g} s: {counters['lookups']:,} lookups, "
          f"{counters['matched']:,} matched a route; newest table seen: "
          f"v{counters['newest_version']} of v{version}")
    print(f"Python lookups: {python_lookups:,}")
    print(f"tables replaced: {version - 1:,}; RCU callbacks run meanwhile: "
          f"{callbacks_invoked() - callbacks_before:,} (a free_rcu for each replaced table)")
    print(f"damaged tables seen: {counters['bad_tables']}")
    routes.clear()          # C's synchronize_rcu(), then free() of the last table
    print(f"after clear(): lookup(10.1.2.3) -> {routes.lookup(ip('10.1.2.3'))}")
    return 1 if counters["bad_tables"] else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)       # 128 + SIGINT, as shells report Ctrl-C
