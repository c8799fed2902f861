"""``lastfm-lakehouse build`` (what ``make build`` runs) and ``dbt show``, as a user runs them:
separate processes with their own lakehouse home."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from lastfm_lakehouse.build_args import production_build_args
from lastfm_lakehouse.cli import with_vars
from lastfm_lakehouse.settings import PLAYS_FILE

from .conftest import REPO, CliLakehouse
from .rawfiles import parse_plays


def run(
    args: list[str], env: dict[str, str], cwd: Path = REPO, timeout: int = 600
) -> subprocess.CompletedProcess:
    return subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def dbt_show(env: dict[str, str], sql: str, *options: str) -> subprocess.CompletedProcess:
    """``dbt show --inline <sql>`` of the project, as a user runs it from dbt_project/."""
    command = [sys.executable, "-m", "dbt.cli.main", "show", "--inline", sql, *options]
    return run([*command, "--profiles-dir", "../profiles"], env, cwd=REPO / "dbt_project")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    values = {**os.environ, "LAKEHOUSE_HOME": str(tmp_path / "home"), "LAKEHOUSE_DRIVER_MEMORY": "2g"}
    for name in ("LAKEHOUSE_RAW_DIR", "LAKEHOUSE_SCHEMA"):
        values.pop(name, None)
    return values


def test_raw_input_reaches_dbt_as_vars_merged_with_the_users_own() -> None:
    defaults = {"raw_data_dir": "/data/x", "plays_file": "p.tsv"}
    assert with_vars(["--select", "dim_users"], defaults) == [
        "--select",
        "dim_users",
        "--vars",
        json.dumps(defaults),
    ]
    merged = with_vars(["--vars", "{plays_cap: 500, raw_data_dir: /mine}", "-x"], defaults)
    assert merged[:1] == ["-x"] and merged[1] == "--vars"
    assert json.loads(merged[2]) == {"raw_data_dir": "/mine", "plays_file": "p.tsv", "plays_cap": 500}
    assert json.loads(with_vars(["--vars={a: 1}"], {})[1]) == {"a": 1}
    with pytest.raises(ValueError, match="mapping"):
        with_vars(["--vars", "[1, 2]"], defaults)


def test_the_production_build_leaves_unit_tests_out_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DBT_RESOURCE_TYPES", "DBT_EXCLUDE_RESOURCE_TYPES"):
        monkeypatch.delenv(name, raising=False)
    assert production_build_args(["--select", "dim_users"]) == [
        "--select",
        "dim_users",
        "--exclude-resource-type",
        "unit_test",
    ]
    assert production_build_args(["-x"], unit_tests=True) == ["-x"]
    # the user's own choice of resource types, as a flag (either spelling, = form) or dbt's env var
    for given in (["--resource-type", "model"], ["--exclude-resource-types", "test"], ["--resource-type=x"]):
        assert production_build_args(given) == given
    monkeypatch.setenv("DBT_EXCLUDE_RESOURCE_TYPES", "seed")
    assert production_build_args([]) == []


@pytest.mark.spark
def test_plain_dbt_on_a_directory_without_the_files_names_the_file_and_the_var(tmp_path: Path) -> None:
    from .conftest import invoke_dbt

    result = invoke_dbt("run", tmp_path / "nowhere", "cli_missing", tmp_path / "target", select="dim_users")
    assert not result.success  # type: ignore[attr-defined]
    message = str(result.exception)  # type: ignore[attr-defined]
    assert f"{tmp_path / 'nowhere'}/usersha1-artmbid-artname-plays.tsv not found" in message
    assert "raw_data_dir" in message


def test_missing_raw_files_fail_fast_and_say_which(env: dict[str, str], tmp_path: Path) -> None:
    env["LAKEHOUSE_RAW_DIR"] = str(tmp_path / "nowhere")
    result = run([sys.executable, "-m", "lastfm_lakehouse.cli", "build"], env, timeout=60)
    assert result.returncode == 2
    assert "usersha1-artmbid-artname-plays.tsv" in result.stderr and "usersha1-profile.tsv" in result.stderr


@pytest.mark.spark
def test_build_prints_data_and_tables_then_dbt_show_answers(
    cli_lakehouse: CliLakehouse, tmp_path: Path
) -> None:
    raw, env, result = cli_lakehouse.raw, dict(cli_lakehouse.env), cli_lakehouse.build
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    expected = parse_plays(raw / PLAYS_FILE)
    assert f"raw data: ${'LAKEHOUSE_RAW_DIR'}: {raw}" in result.stderr
    assert "unit tests left out (production build" in result.stderr
    # a Python model says what it is doing, step by step with times, between dbt's node lines
    assert re.search(
        r"lastfm\.mart_recommendations_knn: fit: features and pruned inverted index done in \d+\.\d s",
        result.stderr,
    ), result.stderr[-3000:]
    assert re.search(r"lastfm\.mart_model_evaluation: knn: fit and top-10 lists", result.stderr)
    assert (
        f"plays     staged {len(expected.valid):>12,}   rejected {len(expected.rejected):>8,}"
        in result.stderr
    )
    assert f"{cli_lakehouse.home / 'warehouse' / 'lastfm.db' / 'fct_plays'}" in result.stderr
    pairs = expected.valid.groupby(["user_sha1", "artist_id"]).ngroups

    show = dbt_show(env, "select count(*) as n from {{ ref('fct_plays') }}")
    assert show.returncode == 0, show.stdout[-3000:]
    assert f"| {pairs} |" in show.stdout.replace(" ", " ")

    # the dbt docs catalogue covers the marts and the exposures
    docs = run(
        [
            sys.executable,
            "-m",
            "dbt.cli.main",
            "docs",
            "generate",
            "--profiles-dir",
            "../profiles",
            "--target-path",
            str(tmp_path / "docs"),
        ],
        env,
        cwd=REPO / "dbt_project",
    )
    assert docs.returncode == 0, docs.stdout[-3000:]
    catalog = json.loads((tmp_path / "docs" / "catalog.json").read_text())
    manifest = json.loads((tmp_path / "docs" / "manifest.json").read_text())
    built = {node.split(".")[-1] for node in catalog["nodes"]}
    assert {"mart_recommendations_als", "mart_model_evaluation", "dim_users", "fct_plays"} <= built
    assert {e.split(".")[-1] for e in manifest["exposures"]} >= {
        "listener_recommendations",
        "recommender_quality",
    }

    # a new listener, folded into the ALS factors just built (no retraining)
    names = expected.valid.groupby("artist_name").user_sha1.nunique().sort_values(ascending=False).index[:2]
    listener = run(
        [
            sys.executable,
            "-m",
            "lastfm_lakehouse.cli",
            "recommend",
            names[0],
            f"{names[1]}=3",
            "-n",
            "5",
            "--tsv",
        ],
        env,
    )
    assert listener.returncode == 0, listener.stderr[-3000:]
    table = pd.read_csv(io.StringIO(listener.stdout), sep="\t", keep_default_na=False)
    assert table.columns.tolist() == ["rank", "artist_key", "artist_name", "score", "because"]
    assert table["rank"].tolist() == [1, 2, 3, 4, 5] and table.score.is_monotonic_decreasing
    assert not set(table.artist_name) & set(names) and set(table.because) <= set(names)
    unknown = run([sys.executable, "-m", "lastfm_lakehouse.cli", "recommend", "no such artist at all"], env)
    assert unknown.returncode == 2 and "no artist named 'no such artist at all'" in unknown.stderr

    # a listener in the data: their served list is the mart's, as dbt show and a BI tool read it
    mart = dbt_show(
        env,
        "select user_sha1, rank, artist_name from {{ ref('mart_recommendations_als') }}",
        "--limit",
        "-1",
        "--output",
        "json",
    )
    assert mart.returncode == 0, mart.stdout[-3000:]
    shown = mart.stdout[: mart.stdout.index('"show"')].rindex("{")
    rows = pd.DataFrame(json.JSONDecoder().raw_decode(mart.stdout[shown:])[0]["show"])
    someone = rows.user_sha1.iloc[0]
    served = run(
        [sys.executable, "-m", "lastfm_lakehouse.cli", "recommend", "--user", someone.upper(), "-n", "4"],
        env,
    )
    assert served.returncode == 0, served.stderr[-3000:]
    expected_names = rows[rows.user_sha1 == someone].sort_values("rank").artist_name.head(4).tolist()
    assert all(name in served.stdout for name in expected_names), served.stdout
    for bad, says in (("0" * 40, "no recommendations for"), ("not-a-sha1", "is not a user sha1")):
        refused = run([sys.executable, "-m", "lastfm_lakehouse.cli", "recommend", "--user", bad], env)
        assert refused.returncode == 2 and says in refused.stderr, refused.stderr[-2000:]

    # the README's first-recommendation blocks, as written, with the placeholders filled in from
    # the commands before them (as a reader would copy them)
    run_readme_blocks(env)
    missing = {**env, "LAKEHOUSE_SCHEMA": "never_built"}
    never = run([sys.executable, "-m", "lastfm_lakehouse.cli", "listeners"], missing)
    assert never.returncode == 2 and "never_built.dim_users" in never.stderr and "make build" in never.stderr


def readme_blocks() -> list[list[str]]:
    """The README's command blocks marked ``<!-- tested: tests/test_cli.py``: their command lines."""
    text = (REPO / "README.md").read_text()
    blocks = re.findall(r"<!-- tested: tests/test_cli\.py.*?-->\n```bash\n(.*?)```", text, flags=re.DOTALL)
    return [[line for line in block.splitlines() if line.strip()] for block in blocks]


def run_readme_blocks(env: dict[str, str]) -> None:
    blocks = readme_blocks()
    assert len(blocks) == 2, "the README's tested blocks are gone or renamed"
    venv_bin = f"{Path(sys.executable).parent}/"
    filled: dict[str, str] = {}
    for block in blocks:
        for line in block:
            command = line.replace(".venv/bin/", venv_bin)
            for placeholder, value in filled.items():
                command = command.replace(placeholder, value)
            assert "<" not in command.split("#")[0].replace("<=", ""), f"unfilled placeholder: {command}"
            done = run(["bash", "-c", command], env)
            assert done.returncode == 0, (
                f"README command failed: {line}\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
            )
            assert done.stdout.strip(), f"README command printed nothing: {line}"
            words = command.split("#")[0].split()
            if "listeners" in words:
                filled["<sha1>"] = re.findall(r"\b[0-9a-f]{40}\b", done.stdout)[0]
            if "artists" in words:  # names hold spaces: read them from the same command's --tsv
                table = run(["bash", "-c", " ".join([*words, "--tsv"])], env)
                first = pd.read_csv(io.StringIO(table.stdout), sep="\t", keep_default_na=False)
                # the README puts them in double quotes: escape what bash would expand there
                quoted = [re.sub(r'(["$`\\])', r"\\\1", name) for name in first.artist_name.iloc[:2]]
                filled["<artist>"], filled["<other artist>"] = quoted
            if "recommend" in words or "show" in words:
                assert "because" in done.stdout, done.stdout


def test_one_command_lists_every_operation_and_make_targets_are_aliases_of_it() -> None:
    from lastfm_lakehouse.cli import LISTENER_COMMANDS, OPERATIONS

    listed = run([sys.executable, "-m", "lastfm_lakehouse.cli", "--help"], dict(os.environ), timeout=60)
    assert listed.returncode == 0
    everything = ("build", "data", *LISTENER_COMMANDS, *OPERATIONS)
    for name in everything:
        assert re.search(rf"^\s+{re.escape(name)}\s", listed.stdout, flags=re.MULTILINE), name
    for name, operation in OPERATIONS.items():  # every command reaches a module with a main(argv)
        module = __import__(operation.module, fromlist=["main"])
        assert callable(module.main), name
    makefile = (REPO / "Makefile").read_text()
    used = set(re.findall(r"\$\(BIN\)/lastfm-lakehouse ([a-z-]+)", makefile))
    assert used >= {"build", "serve", "stop", "status", "dashboards", "bench", "bench-serve", "docs"}
    assert used <= set(everything), used - set(everything)
    assert "python -m lastfm_lakehouse.serving" not in makefile


def test_an_operation_gets_the_users_arguments_and_its_own_errors() -> None:
    refused = run([sys.executable, "-m", "lastfm_lakehouse.cli", "bench", "--scale", "5"], dict(os.environ))
    assert refused.returncode == 2 and "--scale must be in (0, 1], got 5.0" in refused.stderr
    helped = run([sys.executable, "-m", "lastfm_lakehouse.cli", "metastore", "--help"], dict(os.environ))
    assert helped.returncode == 0 and "{up,down,status,url}" in helped.stdout


@pytest.mark.spark
def test_dbt_alone_stops_on_a_retired_setting_and_names_the_new_one(env: dict[str, str]) -> None:
    env["LASTFM_SCHEMA"] = "old_name"
    env.pop("LAKEHOUSE_SCHEMA", None)
    ran = run(
        [
            sys.executable,
            "-m",
            "dbt.cli.main",
            "run",
            "--select",
            "dim_users",
            "--profiles-dir",
            "../profiles",
        ],
        env,
        cwd=REPO / "dbt_project",
    )
    assert ran.returncode != 0
    assert "LASTFM_SCHEMA is now LAKEHOUSE_SCHEMA: rename it" in ran.stdout, ran.stdout[-3000:]
    assert not (Path(env["LAKEHOUSE_HOME"]) / "warehouse").exists()  # stopped before anything ran
