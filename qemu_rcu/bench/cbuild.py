# SPDX-License-Identifier: MIT
"""Compile the benchmark's C code at bench time.

Two kinds of build share the compiler discovery, the cache and the error
reports here:

- the C extension ``_qemu_rcu_bench_c`` (``build``), built the way a user's
  C extension would be: the system C compiler, ``qemu_rcu.get_include()``
  and the Python headers, no build system;
- plain C programs (``build_program``), for the workloads part: one
  command line from sources to executable, as a C program links the core
  (``qemu_rcu._binding.sources()``) or liburcu.

Every result is cached under a name that hashes everything that goes into
it, so a second run starts at once.  liburcu is optional: when its headers
or libraries are missing its rows are left out, and the reason says exactly
what to install.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import subprocess
import sysconfig
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List, Optional, Sequence

HERE = Path(__file__).resolve().parent
SOURCES = ("bench_c.c", "bench_call_rcu.h", "bench_harness.c", "bench_harness.h",
           "bench_urcu.c")
CFLAGS = ("-O2", "-fPIC", "-pthread", "-Wall", "-Wextra")
PROGRAM_CFLAGS = ("-std=gnu11", "-O2", "-pthread", "-Wall", "-Wextra")
LIBURCU_LIBS = ("-lurcu-memb", "-lurcu-mb")
LIBURCU_MISSING = "liburcu was not found, so its rows are skipped"
LIBURCU_INSTALL = ("sudo apt-get install liburcu-dev  (Debian, Ubuntu; "
                   "Fedora: sudo dnf install userspace-rcu-devel)")
LIBURCU_INSTALL_HINT = (f"{LIBURCU_MISSING}. To measure against it, install it and "
                        f"run the bench again:\n    {LIBURCU_INSTALL}")


class BuildError(RuntimeError):
    """The benchmark's own C code did not compile (not a missing liburcu)."""


@dataclass
class CBuild:
    path: Path                 # the compiled extension module
    liburcu: bool              # liburcu's rows are compiled in
    liburcu_problem: str = ""  # why they are not, and what to install


def find_compiler() -> Optional[List[str]]:
    """$CC, else the compiler Python was built with, else cc/gcc/clang."""
    for candidate in (os.environ.get("CC"), sysconfig.get_config_var("CC")):
        if candidate:
            words = shlex.split(candidate)
            if words and shutil.which(words[0]):
                return words
    for name in ("cc", "gcc", "clang"):
        path = shutil.which(name)
        if path:
            return [path]
    return None


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "qemu-rcu" / "bench"


def _include_dirs() -> List[str]:
    # Imported here: the CLI imports this package without loading the core.
    import qemu_rcu

    paths = sysconfig.get_paths()
    return [str(HERE), qemu_rcu.get_include(), paths["include"], paths["platinclude"]]


def _fingerprint(cc: Sequence[str], with_liburcu: bool) -> str:
    digest = hashlib.sha256()
    for name in SOURCES:
        digest.update((HERE / name).read_bytes())
    for inc in _include_dirs():
        header = Path(inc) / "qemu_rcu.h"
        if header.exists():
            digest.update(header.read_bytes())
    ext_suffix = str(sysconfig.get_config_var("EXT_SUFFIX"))
    digest.update(repr((list(cc), CFLAGS, with_liburcu, ext_suffix)).encode())
    return digest.hexdigest()[:16]


def _run(cmd: List[str], cwd: Path) -> None:
    proc = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=300)
    if proc.returncode != 0:
        raise subprocess.CalledProcessError(proc.returncode, cmd, proc.stdout)


def _compile(cc: List[str], out: Path, with_liburcu: bool, work: Path) -> None:
    includes = [f"-I{d}" for d in _include_dirs()]
    objects: List[str] = []

    def obj(source: str, name: str, *defines: str) -> None:
        target = str(work / name)
        _run([*cc, *CFLAGS, *defines, *includes, "-c", str(HERE / source), "-o", target], work)
        objects.append(target)

    # liburcu first: if it is missing, this is where it shows.
    if with_liburcu:
        obj("bench_urcu.c", "urcu_memb.o", "-DBENCH_URCU_MEMB")
        obj("bench_urcu.c", "urcu_mb.o", "-DBENCH_URCU_MB")
    obj("bench_c.c", "bench_c.o", *(["-DBENCH_HAVE_LIBURCU"] if with_liburcu else []))
    obj("bench_harness.c", "bench_harness.o")
    libs = list(LIBURCU_LIBS) if with_liburcu else []
    _run([*cc, "-shared", "-pthread", *objects, "-o", str(out), *libs], work)


def _cached(cache: Path, name: str, make: Callable[[Path, Path], None]) -> Path:
    """cache/name, made by ``make(output, work_dir)`` unless it is there already."""
    target = cache / name
    if target.exists():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="qemu-rcu-bench-") as tmp:
        work = Path(tmp)
        built = work / target.name
        make(built, work)
        # Copy next to the target, then rename: a concurrent run never loads
        # a half-written file (a rename is atomic within one file system).
        partial = cache / f".{target.name}.{os.getpid()}.partial"
        shutil.copy2(built, partial)
        os.replace(partial, target)
    return target


def _build_one(cc: List[str], cache: Path, with_liburcu: bool) -> Path:
    suffix = str(sysconfig.get_config_var("EXT_SUFFIX") or ".so")
    flavour = "urcu" if with_liburcu else "nourcu"
    name = f"_qemu_rcu_bench_c-{flavour}-{_fingerprint(cc, with_liburcu)}{suffix}"
    return _cached(cache, name,
                   lambda out, work: _compile(cc, out, with_liburcu, work))


def _compiler() -> List[str]:
    cc = find_compiler()
    if cc is None:
        raise BuildError("no C compiler found (set CC, or install gcc)")
    return cc


def _usable_cache(cache_dir: Optional[Path]) -> Path:
    cache = cache_dir or default_cache_dir()
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError:
        cache = Path(tempfile.gettempdir()) / f"qemu-rcu-bench-{os.getuid()}"
    return cache


def first_error(exc: subprocess.CalledProcessError) -> str:
    """The compiler's first error line, to quote in a one-line reason."""
    first = next((ln for ln in str(exc.output).splitlines() if "rror" in ln), "")
    return f"\n(compiler said: {first.strip()})" if first else ""


def failure(what: str, exc: subprocess.CalledProcessError) -> BuildError:
    """The whole compiler output, for a build that must not fail."""
    return BuildError(f"compiling {what} failed:\n$ {shlex.join(exc.cmd)}\n{exc.output}")


def build(cache_dir: Optional[Path] = None, use_liburcu: bool = True) -> CBuild:
    """Compile (or reuse) the extension; liburcu's part only if it builds."""
    cc = _compiler()
    cache = _usable_cache(cache_dir)
    problem = "liburcu left out on request"
    if use_liburcu:
        try:
            return CBuild(_build_one(cc, cache, True), True)
        except subprocess.CalledProcessError as exc:
            problem = LIBURCU_INSTALL_HINT + first_error(exc)
    try:
        return CBuild(_build_one(cc, cache, False), False, problem)
    except subprocess.CalledProcessError as exc:
        raise failure("the benchmark's C code", exc) from exc


def build_program(name: str, sources: Sequence[Path], flags: Sequence[str] = (),
                  libs: Sequence[str] = (), inputs: Sequence[Path] = (),
                  cache_dir: Optional[Path] = None) -> Path:
    """Compile (or reuse) the executable ``sources`` make with ``flags``.

    ``inputs`` are the other files that go into it (headers), hashed with
    the sources.  Raises BuildError without a compiler, and
    subprocess.CalledProcessError (with the compiler's output) if the
    compiler fails: the caller says whether that is fatal.
    """
    cc = _compiler()
    cache = _usable_cache(cache_dir)
    digest = hashlib.sha256()
    for path in (*sources, *inputs):
        digest.update(str(path.name).encode())
        digest.update(path.read_bytes())
    digest.update(repr((list(cc), PROGRAM_CFLAGS, list(flags), list(libs))).encode())

    def make(out: Path, work: Path) -> None:
        _run([*cc, *PROGRAM_CFLAGS, *flags, *map(str, sources), "-o", str(out), *libs],
             work)

    return _cached(cache, f"{name}-{digest.hexdigest()[:16]}", make)
