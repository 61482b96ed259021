# SPDX-License-Identifier: MIT
"""Smoke tests of ``python -m qemu_rcu bench``: every part runs with tiny
counts and yields the rows and keys the tables promise.  No timing is
asserted anywhere: these only show the benchmark works."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any, Dict, List

import pytest

from qemu_rcu import bench
from qemu_rcu.bench import cbuild, native, plot, read_path, report, workloads, writer
from qemu_rcu.bench.native import NativeSettings
from qemu_rcu.bench.read_path import ReadPathSettings
from qemu_rcu.bench.workloads import WorkloadsSettings
from qemu_rcu.bench.writer import WriterSettings

C_TINY = NativeSettings(pairs_n=2000, sync_n=5, callbacks_n=200, rounds=1)
PY_TINY = ReadPathSettings(number=200, rounds=1, callbacks_n=200)
WRITER_TINY = WriterSettings(duration=0.1, rounds=1, entries=300, min_rebuild_s=0.002,
                             gap_s=0.001, rate=500.0)
WL_TINY = WorkloadsSettings(duration=0.05, rounds=1, reader_counts=[2])
TINY: Dict[str, Any] = {"c": C_TINY, "python": PY_TINY, "writer": WRITER_TINY,
                        "workloads": WL_TINY}


def quiet(message: str) -> None:
    pass


def rows(table: report.Table) -> Dict[str, Dict[str, Any]]:
    return {str(row["name"]): row for row in table.rows}


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_command_line() -> None:
    args = parse("--quick", "--json", "out.json", "--plot", "out.png",
                 "--part", "c", "--part", "python", "--rounds", "2")
    assert args.quick and args.json == "out.json" and args.plot == "out.png"
    assert args.parts == ["c", "python"] and args.rounds == 2
    assert parse().parts is None


def test_cli_import_stays_light(python: Any) -> None:
    # python -m qemu_rcu imports the bench package just to build its parser.
    proc = python("""
        import sys
        import qemu_rcu.bench
        heavy = [m for m in sys.modules
                 if m.startswith("qemu_rcu.bench.") or m.split(".")[0] == "matplotlib"]
        print(heavy)
    """)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_read_path_tables() -> None:
    statements, callbacks = read_path.run(PY_TINY, quiet)
    found = rows(statements)
    assert read_path.BASELINE in found
    assert found[read_path.BASELINE]["ratio"] == pytest.approx(1.0)
    expected = {r.label for r in read_path.ROWS}
    if read_path._rw_reader() is None:
        expected = {label for label in expected if "readerwriterlock" not in label}
        assert any("pip install" in note for note in statements.notes)
    assert set(found) == expected
    for row in found.values():
        assert row["ns"] is not None and float(str(row["ns"])) > 0
    assert [c.key for c in callbacks.columns] == ["enqueue", "total_ms", "rate", "ratio"]
    assert len(callbacks.rows) == 2


def test_writer_table() -> None:
    (table,) = writer.run(WRITER_TINY, quiet)
    classes, skipped = writer.variant_classes()
    expected = {f"{kind} rebuild: {cls.label}" for kind in writer.KINDS for cls in classes}
    assert set(rows(table)) == expected
    assert any("pip install" in note for note in table.notes) == bool(skipped)
    for row in table.rows:
        assert {"p50", "p99", "max", "rate", "rebuilds", "ratio"} <= set(row)
    assert rows(table)["io rebuild: threading.Lock"]["ratio"] == pytest.approx(1.0)


@pytest.mark.parametrize("kind", writer.KINDS)
def test_rebuild_takes_the_minimum_time(kind: str) -> None:
    import time

    config: Dict[str, Any] = {}
    start = time.perf_counter()
    writer.rebuild(config, 3, writer._keys(100), 0.01, kind)
    assert time.perf_counter() - start >= 0.01
    assert config["key7"] == (3, 7)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> cbuild.CBuild:
    if cbuild.find_compiler() is None:
        pytest.skip("no C compiler")
    return cbuild.build(cache_dir=tmp_path_factory.mktemp("bench-cache"))


def test_c_part_tables(built: cbuild.CBuild) -> None:
    rounds = native.measure(C_TINY, built.path, quiet)
    pairs = rows(native.pair_table(rounds, C_TINY))
    ours = [label for label in pairs if label.startswith("qemu-rcu")]
    assert len(ours) == 4       # inline and exported, with and without membarrier
    assert any("[mb: off]" in label for label in ours)
    sync = native.sync_table(rounds, C_TINY)
    callbacks = native.callbacks_table(rounds, C_TINY)
    if built.liburcu:
        assert pairs["liburcu urcu-memb, inlined (_LGPL_SOURCE)"]["ratio"] == pytest.approx(1.0)
        assert len(sync.rows) == 12 and len(callbacks.rows) == 4
    else:
        assert "apt-get install liburcu-dev" in built.liburcu_problem
        assert len(sync.rows) == 6 and len(callbacks.rows) == 2
    for row in sync.rows:
        assert {"median", "p99", "ratio"} <= set(row)


def test_c_part_without_liburcu(tmp_path: Path) -> None:
    if cbuild.find_compiler() is None:
        pytest.skip("no C compiler")
    built = cbuild.build(cache_dir=tmp_path, use_liburcu=False)
    assert not built.liburcu
    rounds = native.measure(C_TINY, built.path, quiet)
    assert not any("liburcu" in str(row["name"]) for row in
                   native.pair_table(rounds, C_TINY).rows)
    # With no liburcu the reference is our own default configuration.
    assert "liburcu missing" in native.callbacks_table(rounds, C_TINY).method


def test_install_hint_names_the_package() -> None:
    assert "apt-get install liburcu-dev" in cbuild.LIBURCU_INSTALL_HINT


def test_render_and_json(tmp_path: Path) -> None:
    columns = [report.Column("ns", "ns/op"), report.Column("ratio", "ratio", ".2f", "x")]
    table = report.Table("t", "What was measured", "1e3 loops, median of 3", columns)
    table.add("reference", ns=2.0, ratio=1.0)
    table.add("missing", ns=math.nan, ratio=None)
    info = report.machine_info()
    text = report.render(table, info)
    for part in ("What was measured", "1e3 loops", "ns/op", "1.00x", info["cpu"], info["python"]):
        assert part in text
    out = tmp_path / "r.json"
    report.save_json(str(out), [table], info)
    doc = json.loads(out.read_text())
    assert doc["tables"][0]["rows"][1]["ns"] is None
    assert report.count(100_000_000) == "1e8" and report.count(250_000) == "250,000"


def run_tiny(monkeypatch: pytest.MonkeyPatch, *argv: str) -> int:
    monkeypatch.setattr(bench, "_settings", lambda quick, rounds: TINY)
    return bench.run(parse("--quiet", *argv))


def test_run_saves_json(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bench.json"
    assert run_tiny(monkeypatch, "--part", "python", "--json", str(out)) == 0
    doc = json.loads(out.read_text())
    keys: List[str] = [t["key"] for t in doc["tables"]]
    assert keys == ["py_read_path", "py_call_rcu"]
    assert {"date", "cpu", "python", "membarrier"} <= set(doc["machine"])
    assert "Python read path" in capsys.readouterr().out


def test_plot_without_matplotlib(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(plot, "available", lambda: False)
    assert run_tiny(monkeypatch, "--part", "writer", "--plot", str(tmp_path / "p.png")) == 1
    assert "pip install qemu-rcu[bench]" in capsys.readouterr().err
    assert not (tmp_path / "p.png").exists()


def test_plot_with_matplotlib(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    if not plot.available():
        pytest.skip("matplotlib is not installed")
    png = tmp_path / "p.png"
    assert run_tiny(monkeypatch, "--part", "writer", "--plot", str(png)) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ---- The workloads part: plain C programs, one per flavour ------------------

@pytest.fixture(scope="module")
def wl_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if cbuild.find_compiler() is None:
        pytest.skip("no C compiler")
    return tmp_path_factory.mktemp("workloads-cache")


@pytest.fixture(scope="module")
def wl_programs(wl_cache: Path) -> workloads.Programs:
    return workloads.build(cache_dir=wl_cache)


def test_workloads_tables(wl_programs: workloads.Programs) -> None:
    results, problems = workloads.measure(WL_TINY, wl_programs, quiet)
    assert problems == []
    read_only, read_mostly, update_heavy = workloads.tables(
        results, WL_TINY, wl_programs, problems)
    flavours = [f for f in workloads.FLAVOURS if f.key in wl_programs.paths]
    assert {"qemu", "rwlock", "mutex"} <= {f.key for f in flavours}
    if wl_programs.liburcu_problem:
        assert "apt-get install liburcu-dev" in wl_programs.liburcu_problem
        assert len(flavours) == 3
    else:
        assert len(flavours) == 5
    assert len(read_only.rows) == len(flavours)
    assert len(read_mostly.rows) == sum(2 if f.rcu else 1 for f in flavours)
    assert len(update_heavy.rows) == len(flavours)
    assert rows(read_only)["2 readers: qemu-rcu"]["ratio"] == pytest.approx(1.0)
    assert "2 readers: qemu-rcu, call_rcu1" in rows(read_mostly)
    assert "2 readers: pthread_mutex_t, write lock + free" in rows(read_mostly)
    for table in (read_only, read_mostly, update_heavy):
        assert any("poisoned reads (an object freed too early): 0 in" in n
                   for n in table.notes)
        for row in table.rows:
            assert float(str(row["total"])) > 0, row
    for row in read_mostly.rows:
        assert {"loss", "updates", "p50", "p99", "max", "ratio"} <= set(row)
    for row in update_heavy.rows:
        assert float(str(row["updates"])) > 0, row
    # Every run's raw line: sane fields, nothing poisoned.
    for cell, runs in results.items():
        for result in runs:
            assert result["poisoned"] == 0 and result["reads"] > 0
            assert result["readers"] == cell.readers
            if cell.mode != "read":
                assert result["gp_n"] <= result["updates"] + (cell.mode == "call")


def test_workloads_without_liburcu(wl_cache: Path) -> None:
    programs = workloads.build(cache_dir=wl_cache, use_liburcu=False)
    assert set(programs.paths) == {"qemu", "rwlock", "mutex"}
    assert programs.liburcu_problem
    cells = workloads.cells(WL_TINY, list(programs.paths))
    assert not any(c.flavour.startswith("urcu") for c in cells)


def test_workloads_program_rejects_bad_arguments(wl_programs: workloads.Programs) -> None:
    import subprocess

    for argv in (["call", "1", "0.05", "0"], ["read", "0", "0.05", "0"], ["read"]):
        proc = subprocess.run([str(wl_programs.paths["mutex"]), *argv],
                              capture_output=True, text=True, timeout=30)
        assert proc.returncode == 2 and "usage" in proc.stderr


def test_workloads_part_through_the_command(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                            wl_programs: workloads.Programs,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(workloads, "build", lambda **kwargs: wl_programs)
    out = tmp_path / "bench.json"
    assert run_tiny(monkeypatch, "--part", "workloads", "--json", str(out)) == 0
    doc = json.loads(out.read_text())
    assert [t["key"] for t in doc["tables"]] == [
        "c_workload_read_only", "c_workload_read_mostly", "c_workload_update_heavy"]
    assert doc["settings"]["workloads"]["reader_counts"] == [2]
    assert "C workloads: read-mostly" in capsys.readouterr().out


def test_workloads_catch_a_broken_grace_period(monkeypatch: pytest.MonkeyPatch,
                                               wl_cache: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    # qemu-rcu built to free without waiting for readers: the poison check
    # must fire, and the bench command must then exit with status 1.  A
    # reader has to be caught between its dereference and its check, so a
    # run can miss it: try a few times (each is a fraction of a second).
    broken = workloads.build_flavour(workloads.BY_KEY["qemu"], wl_cache,
                                     break_grace_period=True)
    assert broken.name.startswith("workloads-qemu-broken-")
    settings = WorkloadsSettings(duration=0.2, rounds=1, reader_counts=[2])
    cell = workloads.Cell(workloads.READ_MOSTLY, "call", 2, "qemu")
    caught = None
    for _ in range(8):
        result, problem = workloads.run_cell(broken, cell, settings)
        if problem:
            caught = (result, problem)
            break
    assert caught is not None, "8 runs of a broken flavour saw no poisoned read"
    result, problem = caught
    assert result is not None and result["poisoned"] > 0
    assert "grace period was too short" in problem

    monkeypatch.setattr(workloads, "build",
                        lambda **kwargs: workloads.Programs({"qemu": broken}))
    monkeypatch.setattr(bench, "_settings", lambda quick, rounds: {"workloads": settings})
    for _ in range(3):
        status = bench.run(parse("--quiet", "--part", "workloads"))
        if status:
            break
    assert status == 1
    captured = capsys.readouterr()
    assert "workloads FAILED" in captured.err
    assert "runs FAILED" in captured.out


def test_workloads_skipped_without_a_compiler(monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(cbuild, "find_compiler", lambda: None)
    assert run_tiny(monkeypatch, "--part", "workloads") == 1
    assert "workloads part skipped: no C compiler found" in capsys.readouterr().err
