# SPDX-License-Identifier: MIT
"""A C extension that includes only qemu_rcu.h shares the package's RCU domain."""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sysconfig
import textwrap
from pathlib import Path
from types import ModuleType
from typing import Any, List, Sequence

import pytest

import qemu_rcu
from qemu_rcu import synchronize_rcu

HERE = Path(__file__).parent


def compile_extension(name: str, sources: List[str], where: Path,
                      language: Sequence[str] = ()) -> Path:
    """Compile a C extension against the installed header; its path.

    ``language`` is a compiler with its language options, e.g.
    ``["g++", "-x", "c++", "-std=c++17"]``; by default $CC or cc.
    """
    language = list(language) or [os.environ.get("CC", "cc")]
    compiler = shutil.which(language[0])
    if compiler is None:
        pytest.skip(f"no {language[0]} compiler")
    out = where / (name + str(sysconfig.get_config_var("EXT_SUFFIX")))
    subprocess.run(
        [compiler, *language[1:], "-shared", "-fPIC", "-fvisibility=hidden", "-O2", "-Wall",
         "-Wextra", "-Werror", "-pthread", "-I", qemu_rcu.get_include(),
         "-I", sysconfig.get_paths()["include"],
         *(str(HERE / "c_consumer" / src) for src in sources), "-o", str(out)],
        check=True, timeout=120,
    )
    return out


def build_extension(name: str, sources: List[str], where: Path) -> ModuleType:
    """Compile a C extension against the installed header and import it."""
    out = compile_extension(name, sources, where)
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


# ISO C and C++ with every warning: the header must not need GNU C.
STRICT = {
    "c11": ["gcc", "-std=c11", "-Wpedantic"],
    "c++17": ["g++", "-x", "c++", "-std=c++17", "-Wpedantic"],
}


@pytest.fixture(scope="module", params=list(STRICT))
def strict(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp(f"strict-{request.param}")
    compile_extension("rcu_strict", ["strict.c"], where, STRICT[request.param])
    return where


def run_strict(python: Any, folder: Path, code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter that can import rcu_strict."""
    result: subprocess.CompletedProcess[str] = python(
        f"import sys\nsys.path.insert(0, {str(folder)!r})\n{textwrap.dedent(code)}")
    return result


def test_every_macro_compiles_pedantic_and_as_cxx_and_works(python: Any, strict: Path) -> None:
    result = run_strict(python, strict, """
        import qemu_rcu, rcu_strict
        assert rcu_strict.import_with_gil() is None
        print(rcu_strict.exercise())
    """)
    assert result.returncode == 0, result.stderr
    # Read under both guards, the last value published, one call_rcu callback run.
    assert result.stdout.strip() == "(1, 1, 3, 1)"


def test_import_without_the_gil_and_from_a_c_thread(python: Any, strict: Path) -> None:
    result = run_strict(python, strict, """
        import qemu_rcu, rcu_strict
        print(rcu_strict.import_without_gil(), rcu_strict.import_from_c_thread())
        print(rcu_strict.exercise())
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:2] == ["0 0", "(1, 1, 3, 1)"]


def test_a_failed_import_reports_where_it_can(python: Any, strict: Path) -> None:
    result = run_strict(python, strict, """
        import rcu_strict
        sys.modules["qemu_rcu"] = None           # the package cannot be imported
        print(rcu_strict.import_without_gil())   # nobody to raise to: printed
        try:
            rcu_strict.import_with_gil()
        except ImportError as exc:
            print("raised", type(exc).__name__)
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["-1", "raised", "ImportError"]
    assert result.stderr.count("qemu-rcu: import_qemu_rcu() failed:\nImportError: ") == 1


def test_an_rcu_call_before_the_import_stops_with_a_message(python: Any, strict: Path) -> None:
    result = run_strict(python, strict, """
        import qemu_rcu, rcu_strict
        rcu_strict.lock_before_import()
    """)
    assert result.returncode == -signal.SIGABRT
    assert ("qemu-rcu: fatal: an RCU function was called before import_qemu_rcu() "
            "succeeded" in result.stderr)


MISUSE = {
    "rcu_head not first": ("struct n { int v; struct rcu_head rcu; };\n"
                           "static void f(struct n *p) { (void)p; }\n"
                           "void g(struct n *p) { call_rcu(p, f, rcu); }\n",
                           "the rcu_head must be the first member"),
    "free_rcu, rcu_head not first": ("struct n { int v; struct rcu_head rcu; };\n"
                                     "void g(struct n *p) { free_rcu(p, rcu); }\n",
                                     "the rcu_head must be the first member"),
    "callback of another type": ("struct n { struct rcu_head rcu; int v; };\n"
                                 "static void f(int *p) { (void)p; }\n"
                                 "void g(struct n *p) { call_rcu(p, f, rcu); }\n",
                                 "fn must take a pointer to the object"),
}


@pytest.mark.parametrize("language", list(STRICT))
@pytest.mark.parametrize("case", list(MISUSE))
def test_call_rcu_and_free_rcu_refuse_wrong_arguments_at_compile_time(
        tmp_path: Path, language: str, case: str) -> None:
    body, message = MISUSE[case]
    compiler = STRICT[language]
    if shutil.which(compiler[0]) is None:
        pytest.skip(f"no {compiler[0]} compiler")
    source = tmp_path / "misuse.c"
    source.write_text("#include <Python.h>\n#include \"qemu_rcu.h\"\n" + body)
    result = subprocess.run(
        [*compiler, "-fsyntax-only", "-I", qemu_rcu.get_include(),
         "-I", sysconfig.get_paths()["include"], str(source)],
        capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    if language == "c11" or "head" in case:
        assert message in result.stderr, result.stderr
    else:
        # C++ refuses the cast of fn to the object's callback type.
        assert "static_cast" in result.stderr, result.stderr
