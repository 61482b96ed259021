# SPDX-License-Identifier: MIT
"""The public surface that docs/api.md promises."""

from __future__ import annotations

import qemu_rcu


def test_the_documented_import_works() -> None:
    from qemu_rcu import (  # noqa: F401
        RcuCell,
        RcuDeadlockError,
        RcuError,
        RcuGuard,
        RcuGuardExpired,
        RcuRef,
        RcuThreadError,
        call_rcu,
        drain_call_rcu,
        read_lock,
        read_lock_held,
        register_thread,
        synchronize_rcu,
        unregister_thread,
    )


def test_every_name_in_all_exists() -> None:
    for name in qemu_rcu.__all__:
        assert hasattr(qemu_rcu, name), name


def test_error_hierarchy() -> None:
    for exc in (qemu_rcu.RcuGuardExpired, qemu_rcu.RcuThreadError, qemu_rcu.RcuDeadlockError):
        assert issubclass(exc, qemu_rcu.RcuError)
    assert issubclass(qemu_rcu.RcuError, RuntimeError)


def test_raw_cffi_module_uses_qemu_names() -> None:
    lib = qemu_rcu.lib
    for name in ("rcu_read_lock", "rcu_read_unlock", "synchronize_rcu", "call_rcu1",
                 "drain_call_rcu", "rcu_register_thread", "rcu_unregister_thread",
                 "synchronize_rcu_expedited", "get_state_synchronize_rcu",
                 "poll_state_synchronize_rcu", "rcu_get_stats"):
        assert callable(getattr(lib, name)), name


def test_polled_grace_periods() -> None:
    lib = qemu_rcu.lib
    qemu_rcu.drain_call_rcu()          # the callback thread is idle: no grace period runs
    cookie = lib.get_state_synchronize_rcu()
    assert not lib.poll_state_synchronize_rcu(cookie)
    lib.synchronize_rcu()
    assert lib.poll_state_synchronize_rcu(cookie)


def test_capsule_is_published_by_the_module_that_owns_the_core() -> None:
    assert type(qemu_rcu._native._C_API).__name__ == "PyCapsule"


def test_the_c_sources_ship_for_tools_that_compile_them() -> None:
    from pathlib import Path

    from qemu_rcu._binding import sources

    root = Path(sources())
    for name in ("core/rcu.c", "core/domain.c", "core/qemu_rcu.h", "core/rcu_internal.h",
                 "core/tests/testutil.h", "core/tests/test_grace.c", "torture/torture.c",
                 "torture/torture.h"):
        assert (root / name).is_file(), name
