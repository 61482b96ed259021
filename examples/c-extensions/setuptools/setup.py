# SPDX-License-Identifier: MIT
"""The extension itself: setuptools has no pyproject.toml syntax for it.

The include folder comes from the installed qemu_rcu, so qemu-rcu is listed
in pyproject.toml's build-system requires.  Nothing is linked against it:
the module reaches the RCU core through the capsule at import time.
"""

from setuptools import Extension, setup

import qemu_rcu

setup(
    ext_modules=[
        Extension(
            "rcu_routes",
            sources=["rcu_routes.c"],
            include_dirs=[qemu_rcu.get_include()],
            extra_compile_args=["-std=gnu11", "-pthread", "-Wall", "-Wextra"],
            extra_link_args=["-pthread"],
        )
    ],
)
