"""Shared fixtures: one real embedded SparkSession (Hive metastore on Derby in a temp dir) per test
run, and a helper that runs the real ``dbt build`` in this process through dbt's ``dbtRunner``.

Each build gets its own schema (and raw schema), so builds on different raw data live side by side
in the one metastore that a single JVM allows.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_REAL = REPO.parent / "shared" / "data" / "lastfm360k-real"
PLAYS_SAMPLE = SHARED_REAL / "plays_fairreckitlib_lfm360k_sample.tsv"
PROFILE_SAMPLE = SHARED_REAL / "profile_activitat4ed.tsv"


# ``make test TEST_WORKERS=N`` runs on N workers (pytest-xdist, ``--dist loadscope``, scheduled by
# ``ModuleGroupScheduling`` below); the default is one process: on 2 cores two workers took longer
# (4,788 s against 4,528 s, every build slowed by the other's). A module is one unit of work, so
# that its module-scoped lakehouse is built once, on one worker; modules that share a
# session-scoped lakehouse are one unit too (``cli_lakehouse``: test_cli checks it, then
# test_dashboards serves it, from one Derby metastore that only one JVM at a time may open).
SHARED_GROUPS = {"test_cli": "cli_lakehouse", "test_dashboards": "cli_lakehouse"}
# Seconds each unit took on 2 cores (fresh-clone run at 9980b2a, 75 min on one worker): the heaviest
# are handed out first, so that no long unit starts last while the other worker sits idle. Only the
# order depends on these figures; a stale one costs time, never a result.
GROUP_SECONDS = {
    "cli_lakehouse": 1100,
    "test_server": 950,
    "test_crash_safety": 630,
    "test_batches_build": 520,
    "test_bench": 305,
    "test_dialects": 250,
    "test_build_real_excerpts": 240,
    "test_build_generated": 160,
    "test_delta": 140,
    "test_server_auth": 120,
    "test_lookup_budget": 60,
    "test_hostile_lines": 50,
    "test_lint": 47,
    "test_recommender_contract": 100,
}


def work_group(nodeid: str) -> str:
    """The unit of work of a test: its module's, or the group the module shares (SHARED_GROUPS)."""
    module = Path(nodeid.split("::", 1)[0]).stem
    return SHARED_GROUPS.get(module, module)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that uses the ``spark`` fixture (a JVM) is in the ``spark`` tier; ``make test-unit``
    runs the others (``-m "not spark"``). Tests that start a JVM another way are marked by hand.
    The heaviest work groups go first (GROUP_SECONDS); a module keeps its own order."""
    for item in items:
        if "spark" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.spark)
    if os.environ.get("PYTEST_XDIST_WORKER"):  # one process keeps the files' order
        items.sort(key=lambda item: -GROUP_SECONDS.get(work_group(item.nodeid), 0))


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    """``--dist loadscope`` with a scope per work group (``work_group``), handed out in collection
    order (``--no-loadscope-reorder``: heaviest first). Written here because xdist's own
    ``loadgroup`` marks a test's group by rewriting its node id, which pytest 9 no longer reads (every
    test of a module landed on either worker, and module fixtures were built twice)."""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ModuleGroupScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return work_group(nodeid)

    return ModuleGroupScheduling(config, log)  # type: ignore[arg-type]


def pytest_configure(config: pytest.Config) -> None:
    """dbt run as a separate process from dbt_project/ writes its target/ there; two workers doing
    so at once would overwrite each other's manifest and partial-parse state, so each worker gets
    its own, outside the repository. (Its logs/ stay: tests read dbt.log there, and appends of
    whole lines do not collide.)"""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker and "DBT_TARGET_PATH" not in os.environ:
        os.environ["DBT_TARGET_PATH"] = tempfile.mkdtemp(prefix=f"lakehouse-tests-dbt-target-{worker}-")


@pytest.fixture(scope="session")
def lakehouse_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("lakehouse")
    os.environ["LAKEHOUSE_HOME"] = str(home)
    os.environ.setdefault("LAKEHOUSE_DRIVER_MEMORY", "4g")
    return home


@pytest.fixture(scope="session")
def spark(lakehouse_home: Path) -> Iterator[object]:
    from lastfm_lakehouse.settings import SparkSettings
    from lastfm_lakehouse.spark_session import get_or_create

    session = get_or_create(SparkSettings.from_env(home=lakehouse_home))
    yield session
    session.stop()


@dataclass
class Build:
    schema: str
    raw_dir: Path
    success: bool
    results: list

    def table(self, spark: object, name: str, layer: str = "") -> object:
        schema = f"{self.schema}_{layer}" if layer else self.schema
        return spark.table(f"{schema}.{name}")  # type: ignore[attr-defined]


def invoke_dbt(
    command: str,
    raw_dir: Path,
    schema: str,
    target_dir: Path,
    variables: dict | None = None,
    select: str | None = None,
    project_dir: Path = REPO / "dbt_project",
    table_format: str | None = None,
    unit_tests: bool = False,
) -> object:
    """``dbt <command>`` (words: ``run-operation <macro>`` too) of the project (``project_dir``: this
    repo's, or a copy from ``project_copy``) on ``raw_dir`` into ``schema``, in this process;
    ``select`` limits it to those nodes and the tests whose parents are all selected;
    ``table_format`` (``LAKEHOUSE_TABLE_FORMAT``) writes its tables as ``parquet`` (the fallback) or
    ``delta`` instead of the default. A ``build`` leaves dbt's unit tests out unless ``unit_tests``:
    their inputs are fixtures, so one build of the suite runs them (test_build_generated) and the
    others would only repeat them, at ~1-2 min a build."""
    from dbt.cli.main import dbtRunner

    given = {
        "raw_schema": f"{schema}_raw",
        "raw_data_dir": str(raw_dir),
        "raw_data_fallback_dir": str(raw_dir),  # hermetic: never the repo's data/generated
        **(variables or {}),
    }
    leave_out_unit_tests = command.split()[0] == "build" and not unit_tests
    os.environ["LAKEHOUSE_SCHEMA"] = schema
    previous_format = os.environ.get("LAKEHOUSE_TABLE_FORMAT")
    if table_format:
        os.environ["LAKEHOUSE_TABLE_FORMAT"] = table_format
    try:
        return dbtRunner().invoke(
            [
                *command.split(),
                "--project-dir",
                str(project_dir),
                "--profiles-dir",
                str(REPO / "profiles"),
                "--target-path",
                str(target_dir),
                "--vars",
                json.dumps(given),
                *(["--select", select, "--indirect-selection", "cautious"] if select else []),
                *(["--exclude-resource-type", "unit_test"] if leave_out_unit_tests else []),
            ]
        )
    finally:
        os.environ.pop("LAKEHOUSE_SCHEMA", None)
        if previous_format is None:
            os.environ.pop("LAKEHOUSE_TABLE_FORMAT", None)
        else:
            os.environ["LAKEHOUSE_TABLE_FORMAT"] = previous_format


def dbt_build(
    raw_dir: Path,
    schema: str,
    target_dir: Path,
    variables: dict | None = None,
    select: str | None = None,
    table_format: str | None = None,
    unit_tests: bool = False,
) -> Build:
    """``dbt build`` (see ``invoke_dbt``), which must succeed."""
    result = invoke_dbt(
        "build",
        raw_dir,
        schema,
        target_dir,
        variables,
        select,
        table_format=table_format,
        unit_tests=unit_tests,
    )
    failures = [
        f"{r.node.unique_id}: {r.status} {r.message}"
        for r in (result.result or [])  # type: ignore[attr-defined]
        if str(r.status) not in ("success", "pass")
    ]
    assert result.success, f"dbt build failed: {result.exception or ''}\n" + "\n".join(failures)  # type: ignore[attr-defined]
    return Build(schema=schema, raw_dir=raw_dir, success=bool(result.success), results=list(result.result))  # type: ignore[attr-defined]


def project_copy(directory: Path, extra_tests: dict[str, str]) -> Path:
    """A copy of the dbt project with more singular data tests (file name -> SQL) in its tests/,
    beside links to the models_py/, seeds/ and profiles/ it refers to; its project directory."""
    root = directory / "repo"
    shutil.copytree(
        REPO / "dbt_project", root / "dbt_project", ignore=shutil.ignore_patterns("target", "logs")
    )
    for sibling in ("models_py", "seeds", "profiles"):
        (root / sibling).symlink_to(REPO / sibling)
    for name, sql in extra_tests.items():
        (root / "dbt_project" / "tests" / name).write_text(sql)
    return root / "dbt_project"


def copy_real_excerpts(directory: Path) -> Path:
    """The real excerpts under the original file names (skips when ../shared is absent)."""
    if not (PLAYS_SAMPLE.exists() and PROFILE_SAMPLE.exists()):
        pytest.skip(f"real excerpts not found in {SHARED_REAL}")
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(PLAYS_SAMPLE, directory / "usersha1-artmbid-artname-plays.tsv")
    shutil.copyfile(PROFILE_SAMPLE, directory / "usersha1-profile.tsv")
    return directory


@dataclass
class CliLakehouse:
    """A lakehouse ``lastfm-lakehouse build`` (what ``make build`` runs) made in a process of its own."""

    home: Path
    raw: Path
    env: dict[str, str]
    build: subprocess.CompletedProcess


@pytest.fixture(scope="session")
def cli_lakehouse() -> Iterator[CliLakehouse]:
    """Built once per test run and shared: ``test_cli`` checks the build and queries it as a user
    does, then ``test_dashboards`` serves it to Superset (a second build of its own cost ~100 s).
    In /tmp, not pytest's private tmp: the server and Superset read it as separate processes."""
    from lastfm_lakehouse.data import generate

    home = Path(tempfile.mkdtemp(prefix="lakehouse-cli-", dir="/tmp"))
    raw = home / "raw"
    generate.generate(raw, users=300, seed=7, progress=False)
    env = {
        **os.environ,
        "LAKEHOUSE_HOME": str(home / "lakehouse"),
        "LAKEHOUSE_DRIVER_MEMORY": "2g",
        "LAKEHOUSE_RAW_DIR": str(raw),
    }
    for name in ("LAKEHOUSE_SCHEMA", "DBT_TARGET", "LAKEHOUSE_SPARK_MASTER", "LAKEHOUSE_METASTORE_URL"):
        env.pop(name, None)
    build = subprocess.run(
        [sys.executable, "-m", "lastfm_lakehouse.cli", "build"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=1500,
        check=False,
    )
    try:
        yield CliLakehouse(home / "lakehouse", raw, env, build)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def secrets_on_command_lines(home: Path) -> list[str]:
    """Every secret of the lakehouse at ``home`` (its ``secrets/`` files) found on a running
    process's command line (``/proc/<pid>/cmdline``, what ``ps`` shows anyone), as
    ``<secret file> on pid <pid>: <command>``. Secrets reach programs through files, never argv."""
    folder = home / "secrets"
    secrets = {path.name: path.read_text().strip() for path in folder.iterdir() if path.is_file()}
    assert secrets and all(len(value) >= 16 for value in secrets.values()), sorted(secrets)
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # gone, or not ours to read
            continue
        found += [
            f"{name} on pid {proc.name}: {cmdline[:200]}"
            for name, value in secrets.items()
            if value in cmdline
        ]
    return found
