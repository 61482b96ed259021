# SPDX-License-Identifier: MIT
"""Build rcu_routes with the system C compiler: no setuptools, no meson.

    python examples/c_extension/build.py [--out DIR] [--werror]

The only inputs are the module's source, qemu_rcu's header folder
(``qemu_rcu.get_include()``) and Python's own headers; the module reaches
the RCU core at import time, through the ``qemu_rcu._native._C_API`` capsule, so
nothing is linked against qemu_rcu.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import List, Optional

import qemu_rcu

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "rcu_routes.c"


def build(out_dir: Path = HERE, werror: bool = False) -> Path:
    """Compile rcu_routes into out_dir unless it is up to date; return its path."""
    include = Path(qemu_rcu.get_include())
    target = out_dir / ("rcu_routes" + str(sysconfig.get_config_var("EXT_SUFFIX")))
    inputs = [SOURCE, include / "qemu_rcu.h"]
    if target.exists() and all(p.stat().st_mtime <= target.stat().st_mtime for p in inputs):
        return target
    cc = shlex.split(os.environ.get("CC", "cc"))
    if shutil.which(cc[0]) is None:
        raise SystemExit(f"no C compiler: {cc[0]!r} not found (set CC)")
    out_dir.mkdir(parents=True, exist_ok=True)
    command = [
        *cc, "-shared", "-fPIC", "-O2", "-std=gnu11", "-pthread",
        "-Wall", "-Wextra", *(["-Werror"] if werror else []),
        "-I", str(include), "-I", sysconfig.get_paths()["include"],
        str(SOURCE), "-o", str(target),
    ]
    print(" ".join(shlex.quote(c) for c in command), file=sys.stderr)
    subprocess.run(command, check=True)
    return target


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="output folder")
    parser.add_argument("--werror", action="store_true", help="fail on warnings")
    args = parser.parse_args(argv)
    print(build(args.out, args.werror))
    return 0


if __name__ == "__main__":
    sys.exit(main())
