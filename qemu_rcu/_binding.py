# SPDX-License-Identifier: MIT
"""The two compiled modules, imported in order.

``_native`` owns the RCU domain: its init function exports the capsule
``qemu_rcu._native._C_API``.  ``_qemu_rcu_cffi`` (``ffi``, ``lib``) is cffi's
binding of the public C API, and reaches that domain through the capsule;
cffi modules have no init hook, so we make its one import call here.
"""

from __future__ import annotations

import importlib
import os


def _in_subinterpreter() -> bool:
    """True in any interpreter but the main one (as far as CPython says)."""
    for name in ("_interpreters", "_xxsubinterpreters"):     # 3.13+, 3.9-3.12
        try:
            interpreters = importlib.import_module(name)
        except ImportError:
            continue
        current, main = interpreters.get_current(), interpreters.get_main()
        if isinstance(current, tuple):                          # 3.13+: (id, whence)
            current, main = current[0], main[0]
        return int(current) != int(main)
    return False


# The RCU core is one per process, and its callback thread runs Python
# callbacks in the main interpreter; a subinterpreter sharing it could only
# break the main interpreter's callbacks (and its own exit would stop them).
if _in_subinterpreter():
    raise ImportError(
        "qemu_rcu cannot be imported in a subinterpreter: its RCU domain and "
        "callback thread belong to the main interpreter. Import it there.")

try:
    from . import _native  # noqa: F401 - first: it owns the RCU domain and the capsule
except ImportError as exc:  # pragma: no cover - depends on how it was run
    _root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if os.path.exists(os.path.join(_root, "meson.build")):
        raise ImportError(
            "qemu_rcu was imported from its source tree, which has no compiled "
            "extension. Install it (pip install .), or use an editable install "
            "(pip install --no-build-isolation -e .), and run the tests with "
            "`pytest` or `python -P -m pytest` rather than `python -m pytest`."
        ) from exc
    raise

from . import _qemu_rcu_cffi as _lib_module  # noqa: E402 - needs _native first

ffi = _lib_module.ffi
lib = _lib_module.lib

if lib.qemu_rcu_lib_import() != 0:  # pragma: no cover - only on a broken build
    raise ImportError("qemu_rcu: the cffi module cannot import the C API capsule "
                      "(the reason is printed above)")


def sources() -> str:
    """The folder holding the C sources: ``core/`` (with ``tests/``) and ``torture/``.

    For tools that compile the core into a program of their own at run time.
    """
    here = os.path.dirname(os.path.abspath(__file__))
    installed = os.path.join(here, "csrc")
    if os.path.exists(os.path.join(installed, "core", "rcu.c")):
        return installed
    # An editable install runs from the source tree.
    return os.path.join(os.path.dirname(here), "csrc")


def get_include() -> str:
    """The folder holding ``qemu_rcu.h``, for compiling C extensions."""
    here = os.path.dirname(os.path.abspath(__file__))
    installed = os.path.join(here, "include")
    if os.path.exists(os.path.join(installed, "qemu_rcu.h")):
        return installed
    # An editable install runs from the source tree.
    return os.path.join(os.path.dirname(here), "csrc", "core")


def membarrier_in_use() -> bool:
    """True if readers skip their fence because writers use membarrier."""
    stats = ffi.new("struct rcu_stats *")
    lib.rcu_get_stats(stats)
    return bool(stats.membarrier)
