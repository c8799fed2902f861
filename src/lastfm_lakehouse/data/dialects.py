"""The byte dialects real copies of the two files come in, made from original-format files.

Public copies of Last.fm 360K are often not the original bytes: a dataframe library read them and
wrote them back (STATS.md, gotcha 10; the FairRecKit sample). Each dialect here rewrites files in
the original format the way such a tool would, so the build can be tested on every one:

* ``original``: the bytes as distributed (LF, no header, profile file without a final newline);
* ``dataframe``: read with pandas' defaults except quoting (``quoting=QUOTE_NONE``, so lines are
  not swallowed) and written back with ``to_csv(sep="\\t", header=False, index=False)`` on
  Windows: CRLF endings, a final newline, ages as floats (``22.0``: a column with missing values
  is float), fields that hold a double quote CSV-quoted with the quotes doubled
  (``"brian ""head"" welch"``), and names pandas reads as missing (``NA``, ``null``, ``nan``...)
  written as empty fields - a loss the copy itself made;
* ``dataframe-index``: the same with ``header=True, index=True``: a header line and a leading
  row-number column (the first FairRecKit sample);
* ``windows``: a UTF-8 byte-order mark at the start of each file and CRLF (Notepad's "UTF-8 with
  BOM").

``resave`` returns what it changed, so a test can assert the exact counts a build must report.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lastfm_lakehouse.settings import PLAYS_FILE, PROFILES_FILE

DIALECTS = {
    "original": "the original bytes: LF, no header, profile without a final newline",
    "dataframe": "re-saved by pandas: CRLF, float ages (22.0), CSV-quoted names, NA-like names emptied",
    "dataframe-index": "dataframe, plus a header line and a leading row-index column",
    "windows": "UTF-8 byte-order mark at the start of each file, CRLF",
}
# pandas' default na_values: a field with one of these texts is read as missing and written empty.
PANDAS_NA = frozenset(
    {
        *("#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN"),
        *("<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"),
    }
)
HEADERS = {
    PLAYS_FILE: ("user", "artistid", "artistname", "plays"),
    PROFILES_FILE: ("user", "gender", "age", "country", "signup"),
}


@dataclass
class Resaved:
    """What a re-save changed, per file."""

    dialect: str
    quoted_fields: dict[str, int]
    emptied_fields: dict[str, int]
    float_ages: int = 0
    header_lines: int = 0


def _csv_field(value: str) -> str:
    """pandas' QUOTE_MINIMAL for a tab-separated file: quote a field that holds a quote."""
    return '"' + value.replace('"', '""') + '"' if '"' in value else value


def _float_age(value: str) -> str:
    return f"{float(value)!r}" if value else value


def resave(source: Path, out: Path, dialect: str) -> Resaved:
    """Write both files of ``source`` (original format) into ``out`` in ``dialect``."""
    if dialect not in DIALECTS:
        raise ValueError(f"unknown dialect {dialect!r}: choose one of {', '.join(DIALECTS)}")
    out.mkdir(parents=True, exist_ok=True)
    result = Resaved(dialect, {PLAYS_FILE: 0, PROFILES_FILE: 0}, {PLAYS_FILE: 0, PROFILES_FILE: 0})
    for name in (PLAYS_FILE, PROFILES_FILE):
        text = (source / name).read_bytes().decode("utf-8")
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        if dialect == "original":
            written = "\n".join(lines) + ("\n" if name == PLAYS_FILE else "")
        elif dialect == "windows":
            written = "\ufeff" + "\r\n".join(lines) + ("\r\n" if name == PLAYS_FILE else "")
        else:
            rows = [_dataframe_row(line.split("\t"), name, result) for line in lines]
            if dialect == "dataframe-index":
                rows = [
                    ["", *HEADERS[name]],
                    *([str(i), *row] for i, row in enumerate(rows)),
                ]
                result.header_lines += 1
            written = "".join("\t".join(row) + "\r\n" for row in rows)
        (out / name).write_bytes(written.encode("utf-8"))
    return result


def _dataframe_row(fields: list[str], name: str, result: Resaved) -> list[str]:
    row = []
    for position, value in enumerate(fields):
        if value in PANDAS_NA:
            result.emptied_fields[name] += 1
            value = ""
        if name == PROFILES_FILE and position == 2:
            value = _float_age(value)
            result.float_ages += value != ""
        if '"' in value:
            result.quoted_fields[name] += 1
        row.append(_csv_field(value))
    return row
