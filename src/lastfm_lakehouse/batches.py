"""The batch contract: new data lands in ``<raw data dir>/batches/<YYYY-MM-DD>/``.

Each folder holds any of ``usersha1-artmbid-artname-plays.tsv`` (plays added since the previous
batch), ``usersha1-profile.tsv`` (new listeners and changed profiles) and ``forget.tsv`` (one user
sha1 per line: listeners to be forgotten). Anything else there is a mistake the build names rather
than skips: a misspelt file would otherwise be ignored without a word.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

from lastfm_lakehouse.settings import BATCH_FILES, BATCHES_DIR, FORGET_FILE, PLAYS_FILE, PROFILES_FILE

BATCH_NAME = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# the raw text table each file kind is read through (create_raw_sources)
RAW_TABLES = {
    PLAYS_FILE: "raw_batch_plays",
    PROFILES_FILE: "raw_batch_profiles",
    FORGET_FILE: "raw_batch_forget",
}
SOURCE_TABLES = {PLAYS_FILE: "plays", PROFILES_FILE: "profiles", FORGET_FILE: "forget"}
# files a tool or a file system leaves beside data (_SUCCESS, .crc, a manifest), never read
IGNORED = re.compile(r"^([._].*|.*\.crc|GENERATED\.json|README.*)$")


@dataclass(frozen=True)
class BatchFile:
    batch: dt.date
    name: str
    path: Path

    @property
    def source_file(self) -> str:
        """How the load report names the file: its path under the raw data directory."""
        return f"{BATCHES_DIR}/{self.batch.isoformat()}/{self.name}"

    def starts_with_bom(self) -> bool:
        return starts_with_bom(self.path)

    def as_row(self) -> dict[str, object]:
        return {
            "batch": self.batch.isoformat(),
            "name": self.name,
            "path": str(self.path),
            "source_file": self.source_file,
            "source_table": SOURCE_TABLES[self.name],
            "starts_with_bom": self.starts_with_bom(),
            "fingerprint": fingerprint(self.path),
        }


def fingerprint(path: Path) -> str:
    """``<size>:<modification time in ns>``: what an incremental build compares to tell a file it has
    loaded from a file replaced or rewritten since (whose lines it then loads again). Not a hash of
    the content: that would read the 1.6 GB plays file on every build."""
    status = path.stat()
    return f"{status.st_size}:{status.st_mtime_ns}"


def starts_with_bom(path: Path) -> bool:
    """True when the file starts with a UTF-8 byte-order mark (Spark's text reader skips it)."""
    with path.open("rb") as handle:
        return handle.read(3) == b"\xef\xbb\xbf"


def batches_dir(raw_dir: Path) -> Path:
    return raw_dir / BATCHES_DIR


def find(raw_dir: Path) -> list[BatchFile]:
    """Every batch file under ``raw_dir``, oldest batch first; ValueError names what breaks the contract."""
    root = batches_dir(raw_dir)
    if not root.exists():
        return []
    if not root.is_dir():
        raise ValueError(f"{root} is not a directory: batches go in {root}/<YYYY-MM-DD>/")
    found: list[BatchFile] = []
    for folder in sorted(root.iterdir()):
        if IGNORED.match(folder.name):
            continue
        batch = _batch_date(folder)
        for path in sorted(folder.iterdir()):
            if IGNORED.match(path.name):
                continue
            if path.name not in BATCH_FILES or not path.is_file():
                raise ValueError(
                    f"{path}: not a batch file. A batch folder holds any of {', '.join(BATCH_FILES)}"
                )
            found.append(BatchFile(batch, path.name, path))
    return found


def _batch_date(folder: Path) -> dt.date:
    problem = f"{folder}: a batch folder is named for its day, YYYY-MM-DD (like 2026-12-07)"
    if not folder.is_dir() or not BATCH_NAME.match(folder.name):
        raise ValueError(problem)
    try:
        return dt.date.fromisoformat(folder.name)
    except ValueError as exc:
        raise ValueError(f"{problem}: {exc}") from exc
