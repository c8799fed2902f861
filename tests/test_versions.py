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


def test_retire_removes_only_replaced_versions_past_the_grace_period(tmp_path: Path) -> None:
    now = 1_000_000.0
    schema = tmp_path / "lastfm.db"
    root = schema / "fct_plays__versions"
    old = write_version(root / "v1", 100, age_seconds=900, now=now)
    recent = write_version(root / "v2", 40, age_seconds=60, now=now)
    current = write_version(root / "v3", 7, age_seconds=1_000, now=now)  # old but in use
    # written long ago, replaced a minute ago: readers that planned before the switch still read it
    replaced = write_version(root / "v0", 9, age_seconds=5_000, now=now)
    versions.mark_retired(f"file:{replaced}")
    marker = replaced / versions.RETIRED_MARKER
    os.utime(marker, (now - 60, now - 60))
    legacy = write_version(schema / "fct_plays", 5, age_seconds=900, now=now)  # pre-versioning dir
    other = write_version(schema / "dim_users__versions" / "v1", 3, age_seconds=900, now=now)

    retired = versions.retire(f"file:{schema}", "fct_plays", f"file:{current}", 300, now=now)

    assert sorted(retired.removed) == sorted([str(old), str(legacy)])
    assert retired.removed_bytes == 105
    assert sorted(retired.kept) == sorted([str(recent), str(replaced)])
    assert retired.kept_bytes == 40 + 9 + len(marker.read_bytes())
    assert not old.exists() and not legacy.exists()
    assert recent.exists() and current.exists() and other.exists() and replaced.exists()
    assert "removed 2 old version(s) (105 bytes), kept 2" in retired.summary()

    os.utime(marker, (now - 301, now - 301))  # its grace period is over
    again = versions.retire(f"file:{schema}", "fct_plays", f"file:{current}", 300, now=now)
    assert str(replaced) in again.removed and not replaced.exists()


def test_retire_leaves_remote_file_systems_alone_and_says_so() -> None:
    retired = versions.retire("s3a://bucket/lastfm.db", "fct_plays", "s3a://bucket/x", 0)
    assert not retired.removed and "not local" in retired.summary()
