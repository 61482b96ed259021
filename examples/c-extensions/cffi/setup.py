# SPDX-License-Identifier: MIT
"""cffi_modules is a setup() keyword, added by cffi: it runs the ffibuilder in
build_rcu_config.py and compiles the C file it writes into the rcu_config
extension module."""

from setuptools import setup

setup(cffi_modules=["build_rcu_config.py:ffibuilder"])
