"""Versioned table locations: how a table is replaced without a reader ever seeing it missing,
empty or half-written, on Parquet tables in a Hive metastore (Delta's atomic replace is not to be
had offline here).

Each build writes the table's new data to a directory of its own, ``<schema
location>/<table>__versions/v<UTC timestamp>``, and then points the table at it with one metastore
operation (``ALTER TABLE ... SET LOCATION``). A query planned before the switch keeps reading the
previous version's files, so a version is removed only once it is no longer the table's and older
than a grace period (longer than the longest query plus the server's metadata cache TTL). Removal
happens when the table is next published; what is left over is reported.
"""

from __future__ import annotations

import datetime as dt
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

VERSIONS_SUFFIX = "__versions"
# Written into a version's directory when the table stops pointing at it: the grace period counts
# from then. (Spark ignores files whose names start with "_" when it reads a table.)
RETIRED_MARKER = "_lakehouse_retired_at"
VERSION_PREFIX = "v"
STAMP = "%Y%m%dT%H%M%S%f"


def local_path(location: str) -> Path | None:
    """The local directory of a ``file:`` (or scheme-less) location; None for other file systems."""
    parsed = urlparse(location)
    if parsed.scheme in ("", "file"):
        return Path(unquote(parsed.path))
    return None


def versions_dir(schema_location: str, identifier: str) -> str:
    return f"{schema_location.rstrip('/')}/{identifier}{VERSIONS_SUFFIX}"


def new_version(schema_location: str, identifier: str, now: dt.datetime | None = None) -> str:
    """A location no other build has used: the table's versions directory + a UTC timestamp."""
    stamp = (now or dt.datetime.now(dt.timezone.utc)).strftime(STAMP)
    return f"{versions_dir(schema_location, identifier)}/{VERSION_PREFIX}{stamp}"


def _same(a: str, b: str) -> bool:
    pa, pb = local_path(a), local_path(b)
    if pa is not None and pb is not None:
        return pa.resolve() == pb.resolve()
    return a.rstrip("/") == b.rstrip("/")


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


@dataclass
class Retired:
    """What ``retire`` did: versions removed, and versions kept besides the current one."""

    removed: list[str] = field(default_factory=list)
    removed_bytes: int = 0
    kept: list[str] = field(default_factory=list)
    kept_bytes: int = 0
    skipped: str = ""

    def summary(self) -> str:
        if self.skipped:
            return self.skipped
        return (
            f"removed {len(self.removed)} old version(s) ({self.removed_bytes:,} bytes), kept "
            f"{len(self.kept)} within the grace period ({self.kept_bytes:,} bytes)"
        )


def mark_retired(location: str) -> None:
    """Record that the table no longer points at ``location`` (its readers' grace starts now)."""
    path = local_path(location)
    if path is not None and path.is_dir():
        (path / RETIRED_MARKER).write_text(f"{time.time():.3f}\n")


def retire(
    schema_location: str, identifier: str, current: str, grace_seconds: float, now: float | None = None
) -> Retired:
    """Remove the table's versions that are not ``current`` and left it more than ``grace_seconds``
    ago (``mark_retired``), and at once those it never pointed at (what a killed build wrote: no
    reader can have seen them); report what was removed and what is kept. (One build per table at
    a time, as dbt's own staging names assume.)"""
    root = local_path(versions_dir(schema_location, identifier))
    if root is None:
        return Retired(skipped=f"versions of {identifier} not cleaned: {schema_location} is not local")
    result = Retired()
    # the table's directory from before versioning (a managed table's default location) counts too
    legacy = local_path(f"{schema_location.rstrip('/')}/{identifier}")
    candidates = [legacy] if legacy is not None and legacy.is_dir() else []
    if root.is_dir():
        candidates += sorted(p for p in root.iterdir() if p.is_dir())
    clock = time.time() if now is None else now
    for version in candidates:
        if _same(str(version), current):
            continue
        size = _size(version)
        marker = version / RETIRED_MARKER
        never_published = not marker.is_file()
        if never_published or clock - marker.stat().st_mtime >= grace_seconds:
            shutil.rmtree(version, ignore_errors=True)
            result.removed.append(str(version))
            result.removed_bytes += size
        else:
            result.kept.append(str(version))
            result.kept_bytes += size
    return result
