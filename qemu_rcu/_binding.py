"""The compiled module: cffi's ``ffi``/``lib`` plus the native read path.

Importing this sets the module up once: it publishes the ``_C_API`` capsule
and the C types (``RcuGuard``, ``RcuRef``, ``RcuCellBase``) on it.
"""

from __future__ import annotations

import os

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
