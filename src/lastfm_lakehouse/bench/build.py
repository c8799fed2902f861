"""``make bench``: the whole build at Last.fm 360K size, timed, and Spark ALS against implicit's ALS.

    python -m lastfm_lakehouse.bench.build [--scale 1.0] [--seed 360] [--out bench/results]

1. data: generates (or reuses, when its GENERATED.json matches) ``round(359,347 * scale)`` users
   with a fixed seed in ``data/bench/users-<n>-seed-<seed>/``;
2. build: ``dbt build`` on the embedded target in a child process, on a fresh lakehouse home (the
   arguments ``make build`` gives it: unit tests left out unless ``--unit-tests``), while
   the peak resident memory of the process tree (dbt + Spark driver JVM + Python workers) is sampled;
3. figures: wall time per model and per dbt node type from ``run_results.json``, rows per stage
   and the evaluation metrics from the built tables;
4. ALS head-to-head (``als_head_to_head``) in this process on the build's hold-out split;
5. writes ``<out>/<date>.json`` (``<date>-scale-<s>.json`` for a fraction) and the markdown table
   beside it, with every target and by how much it was met or missed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lastfm_lakehouse import provenance
from lastfm_lakehouse.bench import calibration, report
from lastfm_lakehouse.bench.memory import MemorySampler
from lastfm_lakehouse.build_args import production_build_args
from lastfm_lakehouse.settings import (
    DEFAULT_GENERATOR_SEED,
    DEFAULT_TABLE_FORMAT,
    ENV_LAKEHOUSE_HOME,
    ENV_RAW_DIR,
    FULL_USERS,
    PLAYS_FILE,
    PROFILES_FILE,
    SparkSettings,
    repo_root,
)

# The tables counted for "rows per stage", in build order: (stage, model). Their schemas come from the
# build's manifest (the profile's LAKEHOUSE_SCHEMA decides them).
STAGES = (
    ("staging", "stg_lastfm__plays"),
    ("staging", "stg_lastfm__profiles"),
    ("staging", "stg_lastfm__rejected_rows"),
    ("marts", "dim_users"),
    ("marts", "dim_artists"),
    ("marts", "fct_plays"),
    ("marts", "fct_plays_balanced"),
    ("evaluation", "eval_plays_holdout_split"),
    ("recommenders", "mart_als_factors"),
    ("recommenders", "mart_recommendations_als"),
    ("recommenders", "mart_recommendations_knn"),
    ("recommenders", "mart_artist_audience"),
    ("recommenders", "mart_similar_artists"),
    ("recommenders", "mart_similar_artists_lsh"),
)


def say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def users_for(scale: float) -> int:
    if not 0 < scale <= 1:
        raise ValueError(f"--scale must be in (0, 1], got {scale}")
    return max(200, round(FULL_USERS * scale))


def ensure_dataset(users: int, seed: int, root: Path) -> tuple[Path, dict[str, Any], bool]:
    """The dataset directory, its manifest, and whether it was reused."""
    from lastfm_lakehouse.data.generate import generate

    directory = root / f"users-{users}-seed-{seed}"
    manifest_path = directory / "GENERATED.json"
    if manifest_path.is_file() and all((directory / f).is_file() for f in (PLAYS_FILE, PROFILES_FILE)):
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        if manifest.get("users") == users and manifest.get("seed") == seed:
            say(f"reusing {directory} ({manifest['plays_lines']:,} play lines)")
            return directory, manifest, True
    say(f"generating {users:,} users (seed {seed}) into {directory}")
    generate(directory, users=users, seed=seed)
    return directory, json.loads(manifest_path.read_text(encoding="utf-8")), False


def run_build(raw_dir: Path, home: Path, target_dir: Path, log: Path, dbt_args: list[str]) -> dict[str, Any]:
    """``dbt build`` (embedded target) in a child process; wall time, exit code, peak memory."""
    if home.exists():
        shutil.rmtree(home)
    home.mkdir(parents=True)
    env = {**os.environ, ENV_RAW_DIR: str(raw_dir), ENV_LAKEHOUSE_HOME: str(home), "DBT_TARGET": "local"}
    root = repo_root()
    command = [
        str(Path(sys.executable).with_name("dbt")),
        "build",
        "--project-dir",
        str(root / "dbt_project"),
        "--profiles-dir",
        str(root / "profiles"),
        "--target-path",
        str(target_dir),
        "--log-path",
        str(home / "logs"),
        *dbt_args,
    ]
    say(f"dbt build on {raw_dir.name} (lakehouse {home}); log: {log}")
    started = time.perf_counter()
    with log.open("w", encoding="utf-8") as out:
        process = subprocess.Popen(
            command,
            cwd=root / "dbt_project",
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        with MemorySampler(process.pid) as sampler:
            assert process.stdout is not None
            for line in process.stdout:
                out.write(line)
                # dbt's own progress lines ("12 of 175 OK created ...") are the progress output
                if " of " in line and ("START" not in line):
                    print(f"  {line.rstrip()}", file=sys.stderr, flush=True)
            code = process.wait()
    wall = time.perf_counter() - started
    say(
        f"dbt build exited {code} after {wall:.0f}s; "
        f"peak RSS of the tree {sampler.peaks.tree_peak_kb / 1024:,.0f} MB"
    )
    return {
        "exit_code": code,
        "wall_seconds": round(wall, 1),
        "memory": sampler.peaks.as_dict(),
        "command": " ".join(["dbt", "build", *dbt_args]),
    }


def node_timings(target_dir: Path) -> dict[str, Any]:
    """Per node and per node type (seed, sql / python model, unit test, test) from dbt's artifacts."""
    results = json.loads((target_dir / "run_results.json").read_text(encoding="utf-8"))
    manifest = json.loads((target_dir / "manifest.json").read_text(encoding="utf-8"))
    nodes: list[dict[str, Any]] = []
    by_type: dict[str, dict[str, float]] = {}
    for result in results["results"]:
        unique_id = result["unique_id"]
        node = manifest["nodes"].get(unique_id) or manifest.get("unit_tests", {}).get(unique_id, {})
        resource = unique_id.split(".")[0]
        kind = f"{node.get('language', 'sql')} model" if resource == "model" else resource.replace("_", " ")
        seconds = float(result.get("execution_time") or 0.0)
        execute = next((t for t in result.get("timing", []) if t.get("name") == "execute"), {})
        parts = unique_id.split(".")
        nodes.append(
            {
                # a data test's id ends in a hash: test.<project>.<name>.<hash>
                "name": parts[2] if parts[0] == "test" and len(parts) > 3 else parts[-1],
                "type": kind,
                "status": result["status"],
                "seconds": round(seconds, 2),
                "started_at": execute.get("started_at"),
                "completed_at": execute.get("completed_at"),
            }
        )
        bucket = by_type.setdefault(kind, {"nodes": 0, "seconds": 0.0})
        bucket["nodes"] += 1
        bucket["seconds"] = round(bucket["seconds"] + seconds, 2)
    statuses: dict[str, int] = {}
    for node in nodes:
        statuses[node["status"]] = statuses.get(node["status"], 0) + 1
    return {
        "dbt_elapsed_seconds": round(float(results.get("elapsed_time") or 0.0), 1),
        "statuses": statuses,
        "all": nodes,
        "by_type": by_type,
        "models": sorted((n for n in nodes if n["type"].endswith("model")), key=lambda n: -n["seconds"]),
        "slowest_tests": sorted(
            (n for n in nodes if not n["type"].endswith("model")), key=lambda n: -n["seconds"]
        )[:10],
    }


@dataclass(frozen=True)
class BuiltProject:
    """What the build actually used, read from its manifest: the config values the Python models
    were given (vars, after any ``--vars`` override) and where each model was written."""

    config: dict[str, Any]
    relations: dict[str, str]  # model name -> schema.table

    @classmethod
    def from_manifest(cls, target_dir: Path) -> BuiltProject:
        manifest = json.loads((target_dir / "manifest.json").read_text(encoding="utf-8"))
        config: dict[str, Any] = {}
        relations = {}
        for node in manifest["nodes"].values():
            if node["resource_type"] != "model":
                continue
            relations[node["name"]] = f"{node['schema']}.{node['alias']}"
            if node.get("language") == "python":
                config.update(node["config"])
        return cls(config, relations)

    def table(self, model: str) -> str:
        return self.relations[model]


def table_figures(spark: Any, project: BuiltProject) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Rows per stage, and the rows of mart_model_evaluation."""
    rows = []
    for stage, model in STAGES:
        relation = project.table(model)
        rows.append({"stage": stage, "relation": relation, "rows": spark.table(relation).count()})
    evaluation = project.table("mart_model_evaluation")
    metrics = [
        {key: row[key] for key in ("model", "metric", "k", "value", "users_evaluated", "seconds")}
        for row in spark.sql(f"select * from {evaluation} order by model, metric").collect()
    ]
    return rows, metrics


def head_to_head(spark: Any, project: BuiltProject) -> dict[str, Any]:
    from lastfm_lakehouse.bench import head_to_head
    from lastfm_lakehouse.evaluation.holdout import EvaluationSample
    from lastfm_lakehouse.recommenders.als import AlsParams

    config = project.config
    params = AlsParams.from_var(config.get("als"))
    split = spark.table(project.table("eval_plays_holdout_split"))
    return head_to_head.run(
        split,
        params,
        int(config["evaluation_k"]),
        EvaluationSample(int(config["evaluation_max_users"]), int(config["holdout_seed"])),
        say=say,
    )


def training_inputs(spark: Any, project: BuiltProject) -> dict[str, Any]:
    from lastfm_lakehouse.bench import training_inputs
    from lastfm_lakehouse.evaluation.holdout import EvaluationSample
    from lastfm_lakehouse.recommenders.als import AlsParams

    config = project.config
    return training_inputs.run(
        spark.table(project.table("eval_plays_holdout_split")),
        AlsParams.from_var(config.get("als")),
        int(config["evaluation_k"]),
        EvaluationSample(int(config["evaluation_max_users"]), int(config["holdout_seed"])),
        int(config["sample_seed"]),
        say=say,
    )


def levers(
    spark: Any, project: BuiltProject, home: Path, iterations: int, numbers: str | None = None
) -> dict[str, Any]:
    from lastfm_lakehouse.bench import levers
    from lastfm_lakehouse.recommenders.als import AlsParams

    params = AlsParams.from_var(project.config.get("als"))
    ratings = home / "als-levers" / "ratings.parquet"
    split = spark.table(project.table("eval_plays_holdout_split"))
    split.where("not is_holdout").select("user_key", "artist_key", "rating").write.mode("overwrite").parquet(
        str(ratings)
    )
    rows = levers.sweep(
        ratings,
        params.rank,
        iterations,
        params.reg_param,
        params.alpha,
        say=say,
        configs=levers.chosen(numbers),
    )
    ratings = "eval_plays_holdout_split where not is_holdout"
    return {"iterations": iterations, "ratings": ratings, "fits": rows}


def results_path(out: Path, scale: float, today: dt.date, table_format: str = DEFAULT_TABLE_FORMAT) -> Path:
    suffix = ("" if scale == 1 else f"-scale-{scale:g}") + (
        "" if table_format == DEFAULT_TABLE_FORMAT else f"-{table_format}"
    )
    return out / f"{today.isoformat()}{suffix}.json"


def disk_bytes(root: Path) -> int:
    """Bytes of every file under ``root`` (the warehouse: all table versions Delta keeps)."""
    return sum(f.stat().st_size for f in root.rglob("*") if f.is_file()) if root.is_dir() else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lastfm_lakehouse.bench.build",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the 359,347 users (default 1)")
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_GENERATOR_SEED, help="generator seed (default %(default)s)"
    )
    parser.add_argument(
        "--out", type=Path, default=repo_root() / "bench" / "results", help="results directory"
    )
    parser.add_argument(
        "--data", type=Path, default=repo_root() / "data" / "bench", help="datasets directory"
    )
    parser.add_argument(
        "--home", type=Path, help="lakehouse home for the build (default .lakehouse/bench-<scale>)"
    )
    parser.add_argument("--skip-head-to-head", action="store_true", help="no implicit / Spark ALS comparison")
    parser.add_argument(
        "--skip-training-inputs", action="store_true", help="no ALS training-input table (caps vs all rows)"
    )
    parser.add_argument(
        "--lever-iterations",
        type=int,
        default=3,
        help="ALS iterations per Spark speed-lever fit (als_levers; 0 = skip the sweep; default %(default)s)",
    )
    parser.add_argument(
        "--levers",
        metavar="N,N",
        help="only these levers of the sweep, by number (1-based; default: all of them)",
    )
    parser.add_argument(
        "--reuse-build", action="store_true", help="skip dbt build; read the figures of the last bench build"
    )
    parser.add_argument(
        "--unit-tests",
        action="store_true",
        help="time dbt's unit tests too (make build leaves them out: lastfm_lakehouse.cli)",
    )
    parser.add_argument("dbt_args", nargs=argparse.REMAINDER, help="extra dbt build arguments, after --")
    args = parser.parse_args(argv)
    from lastfm_lakehouse.bench import levers as lever_sweep

    try:
        users = users_for(args.scale)
        lever_sweep.chosen(args.levers)  # a bad --levers fails now, not after the build
    except ValueError as exc:
        parser.error(str(exc))
    home = (args.home or repo_root() / ".lakehouse" / f"bench-{args.scale:g}").resolve()
    target_dir = home / "dbt-target"
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    steps = 4 + (not args.skip_head_to_head) + (not args.skip_training_inputs) + (args.lever_iterations > 0)
    say(f"1/{steps} dataset: {users:,} users, seed {args.seed}")
    raw_dir, manifest, reused = ensure_dataset(users, args.seed, args.data.resolve())
    table_format = SparkSettings.from_env().table_format
    results: dict[str, Any] = {
        "date": dt.date.today().isoformat(),
        "measured_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "commit": provenance.git_commit(str(repo_root())),  # results say what they measured
        "table_format": table_format,
        "scale": args.scale,
        "machine": {
            "cores": os.cpu_count(),
            "memory_gb": _memory_gb(),
            "platform": platform.platform(),
            # timed before the build, on the idle machine: compare runs as build / calibration
            "calibration": calibration.calibrate(),
        },
        "dataset": {
            "directory": str(raw_dir),
            "users": users,
            "seed": args.seed,
            "plays_lines": manifest["plays_lines"],
            "profile_lines": manifest["profile_lines"],
            "artists_generated": manifest["artists"],
            "reused": reused,
        },
    }
    # the build make build runs (unit tests left out unless --unit-tests)
    dbt_args = production_build_args([a for a in args.dbt_args if a != "--"], args.unit_tests)
    if args.reuse_build:
        say(f"2/{steps} dbt build: reusing {home}")
        previous = json.loads((home / "build.json").read_text(encoding="utf-8"))
    else:
        say(f"2/{steps} dbt build (embedded target)")
        previous = run_build(raw_dir, home, target_dir, home / "dbt-build.log", dbt_args)
        (home / "build.json").write_text(json.dumps(previous), encoding="utf-8")
    results["build"] = previous
    if previous["exit_code"] != 0:
        say(f"dbt build FAILED (exit {previous['exit_code']}); see {home / 'dbt-build.log'}")
    results["build"]["nodes"] = node_timings(target_dir)
    results["build"]["warehouse_bytes"] = disk_bytes(home / "warehouse")
    project = BuiltProject.from_manifest(target_dir)
    say(f"3/{steps} rows per stage and evaluation metrics")
    os.environ[ENV_LAKEHOUSE_HOME] = str(home)
    from lastfm_lakehouse.spark_session import get_or_create

    spark = get_or_create()
    results["rows"], results["evaluation"] = table_figures(spark, project)
    results["config"] = project.config
    step = 4
    if not args.skip_training_inputs:
        say(f"{step}/{steps} ALS training input: per-artist caps against all rows")
        results["als_training_inputs"] = training_inputs(spark, project)
        step += 1
    if not args.skip_head_to_head:
        say(f"{step}/{steps} ALS head-to-head: Spark ALS against implicit")
        results["als_head_to_head"] = head_to_head(spark, project)
    if args.lever_iterations > 0:
        say(
            f"{steps - 1}/{steps} Spark ALS speed levers, one at a time "
            f"({args.lever_iterations} iterations each)"
        )
        results["als_levers"] = levers(spark, project, home, args.lever_iterations, args.levers)
    results["bench_wall_seconds"] = round(time.perf_counter() - started, 1)
    results["targets"] = report.targets(results)
    path = results_path(args.out, args.scale, dt.date.today(), table_format)
    path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    table = report.markdown(results)
    path.with_suffix(".md").write_text(table, encoding="utf-8")
    say(f"{steps}/{steps} results: {path} and {path.with_suffix('.md')}")
    print(table)
    return 0 if previous["exit_code"] == 0 else 1


def _memory_gb() -> float:
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return 0.0
    return round(kb / 1024 / 1024, 1)


if __name__ == "__main__":
    raise SystemExit(main())
