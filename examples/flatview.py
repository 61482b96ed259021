# SPDX-License-Identifier: MIT
"""QEMU's memory map pattern: dispatch through an RCU-published FlatView.

In QEMU, every access a guest makes to an address (a load, a DMA, an MMIO
write) is routed through the AddressSpace's current *FlatView*: the memory
map rendered into a sorted list of non-overlapping ranges, each pointing at
the MemoryRegion that owns it.  Accesses happen all the time on many
threads; the map changes rarely (a device is plugged, a BAR moves).  So
readers never lock: they look the address up in whatever FlatView is
current, inside an RCU read-side section.  The writer renders a new
FlatView from scratch, publishes it, and the old one is freed only after a
grace period, when no dispatcher can still be walking it.

This program does the same with qemu_rcu: dispatcher threads translate
random addresses while a writer adds, moves and removes regions.  Each
FlatView marks itself dead in ``__rcu_reclaim__`` (run after its grace
period), and each removed region is marked unplugged by ``call_rcu``; a
dispatcher that ever saw a dead view or an unplugged region would mean RCU
failed, and the program exits with status 1.

    python examples/flatview.py --seconds 5 --dispatchers 4
"""

from __future__ import annotations

import argparse
import bisect
import math
import random
import sys
import threading
import time
from dataclasses import dataclass
from typing import ClassVar, Dict, List, Optional, Tuple

from qemu_rcu import RcuCell, RcuGuard, call_rcu, drain_call_rcu, ffi, lib

# The guest-physical address space the writer places regions in.
ADDRESS_SPACE_SIZE = 1 << 32
PAGE = 1 << 12


class MemoryRegion:
    """Something the guest can access: RAM, a device's registers, a ROM.

    ``plugged`` goes False once the region has been removed from the map
    *and* a grace period has passed: only then may a real device be freed.
    """

    def __init__(self, name: str, size: int, priority: int) -> None:
        self.name = name
        self.size = size
        self.priority = priority   # where regions overlap, the higher one wins
        self.plugged = True

    def unplug(self) -> None:
        self.plugged = False

    def __repr__(self) -> str:
        return f"<MemoryRegion {self.name} size={self.size:#x} prio={self.priority}>"


@dataclass(frozen=True)
class FlatRange:
    """[start, end) of the address space, served by ``region`` at ``offset``."""

    start: int
    end: int
    region: MemoryRegion
    offset: int       # offset into the region of ``start``


class FlatView:
    """An immutable rendering of the map: sorted, non-overlapping ranges.

    Nothing changes a FlatView after it is published, which is what lets
    readers use it without a lock.  The one exception is ``dead``, set by
    ``__rcu_reclaim__`` once no reader can hold the view any more.
    """

    reclaimed: ClassVar[int] = 0    # views reclaimed so far (callback thread only)

    def __init__(self, ranges: List[FlatRange], generation: int) -> None:
        self.ranges = ranges
        self.starts = [r.start for r in ranges]      # for bisect
        self.generation = generation
        self.dead = False

    def translate(self, addr: int) -> Optional[Tuple[MemoryRegion, int]]:
        """The region that serves ``addr`` and the offset into it, or None."""
        i = bisect.bisect_right(self.starts, addr) - 1
        if i < 0:
            return None
        r = self.ranges[i]
        if addr >= r.end:
            return None              # a hole between ranges: unassigned
        return r.region, r.offset + (addr - r.start)

    def __rcu_reclaim__(self) -> None:
        # Runs on the RCU callback thread a grace period after this view
        # stopped being current.  QEMU frees the FlatView here (and drops
        # its references to the regions); we only mark it.
        self.dead = True
        FlatView.reclaimed += 1


def render(regions: Dict[str, Tuple[int, MemoryRegion]], generation: int) -> FlatView:
    """Render (base, region) placements into a FlatView.

    Cut the address space at every region boundary; each piece belongs to
    the highest-priority region covering it; merge neighbouring pieces of
    the same region.  Quadratic, which is fine for a few dozen regions.
    """
    cuts = sorted({p for base, mr in regions.values() for p in (base, base + mr.size)})
    ranges: List[FlatRange] = []
    for start, end in zip(cuts, cuts[1:]):
        covering = [(mr.priority, base, mr) for base, mr in regions.values()
                    if base <= start and end <= base + mr.size]
        if not covering:
            continue
        _, base, mr = max(covering, key=lambda c: c[0])
        last = ranges[-1] if ranges else None
        if last is not None and last.region is mr and last.end == start:
            ranges[-1] = FlatRange(last.start, end, mr, last.offset)
        else:
            ranges.append(FlatRange(start, end, mr, start - base))
    return FlatView(ranges, generation)


class AddressSpace:
    """Owns the regions (writer side) and publishes the current FlatView."""

    def __init__(self, name: str) -> None:
        self.name = name
        # Writer-side state; only the writer thread touches it.
        self._regions: Dict[str, Tuple[int, MemoryRegion]] = {}
        self._generation = 0
        # What dispatchers read (QEMU: AddressSpace::current_map).
        self.current_map: RcuCell[FlatView] = RcuCell(render({}, 0))

    def _commit(self) -> None:
        # QEMU's memory_region_transaction_commit(): render and publish.
        # set() hands the previous view to call_rcu: it is reclaimed (its
        # __rcu_reclaim__ runs) once every reader that could see it is gone.
        self._generation += 1
        self.current_map.set(render(self._regions, self._generation))

    def add(self, base: int, mr: MemoryRegion) -> None:
        self._regions[mr.name] = (base, mr)
        self._commit()

    def move(self, name: str, new_base: int) -> None:
        _, mr = self._regions[name]
        self._regions[name] = (new_base, mr)
        self._commit()

    def remove(self, name: str) -> None:
        _, mr = self._regions.pop(name)
        self._commit()
        # Dispatchers may still be inside a view that maps mr.  call_rcu
        # callbacks of one thread run in order, after a grace period: this
        # runs after the old view's reclaim, when nobody can reach mr.
        call_rcu(mr.unplug)

    def region_names(self) -> List[str]:
        return list(self._regions)


@dataclass
class DispatchStats:
    """One dispatcher's counters (only that thread writes them)."""

    dispatches: int = 0
    hits: int = 0
    dead_views: int = 0
    dead_regions: int = 0


def dispatcher(space: AddressSpace, stats: DispatchStats, stop: threading.Event,
               seed: int) -> None:
    """Translate random addresses through the current FlatView until stopped."""
    rng = random.Random(seed)
    while not stop.is_set():
        addr = rng.randrange(ADDRESS_SPACE_SIZE)
        with RcuGuard() as guard:
            ref = space.current_map.get(guard)
            if ref is None:
                continue
            view = ref.value            # valid until the guard ends
            hit = view.translate(addr)
            if hit is not None:
                mr, _offset = hit
                # A real dispatcher would call mr's read/write handler with
                # _offset here; the region must still be plugged in.
                if not mr.plugged:
                    stats.dead_regions += 1
                stats.hits += 1
            # Checked at the end of the section: the view must survive it.
            if view.dead:
                stats.dead_views += 1
        stats.dispatches += 1


@dataclass
class WriterStats:
    added: int = 0
    moved: int = 0
    removed: int = 0

    @property
    def updates(self) -> int:
        return self.added + self.moved + self.removed


def writer(space: AddressSpace, stats: WriterStats, stop: threading.Event,
           seed: int, max_regions: int = 24) -> None:
    """Plug, move and unplug regions, publishing a new FlatView each time."""
    rng = random.Random(seed)
    serial = 0

    def random_base(size: int) -> int:
        return rng.randrange(0, ADDRESS_SPACE_SIZE - size, PAGE)

    while not stop.is_set():
        names = space.region_names()
        action = rng.random()
        if not names or (action < 0.4 and len(names) < max_regions):
            serial += 1
            size = rng.choice([PAGE, 16 * PAGE, 1 << 24, 1 << 28])
            kind = "ram" if size >= 1 << 24 else "mmio"
            mr = MemoryRegion(f"{kind}{serial}", size, priority=rng.randrange(4))
            space.add(random_base(size), mr)
            stats.added += 1
        elif action < 0.7:
            name = rng.choice(names)
            space.move(name, random_base(1 << 28))
            stats.moved += 1
        else:
            space.remove(rng.choice(names))
            stats.removed += 1
        time.sleep(0.001)     # maps change far less often than they are read


def grace_periods() -> int:
    stats = ffi.new("struct rcu_stats *")
    lib.rcu_get_stats(stats)
    return int(stats.grace_periods)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="how long to run (3)")
    parser.add_argument("--dispatchers", type=int, default=4, help="reader threads (4)")
    args = parser.parse_args(argv)
    if not 0 < args.seconds < math.inf:
        parser.error("--seconds must be finite and greater than 0")
    if args.dispatchers < 1:
        parser.error("--dispatchers must be at least 1")

    space = AddressSpace("memory")
    stop = threading.Event()
    dstats = [DispatchStats() for _ in range(args.dispatchers)]
    wstats = WriterStats()
    gp0 = grace_periods()
    threads = [threading.Thread(target=dispatcher, args=(space, s, stop, i))
               for i, s in enumerate(dstats)]
    threads.append(threading.Thread(target=writer, args=(space, wstats, stop, 1000)))
    try:
        for t in threads:
            t.start()
        time.sleep(args.seconds)
    finally:               # on Ctrl-C too: the threads must stop
        stop.set()
        for t in threads:
            if t.ident is not None:     # it was started
                t.join()
    drain_call_rcu()       # let the last views and regions be reclaimed

    dispatches = sum(s.dispatches for s in dstats)
    hits = sum(s.hits for s in dstats)
    dead_views = sum(s.dead_views for s in dstats)
    dead_regions = sum(s.dead_regions for s in dstats)
    view = space.current_map.raw_get()
    print(f"{args.dispatchers} dispatchers, 1 writer, {args.seconds:g} s")
    print(f"dispatches: {dispatches:,} ({hits:,} hit a region)")
    print(f"updates: {wstats.updates:,} ({wstats.added} added, {wstats.moved} moved, "
          f"{wstats.removed} removed)")
    print(f"views reclaimed: {FlatView.reclaimed:,} of {wstats.updates:,} replaced; "
          f"the current one (generation {view.generation if view else 0}, "
          f"{len(view.ranges) if view else 0} ranges) stays")
    print(f"grace periods: {grace_periods() - gp0:,}")
    print(f"dead views touched: {dead_views}")
    print(f"unplugged regions touched: {dead_regions}")
    return 1 if dead_views or dead_regions else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)       # 128 + SIGINT, as shells report Ctrl-C
