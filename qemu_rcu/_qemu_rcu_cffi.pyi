# SPDX-License-Identifier: MIT
# Types of qemu_rcu._qemu_rcu_cffi: cffi's ffi and lib (qemu_rcu/_build.py).
from typing import Any

ffi: Any
lib: Any
