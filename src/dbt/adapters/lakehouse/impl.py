"""The ``lakehouse`` adapter: dbt-spark's adapter with project helpers and Python model submission."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from dbt.adapters.base import BaseRelation, PythonJobHelper, available
from dbt.adapters.spark.impl import SparkAdapter
from dbt_common.exceptions import DbtRuntimeError

from dbt.adapters.lakehouse import versions
from dbt.adapters.lakehouse.connections import LakehouseConnectionManager
from dbt.adapters.lakehouse.python_submissions import ConnectPythonJobHelper, SessionPythonJobHelper
from lastfm_lakehouse import batches, provenance


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
    def same_location(self, location: str | None, path: str) -> bool:
        """A table location (``file:/...`` from ``describe table extended``) names this local path."""
        if not location:
            return False
        here = versions.local_path(location)
        return here is not None and here.resolve() == Path(path).resolve()

    @available
    def starts_with_bom(self, path: str) -> bool:
        """True when the file starts with a UTF-8 byte-order mark (Spark's text reader skips it)."""
        return batches.starts_with_bom(Path(path))

    @available
    def file_fingerprint(self, path: str) -> str:
        """Size and modification time of the file (``batches.fingerprint``)."""
        return batches.fingerprint(Path(path))

    @available
    def batch_files(self, raw_dir: str) -> list[dict[str, object]]:
        """The files of ``<raw_dir>/batches/<YYYY-MM-DD>/``, oldest batch first (see
        ``lastfm_lakehouse.batches``); a folder or file outside the contract fails the build."""
        try:
            return [found.as_row() for found in batches.find(Path(raw_dir))]
        except ValueError as exc:
            raise DbtRuntimeError(str(exc)) from exc

    @available
    def schema_location(self, schema: str) -> str:
        """Where the schema's tables live (``describe schema extended``'s Location)."""
        _, table = self.execute(f"describe schema extended {schema}", fetch=True)
        for row in table.rows:
            if str(row[0]).strip().lower() == "location":
                return str(row[1]).strip()
        raise DbtRuntimeError(f"schema {schema} reports no Location")

    @available
    def new_table_version(self, schema_location: str, identifier: str) -> str:
        """A fresh directory for the next version of a table (see ``versions``)."""
        return versions.new_version(schema_location, identifier)

    @available
    def table_location(self, relation: BaseRelation) -> str | None:
        """The table's current location (``describe table extended``), or None."""
        _, table = self.execute(f"describe table extended {relation}", fetch=True)
        for row in table.rows:
            if str(row[0]).strip() == "Location":
                return str(row[1]).strip()
        return None

    @available
    def mark_version_retired(self, location: str | None) -> str:
        """The table no longer points at ``location``: its grace period starts now."""
        if location:
            versions.mark_retired(location)
        return ""

    @available
    def retire_table_versions(
        self, schema_location: str, identifier: str, current: str, grace_seconds: float
    ) -> str:
        """Remove the table's old versions past the grace period; a line saying what was done."""
        return versions.retire(schema_location, identifier, current, float(grace_seconds)).summary()

    @available
    def same_columns(self, relation: BaseRelation, other: BaseRelation) -> bool:
        """Both relations have the same column names and types, in the same order."""

        def columns(r: BaseRelation) -> list[tuple[str, str]]:
            return [(c.name.lower(), c.dtype.lower()) for c in self.get_columns_in_relation(r)]

        return columns(relation) == columns(other)

    @available
    def project_commit(self) -> str:
        """The git commit of the dbt project being built (``+dirty`` with uncommitted changes), or
        ``unknown`` outside a checkout: recorded in every Delta commit a build makes."""
        return provenance.git_commit(str(self.config.project_root))

    @available
    def delta_version(self, relation: BaseRelation | None) -> int | None:
        """The table's current Delta version (``describe history ... limit 1``), None when it does
        not exist or is not a Delta table."""
        if relation is None or not relation.is_table:
            return None
        try:
            _, table = self.execute(f"describe history {relation} limit 1", fetch=True)
        except Exception:  # not a Delta table (DESCRIBE HISTORY is Delta's): nothing to go back to
            return None
        return int(table.rows[0]["version"]) if table.rows else None

    @available
    def delta_version_before(self, relation: BaseRelation | None, started_at: str) -> int | None:
        """The table's newest Delta version committed before ``started_at`` (ISO 8601; dbt's
        ``run_started_at``): the version an invocation that started then found, and what its
        write-audit-publish goes back to. None when there was none (or not a Delta table)."""
        if relation is None or not relation.is_table:
            return None
        started = dt.datetime.fromisoformat(started_at)
        started = started if started.tzinfo else started.replace(tzinfo=dt.UTC)
        try:
            _, table = self.execute(f"describe history {relation}", fetch=True)
        except Exception:  # not a Delta table
            return None
        before = [
            int(row["version"])
            for row in table.rows
            # the session's time zone is UTC (spark_session), so the history's times are UTC
            if _as_utc(row["timestamp"]) < started
        ]
        return max(before, default=None)

    @available
    def table_properties(self, relation: BaseRelation) -> dict[str, str]:
        """``show tblproperties``: the table's properties (on Delta, those of its current version)."""
        _, table = self.execute(f"show tblproperties {relation}", fetch=True)
        return {str(row[0]): str(row[1]) for row in table.rows}

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


def _as_utc(value: object) -> dt.datetime:
    """A timestamp of ``describe history`` (a datetime, or its text) as an aware UTC datetime."""
    moment = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
