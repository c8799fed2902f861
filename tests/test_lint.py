"""``make lint``: ruff, the country docs check and sqlfluff (dbt templater, sparksql) - zero violations."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from .conftest import REPO

pytestmark = pytest.mark.spark  # starts JVMs (Spark, servers, dbt builds)


def test_make_lint_passes(tmp_path: Path) -> None:
    env = {**os.environ, "LINT_LAKEHOUSE_HOME": str(tmp_path / "lint-home"), "LAKEHOUSE_DRIVER_MEMORY": "2g"}
    env.pop("LAKEHOUSE_SCHEMA", None)
    result = subprocess.run(
        ["make", "lint"], cwd=REPO, env=env, capture_output=True, text=True, timeout=900, check=False
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-3000:]
    assert "All Finished" in result.stdout
