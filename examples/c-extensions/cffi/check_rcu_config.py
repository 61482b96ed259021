# SPDX-License-Identifier: MIT
"""Check the installed rcu_config against qemu_rcu: exit 0, or 1 with a message.

    python check_rcu_config.py      (from any folder, once it is installed)

A Python RcuGuard is a read-side section for the cffi code too: the old
configuration that C hands to call_rcu() inside it is reclaimed only after
the guard ends, and qemu_rcu.drain_call_rcu() (Python) or config_drain()
(C's drain_call_rcu()) waits for that callback.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any, List, Protocol, Tuple, cast

import qemu_rcu
from qemu_rcu import RcuGuard


class Lib(Protocol):
    """The functions declared in build_rcu_config.py's cdef."""

    def config_init(self) -> int: ...
    def config_publish(self, version: int, limit: int) -> int: ...
    def config_read(self, version: Any) -> int: ...
    def config_in_section(self) -> bool: ...
    def config_drain(self) -> int: ...
    def config_reclaimed(self) -> int: ...


def main() -> int:
    failures: List[str] = []

    def expect(ok: bool, what: str) -> None:
        print(("ok   " if ok else "FAIL ") + what)
        if not ok:
            failures.append(what)

    module = importlib.import_module("rcu_config")
    ffi, lib = module.ffi, cast(Lib, module.lib)
    # cffi modules have no init hook: the first call imports the capsule.
    if lib.config_init() != 0:
        print("FAIL config_init(): import_qemu_rcu() failed (see above)")
        return 1

    def read() -> Tuple[int, int]:
        version = ffi.new("long *")
        limit = lib.config_read(version)
        return int(version[0]), limit

    expect(read()[1] == -1, "nothing published yet")
    lib.config_publish(1, 100)
    expect(read() == (1, 100), "config_read() under WITH_RCU_READ_LOCK_GUARD()")

    qemu_rcu.drain_call_rcu()
    with RcuGuard():
        expect(lib.config_in_section(), "a Python RcuGuard is a section for C")
        lib.config_publish(2, 200)                 # call_rcu() of config 1
        expect(read() == (2, 200), "readers see the new config at once")
        expect(lib.config_drain() == -1, "config_drain() refuses inside the section")
        expect(lib.config_reclaimed() == 0, "the old config outlives the section")
    expect(qemu_rcu.drain_call_rcu(timeout=30), "Python's drain_call_rcu() returns")
    expect(lib.config_reclaimed() == 1, "C's call_rcu() callback ran after the section")

    for version in range(3, 50):
        lib.config_publish(version, version * 100)
    expect(lib.config_drain() == 0, "C's drain_call_rcu()")
    expect(lib.config_reclaimed() == 48, "every replaced config was reclaimed")
    expect(read() == (49, 4900), "the last config is still published")

    print(f"{len(failures)} failure(s)" if failures else "all checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
