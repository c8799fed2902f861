"""Where the two raw files are, and what they hold.

Resolution order (the first that applies wins):
1. ``$LAKEHOUSE_RAW_DIR`` — must hold both files;
2. ``data/raw/`` at the repo root, when it holds both files (the real dataset);
3. ``data/generated/``, written by ``python -m lastfm_lakehouse.data.generate`` (``make build`` does
   this when there are no real files).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from lastfm_lakehouse.settings import (
    ENV_RAW_DIR,
    RAW_FILES,
    default_raw_dir,
    generated_raw_dir,
)


class RawDataError(FileNotFoundError):
    """The raw files are missing or incomplete; the message says which and how to fix it."""


@dataclass(frozen=True)
class RawData:
    directory: Path
    origin: str

    @property
    def paths(self) -> tuple[Path, ...]:
        return tuple(self.directory / name for name in RAW_FILES)

    @property
    def is_generated(self) -> bool:
        return (self.directory / "GENERATED.json").exists()


def missing_files(directory: Path) -> list[str]:
    return [name for name in RAW_FILES if not (directory / name).is_file()]


def resolve() -> RawData:
    """The raw data to build from, or a ``RawDataError`` that names what is missing."""
    configured = os.environ.get(ENV_RAW_DIR, "").strip()
    if configured:
        directory = Path(configured).expanduser().resolve()
        missing = missing_files(directory)
        if missing:
            raise RawDataError(f"{ENV_RAW_DIR}={directory} lacks {', '.join(missing)}")
        return RawData(directory, f"${ENV_RAW_DIR}")
    real = default_raw_dir()
    missing = missing_files(real)
    if len(missing) == 1:
        raise RawDataError(
            f"{real} holds only one of the two raw files: {missing[0]} is missing "
            "(add it, or remove the other to build on generated data)"
        )
    if not missing:
        return RawData(real, "real files in data/raw")
    generated = generated_raw_dir()
    if not missing_files(generated):
        return RawData(generated, "generated data in data/generated")
    raise RawDataError(
        f"no raw data: put {' and '.join(RAW_FILES)} in {real}, point {ENV_RAW_DIR} at them, "
        f"or generate a dataset with `python -m lastfm_lakehouse.data.generate --out {generated}` "
        "(`make build` does this for you)"
    )


def count_lines(path: Path) -> int:
    """Lines as Spark's text reader sees them: LF, CRLF or CR ends a line; a last unterminated line counts."""
    count = 0
    last = b"\n"
    pending_cr = False
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 24):
            # CRLF counts once: count CR and LF, then subtract CRLF pairs (including across chunks).
            count += chunk.count(b"\n") + chunk.count(b"\r") - chunk.count(b"\r\n")
            if pending_cr and chunk.startswith(b"\n"):
                count -= 1
            pending_cr = chunk.endswith(b"\r")
            last = chunk[-1:]
    return count + (0 if last in (b"\n", b"\r") else 1)
