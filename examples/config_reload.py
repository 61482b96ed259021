# SPDX-License-Identifier: MIT
"""Hot-reloaded configuration: workers never wait, old versions are released.

A server's workers read the configuration on every request; an operator
reloads it now and then.  With a lock, every reload (read the file,
validate, build) would stall the workers for as long as it takes.  With
RCU, the reloader builds the new version off to the side and publishes it
in one step; each request uses whichever version was current when it
started, start to finish, and a replaced version is released once the last
request that could be using it has finished (a grace period).

    python examples/config_reload.py --seconds 5 --workers 4
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import math
import random
import sys
import threading
import time
from dataclasses import dataclass
from typing import ClassVar, List, Optional, Tuple

from qemu_rcu import RcuCell, RcuGuard, drain_call_rcu

# How long building a configuration takes (parsing, validating, resolving):
# the time a lock-based reload would keep every worker waiting.
BUILD_SECONDS = 0.1


@dataclass(frozen=True)
class Config:
    """One version of the configuration.  Frozen: published versions never change."""

    version: int
    greeting: str
    backends: Tuple[str, ...]
    rate_limit: int

    released: ClassVar[int] = 0      # versions released so far

    def __rcu_reclaim__(self) -> None:
        # Runs a grace period after this version was replaced, on the RCU
        # callback thread: no request can be using it any more.  A real
        # config would close its log files or connection pools here.
        Config.released += 1


def build_config(version: int, rng: random.Random) -> Config:
    """Read and validate a new configuration (here: make one up, slowly)."""
    time.sleep(BUILD_SECONDS)
    count = rng.randint(1, 4)
    return Config(version=version, greeting=rng.choice(["hello", "hi", "welcome"]),
                  backends=tuple(f"backend-{version}-{i}" for i in range(count)),
                  rate_limit=100)


def tweak(old: Optional[Config], version: int) -> Config:
    """A new version derived from the current one: a higher rate limit."""
    assert old is not None
    return dataclasses.replace(old, version=version, rate_limit=old.rate_limit + 10)


class Server:
    def __init__(self, config: Config) -> None:
        self.config: RcuCell[Config] = RcuCell(config)

    def handle(self, request: int) -> str:
        """Serve one request with the configuration current at its start."""
        with RcuGuard() as guard:
            ref = self.config.get(guard)
            assert ref is not None            # the server always has a config
            cfg = ref.value
            # Every field comes from the same version, even if a reload
            # publishes a new one halfway through this request.
            backend = cfg.backends[request % len(cfg.backends)]
            return f"{cfg.greeting} from {backend} (config v{cfg.version})"


@dataclass
class WorkerStats:
    requests: int = 0
    during_reload: int = 0        # requests served while a reload was running
    max_latency_ns: int = 0
    total_latency_ns: int = 0
    newest_version: int = 0


def worker(server: Server, stats: WorkerStats, stop: threading.Event,
           reloading: threading.Event) -> None:
    request = 0
    while not stop.is_set():
        request += 1
        t0 = time.perf_counter_ns()
        response = server.handle(request)
        latency = time.perf_counter_ns() - t0
        stats.requests += 1
        stats.total_latency_ns += latency
        stats.max_latency_ns = max(stats.max_latency_ns, latency)
        if reloading.is_set():
            stats.during_reload += 1
        version = int(response.rsplit("v", 1)[1].rstrip(")"))
        stats.newest_version = max(stats.newest_version, version)


@dataclass
class ReloadStats:
    reloads: int = 0       # new versions built from scratch and published with set()
    tweaks: int = 0        # versions derived from the current one with update()
    max_build_ns: int = 0

    @property
    def published(self) -> int:
        return self.reloads + self.tweaks


def reloader(server: Server, stats: ReloadStats, stop: threading.Event,
             reloading: threading.Event, interval: float) -> None:
    rng = random.Random(42)
    version = 1
    while not stop.wait(interval):
        version += 1
        if version % 2:
            # A tweak: read-copy-update of the current version.  Writers of
            # one cell are serialised, so a concurrent tweak is never lost.
            server.config.update(functools.partial(tweak, version=version))
            stats.tweaks += 1
            continue
        # A full reload: build the new version while workers keep serving
        # the old one, then publish it in one step.  set() hands the old
        # version to a callback that releases it after a grace period.
        reloading.set()
        t0 = time.perf_counter_ns()
        new = build_config(version, rng)
        server.config.set(new)
        stats.max_build_ns = max(stats.max_build_ns, time.perf_counter_ns() - t0)
        reloading.clear()
        stats.reloads += 1


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="how long to run (3)")
    parser.add_argument("--workers", type=int, default=4, help="worker threads (4)")
    parser.add_argument("--interval", type=float, default=0.05,
                        help="seconds between reloads (0.05)")
    args = parser.parse_args(argv)
    if not 0 < args.seconds < math.inf or not 0 < args.interval < math.inf:
        parser.error("--seconds and --interval must be finite and greater than 0")
    if args.workers < 1:
        parser.error("--workers must be at least 1")

    server = Server(build_config(1, random.Random(0)))
    stop, reloading = threading.Event(), threading.Event()
    wstats = [WorkerStats() for _ in range(args.workers)]
    rstats = ReloadStats()
    threads = [threading.Thread(target=worker, args=(server, s, stop, reloading))
               for s in wstats]
    threads.append(threading.Thread(target=reloader,
                                    args=(server, rstats, stop, reloading, args.interval)))
    try:
        for t in threads:
            t.start()
        time.sleep(args.seconds)
    finally:                # on Ctrl-C too: the threads must stop
        stop.set()
        for t in threads:
            if t.ident is not None:     # it was started
                t.join()
    drain_call_rcu()        # every replaced version's release has run now

    requests = sum(s.requests for s in wstats)
    max_latency_ms = max(s.max_latency_ns for s in wstats) / 1e6
    mean_latency_us = sum(s.total_latency_ns for s in wstats) / max(requests, 1) / 1e3
    current = server.config.raw_get()
    print(f"{args.workers} workers, 1 reloader, {args.seconds:g} s")
    print(f"requests served: {requests:,}, "
          f"{sum(s.during_reload for s in wstats):,} of them while a reload was running")
    # With a lock, a request arriving during a reload would wait for all of
    # it.  The max here is Python threads taking turns with the GIL.
    print(f"max reader latency: {max_latency_ms:.2f} ms, mean {mean_latency_us:.1f} us "
          f"(turns at the GIL; no reader waited for a reload, which took up to "
          f"{rstats.max_build_ns / 1e6:.0f} ms)")
    print(f"versions published: {rstats.published} ({rstats.reloads} reloads, "
          f"{rstats.tweaks} tweaks); newest seen by a worker: "
          f"v{max(s.newest_version for s in wstats)}, current: "
          f"v{current.version if current else 0}")
    print(f"old versions released: {Config.released} of {rstats.published} replaced")
    # After drain_call_rcu() every replaced version must have been released.
    return 0 if Config.released == rstats.published else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)       # 128 + SIGINT, as shells report Ctrl-C
