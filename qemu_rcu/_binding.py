# SPDX-License-Identifier: MIT
"""The compiled module: cffi's ``ffi``/``lib`` plus the native read path.

Importing this sets the module up once: it publishes the ``_C_API`` capsule
and the C types (``RcuGuard``, ``RcuRef``, ``RcuCellBase``) on it.
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
    from . import _qemu_rcu_cffi as _ext
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

ffi = _ext.ffi
lib = _ext.lib

if lib.qemu_rcu_py_setup() != 0:  # pragma: no cover - only on a broken build
    raise ImportError(
        "qemu_rcu: cannot set up the extension: "
        + ffi.string(lib.qemu_rcu_py_setup_error()).decode(errors="replace")
    )


def get_include() -> str:
    """The folder holding ``qemu_rcu.h``, for compiling C extensions."""
    here = os.path.dirname(os.path.abspath(__file__))
    installed = os.path.join(here, "include")
    if os.path.exists(os.path.join(installed, "qemu_rcu.h")):
        return installed
    # An editable install runs from the source tree.
    return os.path.join(os.path.dirname(here), "csrc")
