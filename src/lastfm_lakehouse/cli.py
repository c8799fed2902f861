"""``lastfm-lakehouse``: every operation of the lakehouse, one command (``make`` targets are aliases).

    lastfm-lakehouse build [--users N] [--seed S] [--unit-tests] [-- extra dbt build arguments]
    lastfm-lakehouse data          # which raw data a build would use
    lastfm-lakehouse listeners -n 3                          # listeners in the data to try
    lastfm-lakehouse recommend --user <sha1> -n 10           # a listener in the data (served.py)
    lastfm-lakehouse artists -n 5                            # the most listened artists
    lastfm-lakehouse recommend "radiohead" "muse=3" -n 10   # a new listener (see listener.py)
    lastfm-lakehouse serve | stop | status                   # the Thrift + Spark Connect server
    lastfm-lakehouse metastore up | down | url               # PostgreSQL metastore
    lastfm-lakehouse directory up | down | password          # LDAP directory
    lastfm-lakehouse dashboards up | down                    # Superset
    lastfm-lakehouse bench --scale 0.1                       # full-size build benchmark
    lastfm-lakehouse <command> --help                        # each command's own options

``build`` finds the raw files (see ``raw_data``), generates a default-size synthetic dataset when
there are none, runs ``dbt build`` in this process (dbt's programmatic ``dbtRunner``) and then, in
the same SparkSession, prints what was staged and rejected and where the tables are.

It is the production build, so dbt's unit tests are left out (``--exclude-resource-type unit_test``,
as dbt Labs recommends: their inputs are static, so they prove nothing new about the data and only
cost time); the data tests all run. ``make test`` runs the unit tests on every build it makes, and
``--unit-tests`` (``make build UNIT_TESTS=1``) runs them here too.

The other commands hand their arguments to the module that does the work (``python -m <module>``
works as before); ``OPERATIONS`` lists them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from lastfm_lakehouse.build_args import production_build_args
from lastfm_lakehouse.data import raw_files
from lastfm_lakehouse.settings import (
    DEFAULT_GENERATED_USERS,
    DEFAULT_GENERATOR_SEED,
    ENV_FILE,
    ENV_RAW_DIR,
    PLAYS_FILE,
    PROFILES_FILE,
    adopt_renamed_env,
    generated_raw_dir,
    lakehouse_home,
    load_env_file,
    repo_root,
)

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

MART_TABLES = (
    "dim_users",
    "dim_artists",
    "dim_artist_spellings",
    "fct_plays",
    "fct_plays_balanced",
    "mart_play_statistics",
    "mart_load_report",
    "mart_recommendations_als",
    "mart_recommendations_knn",
    "mart_artist_audience",
    "mart_similar_artists",
    "mart_similar_artists_lsh",
    "mart_model_evaluation",
)


def say(message: str) -> None:
    print(f"[lastfm-lakehouse] {message}", file=sys.stderr, flush=True)


def ensure_raw_data(users: int, seed: int) -> raw_files.RawData:
    """The raw data to build from; generates a synthetic dataset when no real files exist."""
    try:
        found = raw_files.resolve()
    except raw_files.RawDataError:
        if os.environ.get(ENV_RAW_DIR, "").strip():
            raise
        found = None
    if found is not None and not (found.is_generated and _generated_differs(found.directory, users, seed)):
        return found
    from lastfm_lakehouse.data.generate import generate

    out = generated_raw_dir()
    say(
        f"No real Last.fm files in {repo_root() / 'data' / 'raw'}: generating a SYNTHETIC dataset "
        f"({users:,} users, seed {seed}) in {out}. Put the two original files in data/raw/ to build "
        "on the real data."
    )
    manifest = generate(out, users=users, seed=seed)
    say(
        f"generated {manifest.plays_lines:,} play lines and {manifest.profile_lines:,} profiles "
        f"in {manifest.seconds:.1f}s"
    )
    return raw_files.resolve()


def _generated_differs(directory: Path, users: int, seed: int) -> bool:
    manifest = json.loads((directory / "GENERATED.json").read_text(encoding="utf-8"))
    return manifest.get("users") != users or manifest.get("seed") != seed


def with_vars(dbt_args: list[str], defaults: dict[str, str]) -> list[str]:
    """``dbt_args`` with one ``--vars``: ``defaults`` overridden by the user's own ``--vars`` (dbt
    takes a single --vars, so they are merged here)."""
    rest: list[str] = []
    given: dict[str, object] = {}
    args = iter(dbt_args)
    for arg in args:
        if arg == "--vars" or arg.startswith("--vars="):
            text = arg.partition("=")[2] if "=" in arg else next(args, "")
            parsed = yaml.safe_load(text) or {}
            if not isinstance(parsed, dict):
                raise ValueError(f"--vars must be a YAML/JSON mapping, got {text!r}")
            given.update(parsed)
        else:
            rest.append(arg)
    return [*rest, "--vars", json.dumps({**defaults, **given})]


def run_dbt(command: str, dbt_args: list[str]) -> bool:
    from dbt.cli.main import dbtRunner

    root = repo_root()
    args = [
        command,
        "--project-dir",
        str(root / "dbt_project"),
        "--profiles-dir",
        str(root / "profiles"),
        *dbt_args,
    ]
    result = dbtRunner().invoke(args)
    if result.exception is not None:
        say(f"dbt {command} failed: {result.exception}")
    return bool(result.success)


def summary(spark: SparkSession, schema: str) -> str:
    """Lines staged, rejected and erased per kind of file (the original files, then all batches
    together), rejection reasons, and each mart's rows and location."""
    lines = ["", f"Load summary ({schema}.mart_load_report)"]
    report = spark.sql(f"""
        select
            source_table,
            batch_date is not null as is_batch,
            outcome,
            check_name,
            sum(line_count) as line_count,
            count(distinct source_file) as files,
            count(distinct batch_date) as batches
        from {schema}.mart_load_report
        group by 1, 2, 3, 4
        order by is_batch, source_table, case outcome when 'staged' then 0 when 'rejected' then 1 else 2 end,
            line_count desc, check_name
    """).collect()
    read = {
        (r["source_table"], r["is_batch"]): r["lines_read"]
        for r in spark.sql(f"""
            select source_table, batch_date is not null as is_batch, sum(lines_read) as lines_read
            from (
                select distinct source_table, source_file, batch_date, lines_read
                from {schema}.mart_load_report
            )
            group by 1, 2
        """).collect()
    }
    for table, is_batch in sorted(
        {(r["source_table"], r["is_batch"]) for r in report}, key=lambda k: (k[1], k[0])
    ):
        mine = [r for r in report if (r["source_table"], r["is_batch"]) == (table, is_batch)]
        counts = {
            o: sum(r["line_count"] for r in mine if r["outcome"] == o)
            for o in ("staged", "rejected", "erased")
        }
        label = f"{table} ({max(r['batches'] for r in mine)} batches)" if is_batch else table
        lines.append(
            f"  {label:<9} staged {counts['staged']:>12,}   rejected {counts['rejected']:>8,}   "
            f"erased {counts['erased']:>8,}   lines {read[(table, is_batch)]:>12,}"
        )
        for row in mine:
            if row["outcome"] != "staged":
                lines.append(f"    {row['outcome']} {row['line_count']:>10,} x {row['check_name']}")
    lines += ["", f"Tables (schema {schema}; query with dbt show, or Spark SQL on this metastore)"]
    for table in MART_TABLES:
        location = next(
            (
                r["data_type"]
                for r in spark.sql(f"describe table extended {schema}.{table}").collect()
                if r["col_name"] == "Location"
            ),
            "?",
        )
        n = spark.table(f"{schema}.{table}").count()
        lines.append(f"  {schema}.{table:<26} {n:>12,} rows   {location}")
    evaluation = spark.sql(f"""
        select model, metric, k, value from {schema}.mart_model_evaluation order by model, metric
    """).collect()
    if evaluation:
        lines += ["", "Model evaluation (mart_model_evaluation)"]
        for row in evaluation:
            cut = "" if row.k is None else row.k
            lines.append(f"  {row.model:<11} {row.metric:<17} {cut:>4}  {row.value:.4f}")
    return "\n".join(lines)


def build(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    try:
        data = ensure_raw_data(args.users, args.seed)
    except (raw_files.RawDataError, ValueError) as exc:
        say(str(exc))
        return 2
    raw_vars = {"raw_data_dir": str(data.directory), "plays_file": PLAYS_FILE, "profiles_file": PROFILES_FILE}
    try:
        dbt_args = with_vars(args.dbt_args, raw_vars)
    except (ValueError, yaml.YAMLError) as exc:
        say(f"bad dbt arguments: {exc}")
        return 2
    kind = "SYNTHETIC (generated)" if data.is_generated else "as given"
    say(f"raw data: {data.origin}: {data.directory} [{kind}]")
    say(f"lakehouse: {lakehouse_home()} (warehouse, Derby metastore, logs)")
    build_args = production_build_args(dbt_args, args.unit_tests)
    if build_args != dbt_args:
        say("unit tests left out (production build; make test runs them; --unit-tests to include)")
    ok = run_dbt("build", build_args)
    from lastfm_lakehouse.spark_session import get_or_create

    schema = os.environ.get("LAKEHOUSE_SCHEMA", "lastfm")
    target = os.environ.get("DBT_TARGET", "local")
    if target != "local":
        say(f"target {target}: the tables are on the server (beeline -u jdbc:hive2://127.0.0.1:10000)")
    else:
        try:
            print(summary(get_or_create(), schema), file=sys.stderr)
        except Exception as exc:  # the summary must never hide dbt's own result
            say(f"(no summary: {type(exc).__name__}: {str(exc).splitlines()[0]})")
    say(
        f"dbt build {'succeeded' if ok else 'FAILED'} in {time.perf_counter() - started:.0f}s "
        f"on {data.directory}"
    )
    return 0 if ok else 1


def show_data(_: argparse.Namespace) -> int:
    try:
        data = raw_files.resolve()
    except raw_files.RawDataError as exc:
        say(str(exc))
        return 2
    for path in data.paths:
        print(f"{path}\t{raw_files.count_lines(path):,} lines")
    print(f"origin: {data.origin}{' (synthetic)' if data.is_generated else ''}")
    return 0


@dataclass(frozen=True)
class Operation:
    """A command carried out by another module's ``main(argv)``, with ``args`` put before the user's."""

    module: str
    help: str
    args: tuple[str, ...] = ()


OPERATIONS = {
    "serve": Operation(
        "lastfm_lakehouse.serving.server", "start the Thrift + Spark Connect server", ("start",)
    ),
    "stop": Operation("lastfm_lakehouse.serving.server", "stop the server", ("stop",)),
    "status": Operation("lastfm_lakehouse.serving.server", "is the server up, on which ports", ("status",)),
    "cluster-properties": Operation(
        "lastfm_lakehouse.serving.server",
        "a standalone cluster's shared secret, for its master and workers",
        ("cluster-properties",),
    ),
    "metastore": Operation("lastfm_lakehouse.serving.metastore", "PostgreSQL metastore: up | down | url"),
    "directory": Operation("lastfm_lakehouse.serving.directory", "LDAP directory: up | down | password"),
    "tls": Operation("lastfm_lakehouse.serving.tls", "TLS keystore for the Thrift port: create"),
    "dashboards": Operation("lastfm_lakehouse.dashboards.superset_app", "Superset dashboards: up | down"),
    "screenshots": Operation("lastfm_lakehouse.dashboards.browser", "the dashboards' screenshots (Chromium)"),
    "bench": Operation("lastfm_lakehouse.bench.build", "full-size build benchmark (--scale 0.1)"),
    "bench-serve": Operation("lastfm_lakehouse.bench.serving", "point lookups over Thrift (--clients 8)"),
    "generate": Operation("lastfm_lakehouse.data.generate", "synthetic raw files (--users N --out DIR)"),
    "docs": Operation("lastfm_lakehouse.docs_site", "the documentation site: build | generate"),
    "jdbc-driver": Operation(
        "lastfm_lakehouse.serving.jdbc_driver", "the standalone Hive JDBC driver for BI tools: fetch | where"
    ),
    "delta-jars": Operation("lastfm_lakehouse.delta_jars", "fetch Delta Lake's jars (make setup): fetch"),
    "jvm-tests": Operation(
        "lastfm_lakehouse.serving.jvm", "compile the server's Java code, run its JUnit tests (setup): test"
    ),
}
LISTENER_COMMANDS = ("recommend", "listeners", "artists")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="lastfm-lakehouse", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    build_parser = commands.add_parser("build", help="dbt build on the real or generated data")
    build_parser.add_argument(
        "--users",
        type=int,
        default=DEFAULT_GENERATED_USERS,
        help="users to generate when there are no real files (default %(default)s)",
    )
    build_parser.add_argument(
        "--seed", type=int, default=DEFAULT_GENERATOR_SEED, help="generator seed (default %(default)s)"
    )
    build_parser.add_argument(
        "--unit-tests",
        action="store_true",
        help="run dbt's unit tests too (left out of this production build by default)",
    )
    build_parser.add_argument(
        "dbt_args", nargs=argparse.REMAINDER, help="extra arguments for dbt build, after --"
    )
    build_parser.set_defaults(func=build)
    data_parser = commands.add_parser("data", help="which raw files a build would use")
    data_parser.set_defaults(func=show_data)
    commands.add_parser(
        "recommend",
        help="top-N artists: --user SHA1 (a listener in the data) or artists (a new listener)",
        add_help=False,
    )
    commands.add_parser("listeners", help="listeners in the data, to try recommend --user on", add_help=False)
    commands.add_parser("artists", help="the most listened artists, for a new listener", add_help=False)
    for name, operation in OPERATIONS.items():
        commands.add_parser(name, help=operation.help, add_help=False)
    if argv is None:
        argv = sys.argv[1:]
    # the settings a user keeps in .env (copied from .env.example), for every command below
    load_env_file(repo_root() / ENV_FILE)
    for warning in adopt_renamed_env():
        say(f"WARNING: {warning}")
    if argv and argv[0] in OPERATIONS:
        import importlib

        operation = OPERATIONS[argv[0]]
        module = importlib.import_module(operation.module)
        return int(module.main([*operation.args, *argv[1:]]) or 0)
    if argv and argv[0] in LISTENER_COMMANDS:
        from lastfm_lakehouse.recommenders import listener

        if argv[0] == "recommend":
            return listener.main(argv[1:])
        return listener.listeners_main(argv[1:], what=argv[0])
    args = parser.parse_args(argv)
    if getattr(args, "dbt_args", None) and args.dbt_args[0] == "--":
        args.dbt_args = args.dbt_args[1:]
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
