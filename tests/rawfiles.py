"""An independent reading of the raw files in plain Python, to check what dbt built against.

It applies the documented rules (tab-separated, quotes literal, MBID normalisation, name keys)
without Spark, so a mistake in the SQL shows up as a disagreement.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
SHA1 = re.compile(r"^[0-9a-f]{40}$")


def read_lines(path: Path) -> list[str]:
    """Lines as Spark's text reader returns them (LF, CRLF or CR end a line)."""
    text = path.read_bytes().decode("utf-8")
    lines = re.split(r"\r\n|\r|\n", text)
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def normalize_mbid(raw: str) -> str | None:
    value = raw.lower().replace("{", "").replace("}", "")
    if UUID.match(value):
        return value
    if re.fullmatch(r"[0-9a-f]{32}", raw.lower()):
        v = raw.lower()
        return f"{v[:8]}-{v[8:12]}-{v[12:16]}-{v[16:20]}-{v[20:]}"
    return None


def artist_id(mbid_raw: str, name: str) -> str:
    mbid = normalize_mbid(mbid_raw)
    return mbid if mbid else "name:" + re.sub(r"\s+", " ", name.strip(" ")).lower()


@dataclass
class ParsedPlays:
    valid: pd.DataFrame
    rejected: list[str] = field(default_factory=list)


def parse_plays(path: Path) -> ParsedPlays:
    """Valid lines (an identical copy of a staged line is rejected) and the rejected lines."""
    rows, rejected, seen = [], [], set()
    for line in read_lines(path):
        fields = [f.strip(" ") for f in line.split("\t")]
        if (
            line in seen
            or len(fields) != 4
            or not SHA1.match(fields[0].lower())
            or fields[2] == ""
            or not re.fullmatch(r"[0-9]+", fields[3])
        ):
            rejected.append(line)
            continue
        seen.add(line)
        user, mbid_raw, name, plays = fields
        rows.append((user.lower(), mbid_raw, name, int(plays), artist_id(mbid_raw, name)))
    frame = pd.DataFrame(rows, columns=["user_sha1", "mbid_raw", "artist_name", "plays", "artist_id"])
    return ParsedPlays(frame, rejected)
