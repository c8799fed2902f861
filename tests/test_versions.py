"""Versioned table locations (dbt.adapters.lakehouse.versions): where a new version goes and which
old versions are removed - pure file-system logic, no JVM (the publish itself is tested in
test_server with readers querying through a rebuild)."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from dbt.adapters.lakehouse import versions


def write_version(directory: Path, size: int, age_seconds: float, now: float) -> Path:
    directory.mkdir(parents=True)
    part = directory / "part-00000.parquet"
    part.write_bytes(b"x" * size)
    for path in (part, directory):
        os.utime(path, (now - age_seconds, now - age_seconds))
    return directory


def test_a_new_version_is_a_fresh_timestamped_directory_beside_the_table() -> None:
    at = dt.datetime(2026, 11, 23, 22, 5, 1, 123456, tzinfo=dt.timezone.utc)
    location = versions.new_version("file:/w/lastfm.db/", "dim_users", at)
    assert location == "file:/w/lastfm.db/dim_users__versions/v20261123T220501123456"
    assert versions.local_path(location) == Path("/w/lastfm.db/dim_users__versions/v20261123T220501123456")
    assert versions.local_path("hdfs://nn/w/lastfm.db") is None


def retired_at(version: Path, age_seconds: float, now: float) -> Path:
    versions.mark_retired(f"file:{version}")
    marker = version / versions.RETIRED_MARKER
    os.utime(marker, (now - age_seconds, now - age_seconds))
    return version


def test_retire_keeps_replaced_versions_for_the_grace_period_and_drops_what_was_never_published(
    tmp_path: Path,
) -> None:
    now = 1_000_000.0
    schema = tmp_path / "lastfm.db"
    root = schema / "fct_plays__versions"
    long_replaced = retired_at(write_version(root / "v1", 100, 5_000, now), 900, now)
    # written long ago, replaced a minute ago: queries planned before the switch still read it
    just_replaced = retired_at(write_version(root / "v2", 40, 5_000, now), 60, now)
    current = write_version(root / "v3", 7, age_seconds=5_000, now=now)  # old but in use
    orphan = write_version(root / "v4", 11, age_seconds=5, now=now)  # a killed build's: never published
    legacy = retired_at(write_version(schema / "fct_plays", 5, 5_000, now), 900, now)  # pre-versioning
    other = write_version(schema / "dim_users__versions" / "v1", 3, age_seconds=900, now=now)
    marker_bytes = len((long_replaced / versions.RETIRED_MARKER).read_bytes())

    retired = versions.retire(f"file:{schema}", "fct_plays", f"file:{current}", 300, now=now)

    assert sorted(retired.removed) == sorted(str(p) for p in (long_replaced, orphan, legacy))
    assert retired.removed_bytes == 100 + 11 + 5 + 2 * marker_bytes
    assert retired.kept == [str(just_replaced)] and retired.kept_bytes == 40 + marker_bytes
    assert not long_replaced.exists() and not orphan.exists() and not legacy.exists()
    assert just_replaced.exists() and current.exists() and other.exists()
    assert "removed 3 old version(s)" in retired.summary() and "kept 1" in retired.summary()

    os.utime(just_replaced / versions.RETIRED_MARKER, (now - 301, now - 301))  # grace is over
    again = versions.retire(f"file:{schema}", "fct_plays", f"file:{current}", 300, now=now)
    assert again.removed == [str(just_replaced)] and not just_replaced.exists() and current.exists()


def test_retire_leaves_remote_file_systems_alone_and_says_so() -> None:
    retired = versions.retire("s3a://bucket/lastfm.db", "fct_plays", "s3a://bucket/x", 0)
    assert not retired.removed and "not local" in retired.summary()
