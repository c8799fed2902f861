"""The ``lakehouse`` adapter plugin: Python models run in the embedded session, next to SQL models,
and an exception inside one surfaces in dbt's result with the model's name and a readable traceback."""

from __future__ import annotations

import os
from pathlib import Path

from .conftest import REPO

PROJECT = """
name: plugin_check
version: "1.0.0"
config-version: 2
profile: lastfm_lakehouse
models:
  plugin_check:
    +materialized: table
"""

FAILING_MODEL = """
def helper(value):
    raise ValueError(f"no artist called {value!r}")


def model(dbt, spark):
    upstream = dbt.ref("numbers")
    return helper(upstream.count())
"""

WORKING_MODEL = """
def model(dbt, spark):
    return dbt.ref("numbers").selectExpr("n * 2 as doubled")
"""


def run(project: Path, select: str) -> object:
    from dbt.cli.main import dbtRunner

    os.environ["LAKEHOUSE_SCHEMA"] = "plugin_check"
    try:
        return dbtRunner().invoke(
            [
                "build",
                "--project-dir",
                str(project),
                "--profiles-dir",
                str(REPO / "profiles"),
                "--select",
                select,
            ]
        )
    finally:
        os.environ.pop("LAKEHOUSE_SCHEMA", None)


def test_python_model_next_to_sql_and_its_errors(spark, tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "models").mkdir(parents=True)
    (project / "dbt_project.yml").write_text(PROJECT, encoding="utf-8")
    (project / "models" / "numbers.sql").write_text("select id as n from range(5)", encoding="utf-8")
    (project / "models" / "doubled.py").write_text(WORKING_MODEL, encoding="utf-8")
    (project / "models" / "broken.py").write_text(FAILING_MODEL, encoding="utf-8")

    ok = run(project, "numbers doubled")
    assert ok.success
    assert sorted(r[0] for r in spark.sql("select doubled from plugin_check.doubled").collect()) == [
        0,
        2,
        4,
        6,
        8,
    ]

    failed = run(project, "broken")
    assert not failed.success
    message = failed.result[0].message
    assert "Python model plugin_check.broken failed: ValueError: no artist called 5" in message
    assert 'File "<dbt python model plugin_check.broken>"' in message and "in helper" in message
