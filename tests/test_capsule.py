# SPDX-License-Identifier: MIT
"""A C extension that includes only qemu_rcu.h shares the package's RCU domain."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sysconfig
from pathlib import Path
from types import ModuleType
from typing import List

import pytest

import qemu_rcu
from qemu_rcu import synchronize_rcu

HERE = Path(__file__).parent


def build_extension(name: str, sources: List[str], where: Path) -> ModuleType:
    """Compile a C extension against the installed header and import it."""
    cc = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler")
    out = where / (name + sysconfig.get_config_var("EXT_SUFFIX"))
    subprocess.run(
        [cc, "-shared", "-fPIC", "-fvisibility=hidden", "-O2", "-Wall", "-Wextra", "-Werror",
         "-pthread", "-I", qemu_rcu.get_include(), "-I", sysconfig.get_paths()["include"],
         *(str(HERE / "c_consumer" / src) for src in sources), "-o", str(out)],
        check=True, timeout=120,
    )
    spec = importlib.util.spec_from_file_location(name, out)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def consumer(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    return build_extension("rcu_consumer", ["consumer.c"], tmp_path_factory.mktemp("consumer"))


def test_header_is_installed() -> None:
    assert (Path(qemu_rcu.get_include()) / "qemu_rcu.h").is_file()


def test_a_c_reader_holds_up_synchronize_from_python(consumer: ModuleType) -> None:
    consumer.start_reader()
    try:
        assert synchronize_rcu(timeout=0.3) is False
    finally:
        consumer.stop_reader()
    assert synchronize_rcu(timeout=30) is True


def test_sections_are_shared_with_python(consumer: ModuleType) -> None:
    consumer.lock()
    try:
        assert qemu_rcu.read_lock_held()
        assert consumer.lock_held()
    finally:
        consumer.unlock()
    assert not qemu_rcu.read_lock_held()
    with qemu_rcu.RcuGuard():
        assert consumer.lock_held()


def test_call_rcu_and_free_rcu_from_c(consumer: ModuleType) -> None:
    consumer.publish(1, False)
    consumer.publish(2, False)     # retires 1 through call_rcu
    consumer.publish(3, True)      # retires 2 through free_rcu
    assert consumer.read_value() == 3
    assert consumer.drain() >= 1


def test_files_of_one_extension_can_share_the_api_pointer(tmp_path: Path) -> None:
    shared = build_extension("rcu_shared", ["shared_main.c", "shared_other.c"], tmp_path)
    assert shared.f() == 1       # the second file used the pointer the first one imported
