# SPDX-License-Identifier: MIT
"""The Python read path next to threading.Lock, RLock and readerwriterlock.

    python benchmarks/read_path.py [--quick] [--json PATH] [--plot PATH]

The same tables as ``python -m qemu_rcu bench --part python``: this script
only calls the package's benchmark, so the two can never disagree.
"""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from qemu_rcu import bench


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    bench.add_arguments(parser)
    args = parser.parse_args(argv)
    args.parts = ["python"]
    return bench.run(args)


if __name__ == "__main__":
    sys.exit(main())
