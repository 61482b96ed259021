# SPDX-License-Identifier: MIT
"""The cffi declarations (qemu_rcu/_build.py) agree with the C headers.

cffi's API mode would catch a wrong signature when it compiles, but not a
missing struct field or a field in the wrong place: those must match by
hand, and this test is the hand.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Dict, List, Set

ROOT = Path(__file__).resolve().parents[1]
HEADERS = [ROOT / "csrc" / "core" / "qemu_rcu.h", ROOT / "csrc" / "torture" / "torture.h"]
# Declared by the cffi module's own preamble, not by a header.
PREAMBLE_ONLY = {"qemu_rcu_lib_import"}


def _cdef() -> str:
    tree = ast.parse((ROOT / "qemu_rcu" / "_build.py").read_text())
    for node in tree.body:
        if (isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
                and node.targets[0].id == "CDEF" and isinstance(node.value, ast.Constant)):
            return str(node.value.value)
    raise AssertionError("no CDEF string in _build.py")


def _normal(text: str) -> str:
    """C text without comments or preprocessor lines, in one spacing."""
    text = re.sub(r"/\*.*?\*/|//[^\n]*", " ", text, flags=re.S)
    text = re.sub(r"^\s*#.*$", " ", text, flags=re.M)
    text = re.sub(r"\b(QEMU_RCU_EXPORT|QEMU_RCU_TLS|extern)\b", " ", text)
    text = re.sub(r"__attribute__\s*\(\(.*?\)\)", " ", text)
    text = re.sub(r"\s+", " ", text)
    return re.sub(r"\s*([*(),;{}\[\]])\s*", r"\1", text).strip()


_FUNCTION = re.compile(r"(?:^|(?<=[;{}]))((?:static inline )?[\w *]+?\b(\w+)\([^()]*\))[;{]")
_STRUCT = re.compile(r"struct (\w+)\{([^{}]*)\};")


def _functions(text: str) -> Dict[str, str]:
    found = {}
    for m in _FUNCTION.finditer(text):
        found[m.group(2)] = m.group(1).replace("static inline ", "")
    return found


def _structs(text: str) -> Dict[str, List[str]]:
    return {m.group(1): [f for f in m.group(2).split(";") if f]
            for m in _STRUCT.finditer(text)}


HEADER_TEXT = " ".join(_normal(p.read_text()) for p in HEADERS)
CDEF_TEXT = _normal(_cdef())


def test_every_function_in_the_cdef_is_declared_the_same_in_a_header() -> None:
    cdef = _functions(CDEF_TEXT)
    header = _functions(HEADER_TEXT)
    assert len(cdef) > 20
    wrong = {name: (decl, header.get(name)) for name, decl in cdef.items()
             if name not in PREAMBLE_ONLY and header.get(name) != decl}
    assert wrong == {}


def test_every_struct_in_the_cdef_matches_the_header() -> None:
    header = _structs(HEADER_TEXT)
    checked: Set[str] = set()
    for name, fields in _structs(CDEF_TEXT).items():
        theirs = header[name]
        if fields[-1] == "...":
            # Only the leading fields are declared, so they must lead there too.
            fields = fields[:-1]
            theirs = theirs[:len(fields)]
        # The header spells array sizes out; cffi lets ... stand for them.
        theirs = [re.sub(r"\[\w+\]", "[...]", f) for f in theirs]
        assert fields == theirs, name
        checked.add(name)
    assert {"rcu_head", "rcu_reader_data", "rcu_stats", "qemu_rcu_torture_counts"} <= checked


def test_every_constant_and_variable_in_the_cdef_exists() -> None:
    for name in re.findall(r"#define (\w+) \.\.\.", _cdef()):
        assert re.search(rf"#define {name}\b", " ".join(p.read_text() for p in HEADERS)), name
    for decl in re.findall(r"^extern ([^;(]+);", _cdef(), flags=re.M):
        assert _normal(decl) + ";" in HEADER_TEXT, decl
