"""``make bench SCALE=0.01``: the full-size benchmark at 1 % so it cannot rot.

Runs the real thing as a user does (make, a child dbt build, implicit and Spark ALS, the lever
sweep in fresh JVMs) and checks the results file holds every figure the issue asks for.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
from pathlib import Path

import pytest

from lastfm_lakehouse.bench import build, levers, report
from lastfm_lakehouse.bench.memory import MemorySampler, process_tree

from .conftest import REPO


@pytest.mark.spark
def test_make_bench_at_one_percent_writes_every_figure(tmp_path: Path) -> None:
    # The whole build on the Parquet fallback (no Delta jar needed): it is tested end to end here, at
    # small size, and the bench records the format it measured.
    env = {**os.environ, "LAKEHOUSE_DRIVER_MEMORY": "3g", "LAKEHOUSE_TABLE_FORMAT": "parquet"}
    for name in ("LAKEHOUSE_RAW_DIR", "LAKEHOUSE_HOME", "LAKEHOUSE_SCHEMA"):
        env.pop(name, None)
    dirs = f"--out {tmp_path / 'results'} --data {tmp_path / 'data'} --home {tmp_path / 'home'}"
    # two levers of the sweep (one per BLAS: each fit is a JVM of its own; the others differ only in
    # ALS settings): the sweep's code is the same for all, and the whole sweep cost ~2 min here
    args = f"{dirs} --lever-iterations 1 --levers 1,2"
    done = subprocess.run(
        ["make", "bench", "SCALE=0.01", f"BENCH_ARGS={args}"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    assert "[bench" in done.stderr and " of 1" in done.stderr  # progress: steps and dbt's node lines

    path = tmp_path / "results" / f"{dt.date.today().isoformat()}-scale-0.01-parquet.json"
    results = json.loads(path.read_text(encoding="utf-8"))
    assert results["table_format"] == "parquet" and results["commit"] != "unknown"
    calibration = results["machine"]["calibration"]
    assert calibration["seconds"] == min(calibration["runs"]) > 0 and len(calibration["runs"]) == 3
    assert results["build"]["warehouse_bytes"] > 0
    table = path.with_suffix(".md").read_text(encoding="utf-8")
    assert table in done.stdout

    data = results["dataset"]
    assert data["users"] == round(359_347 * 0.01) and data["seed"] == 360 and not data["reused"]
    build = results["build"]
    assert build["exit_code"] == 0 and build["wall_seconds"] > 0
    memory = build["memory"]
    assert memory["tree_peak_rss_mb"] > 0 and memory["process_peak_rss_mb"]["java"] > 100
    # the JVM counted once: a child mid-spawn (still the JVM) once doubled it (6,538 MB of java at
    # the peak against the JVM's own peak of 3,281 MB)
    assert memory["at_peak"]["java"]["rss_mb"] <= 1.1 * memory["process_peak_rss_mb"]["java"]
    # what the tree held at its peak adds up to the peak, and is reported with the nodes running then
    assert sum(p["rss_mb"] for p in memory["at_peak"].values()) == pytest.approx(
        memory["tree_peak_rss_mb"], abs=1
    )
    assert "At the tree's peak" in table
    nodes = build["nodes"]
    # the build make build runs: every data test, no unit test (lastfm_lakehouse.cli)
    assert build["command"] == "dbt build --exclude-resource-type unit_test"
    assert {"seed", "sql model", "python model", "test"} <= set(nodes["by_type"])
    assert "unit test" not in nodes["by_type"]
    assert f"`{build['command']}` exit 0" in table
    assert set(nodes["statuses"]) <= {"success", "pass", "no-op"}  # no-op: exposures
    model_names = {m["name"] for m in nodes["models"]}
    assert {"fct_plays", "mart_recommendations_knn", "mart_model_evaluation"} <= model_names

    rows = {r["relation"].split(".")[-1]: r["rows"] for r in results["rows"]}
    assert rows["stg_lastfm__plays"] + rows["stg_lastfm__rejected_rows"] >= data["plays_lines"]
    assert all(n > 0 for n in rows.values()), rows
    metrics = {(r["model"], r["metric"]) for r in results["evaluation"]}
    assert {("als", "ndcg"), ("knn", "ndcg"), ("knn", "neighbour_recall"), ("popularity", "ndcg")} <= metrics

    h2h = results["als_head_to_head"]
    assert h2h["parameters"]["threads"] == os.cpu_count()
    for library in ("spark", "implicit"):
        assert h2h[library]["seconds_per_iteration"] > 0
        assert 0 < h2h[library]["ndcg_at_10"] <= 1 and 0 < h2h[library]["precision_at_10"] <= 1
    assert h2h["time_ratio_spark_over_implicit"] > 0 and h2h["ndcg_ratio_spark_over_implicit"] > 0

    inputs = results["als_training_inputs"]
    caps = [r["max_rows_per_artist"] for r in inputs["inputs"]]
    assert caps == [None, 180, 1_000, 5_000, None]  # baseline, each cap, all rows
    counts = [r["rows"] for r in inputs["inputs"][1:]]
    assert counts == sorted(counts) and counts[-1] == inputs["training_rows"] > counts[0]
    assert all(0 < r["ndcg"] <= 1 and 0 < r["coverage"] <= 1 for r in inputs["inputs"])

    assert [t["target"] for t in results["targets"]] == [t[0] for t in report.TARGETS]
    assert all(t["measured"] is not None and not t["full_scale"] for t in results["targets"])
    fits = {f["name"]: f for f in results["als_levers"]["fits"]}
    assert list(fits) == [c.name for c in levers.SWEEP[:2]]
    assert all("error" not in f and f["seconds_per_iteration"] > 0 for f in fits.values()), fits
    # each BLAS lever really switched the JVM's BLAS (native only where libblas.so.3 exists)
    blas = {c.blas: fits[c.name]["blas"] for c in levers.SWEEP[:2]}
    assert blas["vector"] == "VectorBLAS"
    assert blas["native"] == (
        "JNIBLAS" if Path("/usr/lib/x86_64-linux-gnu/libblas.so.3").exists() else "VectorBLAS"
    )
    for heading in (
        "## Targets",
        "## Wall time per model",
        "## Rows per stage",
        "## ALS head-to-head",
        "## ALS training input",
        "levers",
    ):
        assert heading in table


def test_the_calibration_is_a_fixed_workload_timed_best_of_n() -> None:
    from lastfm_lakehouse.bench import calibration

    timed = calibration.calibrate(repeats=2)
    assert timed["workload"] == calibration.WORKLOAD
    assert len(timed["runs"]) == 2 and timed["seconds"] == min(timed["runs"]) > 0
    line = report._calibration({"machine": {"calibration": timed}, "build": {"wall_seconds": 100.0}})
    assert line.startswith(f", calibration {timed['seconds']:.3f} s (sort 4M") and "x calibration" in line
    assert report._calibration({"machine": {}}) == ""  # results from before the calibration


def test_lever_numbers_pick_from_the_sweep_or_are_refused() -> None:
    assert levers.chosen(None) == levers.SWEEP
    assert levers.chosen("2,1,2") == (levers.SWEEP[0], levers.SWEEP[1])
    for bad in ("0", f"{len(levers.SWEEP) + 1}", "x", ","):
        with pytest.raises(ValueError, match=r"lever numbers 1\.\."):
            levers.chosen(bad)


@pytest.mark.parametrize("scale", [0, -1, 1.5])
def test_scale_outside_zero_one_is_refused(scale: float) -> None:
    with pytest.raises(ValueError, match="--scale"):
        build.users_for(scale)


def test_memory_sampler_sees_a_child_and_its_peak() -> None:
    code = "import time; block = bytearray(300 * 1024 * 1024); time.sleep(1.5)"
    child = subprocess.Popen(["python3", "-c", code])
    with MemorySampler(child.pid, interval=0.05) as sampler:
        assert child.pid in process_tree(child.pid)
        child.wait()
    assert sampler.peaks.tree_peak_kb > 250 * 1024
    assert max(sampler.peaks.process_peak_kb.values()) > 250 * 1024
