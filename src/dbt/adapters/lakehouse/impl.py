"""The ``lakehouse`` adapter: dbt-spark's adapter with project helpers and Python model submission."""

from __future__ import annotations

from pathlib import Path

from dbt.adapters.base import PythonJobHelper, available
from dbt.adapters.spark.impl import SparkAdapter

from dbt.adapters.lakehouse.connections import LakehouseConnectionManager
from dbt.adapters.lakehouse.python_submissions import ConnectPythonJobHelper, SessionPythonJobHelper


class LakehouseAdapter(SparkAdapter):
    ConnectionManager = LakehouseConnectionManager

    @classmethod
    def type(cls) -> str:
        return "lakehouse"

    @available
    def absolute_path(self, path: str) -> str:
        """``path`` made absolute: a relative one is relative to the dbt project's directory (Spark
        would otherwise resolve a table location against its own working directory)."""
        return str((Path(self.config.project_root) / Path(path).expanduser()).resolve())

    @available
    def is_file(self, path: str) -> bool:
        return Path(path).is_file()

    @available
    def starts_with_bom(self, path: str) -> bool:
        """True when the file starts with a UTF-8 byte-order mark (Spark's text reader skips it)."""
        with open(path, "rb") as handle:
            return handle.read(3) == b"\xef\xbb\xbf"

    @available
    def default_table_format(self) -> str:
        """The profile's table format (parquet or delta), used when a model sets no file_format."""
        credentials = self.config.credentials
        if hasattr(credentials, "spark_settings"):
            return credentials.spark_settings().table_format
        return "parquet"

    @property
    def default_python_submission_method(self) -> str:
        """In-process for the embedded target, Spark Connect when dbt talks to a server."""
        return "session" if self.config.credentials.method == "session" else "connect"

    @property
    def python_submission_helpers(self) -> dict[str, type[PythonJobHelper]]:
        return {
            **super().python_submission_helpers,
            "session": SessionPythonJobHelper,
            "connect": ConnectPythonJobHelper,
        }
