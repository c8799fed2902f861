"""A file of hostile lines, written byte by byte, through the real build: each line must get exactly
the rejection reason (or be staged) and the cleanings the docs promise, and nothing may be lost."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest

from lastfm_lakehouse.settings import PLAYS_FILE, PROFILES_FILE

from .conftest import Build, dbt_build

pytestmark = pytest.mark.spark

MBID = "f2fb0ff0-5679-42ec-a55c-15109ce6e320"
REPLACEMENT = "\ufffd"
LONG = 1000  # var max_field_length
CLEANED_CONTROL = "byte-order mark or control characters removed"
SELECT = "+mart_load_report +dim_users +fct_plays"
# The parse is the same whatever the table format: these builds also test the Parquet fallback.
FORMAT = "parquet"


def sha(label: str) -> str:
    return hashlib.sha1(label.encode()).hexdigest()


@dataclass(frozen=True)
class Case:
    raw: bytes  # the line's bytes, without its ending
    line: str  # the line as staged: cleaned text
    reason: str | None  # rejection reason; None = staged
    cleanings: frozenset[str] = field(default_factory=frozenset)
    ending: bytes = b"\n"


def plays(label: str, name: str = "some artist", count: str = "5", mbid: str = MBID) -> str:
    return f"{sha(label)}\t{mbid}\t{name}\t{count}"


def case(text: str, reason: str | None = None, *cleanings: str, ending: bytes = b"\n") -> Case:
    return Case(text.encode("utf-8"), text, reason, frozenset(cleanings), ending)


PLAYS_CASES = {
    "valid": case(plays("valid")),
    "crlf ending": case(plays("crlf"), ending=b"\r\n"),
    "lone cr ending": case(plays("cr"), ending=b"\r"),
    "bom at line start": Case(
        b"\xef\xbb\xbf" + plays("bom line").encode(), plays("bom line"), None, frozenset({CLEANED_CONTROL})
    ),
    "control characters": Case(
        plays("ctrl", "ab\x01c\x7fd\x00e").encode(),
        plays("ctrl", "abcde"),
        None,
        frozenset({CLEANED_CONTROL}),
    ),
    "invalid utf-8": Case(
        plays("latin1", "die \xc4rzte").encode("latin-1"),
        plays("latin1", f"die {REPLACEMENT}rzte"),
        None,
        frozenset({"invalid UTF-8 bytes replaced by U+FFFD"}),
    ),
    "upper-case ids": case(
        plays("upper").replace(sha("upper"), sha("upper").upper()).replace(MBID, MBID.upper()),
        None,
        "user sha1 lower-cased",
        "MBID normalised (case, hyphens, braces)",
    ),
    "malformed mbid": case(
        plays("malformed", mbid="3d6bbeb7-f90e-4d10-b440"), None, "MBID malformed: artist keyed by name"
    ),
    "csv-quoted name": case(
        plays("quoted", '"brian ""head"" welch"'), None, "CSV quoting removed from artist name"
    ),
    "literal quotes": case(plays("literal", 'brian "head" welch')),
    "plays as decimal": case(plays("decimal", count="1099.0"), None, "plays written as a decimal (1099.0)"),
    "plays not whole": case(plays("half", count="12.5"), "plays is not a whole number"),
    "plays nan": case(plays("nan", count="NaN"), "plays is not a whole number"),
    "plays junk": case(plays("junk", count="lots"), "plays is not a whole number"),
    "plays negative": case(plays("negative", count="-3"), "plays is negative"),
    "plays overflow": case(plays("overflow", count="99999999999999999999"), "plays is out of range"),
    "plays float overflow": case(plays("float overflow", count="1e300"), "plays is out of range"),
    "absurdly long name": case(
        plays("long", "x" * (LONG + 1)), f"artist name is longer than {LONG} characters"
    ),
    "empty name": case(plays("empty", ""), "artist name is empty"),
    "blank": case("", "blank line"),
    "whitespace only": case("  \t \t  ", "blank line"),
    "header": case("user\tartistid\tartistname\tplays", "header line: the original file has no header"),
    "index column": case(f"17\t{plays('index')}", None, "dataframe index column removed"),
    "fake user": case(plays("x").replace(sha("x"), "sep 20, 2008"), "user is not a 40-hex sha1"),
    "five fields": case(
        plays("five") + "\textra", "wrong field count: expected 4 tab-separated fields, got 5"
    ),
    "duplicate a": case(plays("duplicate")),
    "duplicate b": case(plays("duplicate"), "duplicate line: an identical line is staged"),
    # last: a truncated line without a line ending
    "truncated last line": case(
        f"{sha('truncated')}\t{MBID}\tsome ar",
        "wrong field count: expected 4 tab-separated fields, got 3",
        ending=b"",
    ),
}


def profile(
    label: str, gender: str = "m", age: str = "22", country: str = "Germany", signup: str = "Feb 1, 2007"
) -> str:
    return f"{sha(label)}\t{gender}\t{age}\t{country}\t{signup}"


@dataclass(frozen=True)
class Parsed:
    gender: str | None = "m"
    age: int | None = 22
    country: str | None = "Germany"
    signup: str | None = "2007-02-01"


PROFILE_CASES = {
    "valid": (case(profile("valid")), Parsed()),
    "age as decimal": (
        case(profile("age float", age="22.0"), None, "age written as a decimal (22.0)"),
        Parsed(),
    ),
    "age exponent": (
        case(profile("age exp", age="2.2e1"), None, "age written as a decimal (22.0)"),
        Parsed(),
    ),
    "age not whole": (
        case(profile("age half", age="22.5"), None, "age not a whole number: set to null"),
        Parsed(age=None),
    ),
    "age junk": (
        case(profile("age junk", age="twenty"), None, "age not a whole number: set to null"),
        Parsed(age=None),
    ),
    "age overflow": (
        case(profile("age overflow", age="99999999999"), None, "age not a whole number: set to null"),
        Parsed(age=None),
    ),
    "age nan": (
        case(profile("age nan", age="nan"), None, "age written as a missing-value marker (nan, NA, null)"),
        Parsed(age=None),
    ),
    "age junk number": (case(profile("age -1337", age="-1337")), Parsed(age=-1337)),
    "gender junk": (
        case(profile("gender x", gender="x"), None, "gender not m, f or empty: set to null"),
        Parsed(gender=None),
    ),
    "gender word": (
        case(profile("gender word", gender="Female"), None, "gender written as a word"),
        Parsed(gender="f"),
    ),
    "signup iso": (
        case(profile("iso", signup="2007-02-01"), None, "signup written as an ISO date"),
        Parsed(),
    ),
    "signup timestamp": (
        case(profile("timestamp", signup="2007-02-01 00:00:00"), None, "signup written as an ISO date"),
        Parsed(),
    ),
    "signup junk": (
        case(
            profile("signup junk", signup="yesterday"),
            None,
            'signup not a date like "Feb 1, 2007": set to null',
        ),
        Parsed(signup=None),
    ),
    "country too long": (
        case(
            profile("country long", country="y" * (LONG + 1)),
            None,
            f"country longer than {LONG} characters: set to null",
        ),
        Parsed(country=None),
    ),
    "invalid utf-8 country": (
        Case(
            profile("latin1", country="C\xf4te").encode("latin-1"),
            profile("latin1", country=f"C{REPLACEMENT}te"),
            None,
            frozenset({"invalid UTF-8 bytes replaced by U+FFFD"}),
        ),
        Parsed(country=f"C{REPLACEMENT}te"),
    ),
    "upper-case sha": (
        case(profile("upper").replace(sha("upper"), sha("upper").upper()), None, "user sha1 lower-cased"),
        Parsed(),
    ),
    "index column": (case(f"3\t{profile('index')}", None, "dataframe index column removed"), Parsed()),
    "everything missing": (case(profile("missing", "", "", "", "")), Parsed(None, None, None, None)),
    "blank": (case("   ", "blank line"), None),
    "header": (
        case("user\tgender\tage\tcountry\tsignup", "header line: the original file has no header"),
        None,
    ),
    "not a sha": (case(profile("x").replace(sha("x"), "NOT-A-SHA"), "user is not a 40-hex sha1"), None),
    "four fields": (
        case(f"{sha('four')}\tm\t22\tGermany", "wrong field count: expected 5 tab-separated fields, got 4"),
        None,
    ),
    "duplicate a": (case(profile("duplicate")), Parsed()),
    "duplicate b": (case(profile("duplicate"), "duplicate line: an identical line is staged"), None),
}


def write(path: Path, cases: list[Case]) -> None:
    # The file starts with a byte-order mark, which Spark's text reader skips (counted separately).
    path.write_bytes(b"\xef\xbb\xbf" + b"".join(c.raw + c.ending for c in cases))


@pytest.fixture(scope="module")
def raw_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("hostile")
    write(out / PLAYS_FILE, list(PLAYS_CASES.values()))
    write(out / PROFILES_FILE, [c for c, _ in PROFILE_CASES.values()])
    return out


@pytest.fixture(scope="module")
def build(spark: object, raw_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Build:
    return dbt_build(
        raw_dir, "hostile", tmp_path_factory.mktemp("target"), select=SELECT, table_format=FORMAT
    )


def base(spark: object, build: Build, table: str) -> pd.DataFrame:
    return build.table(spark, f"base_lastfm__{table}_lines", "staging").toPandas()  # type: ignore[attr-defined]


def assert_cases(lines: pd.DataFrame, cases: dict[str, Case]) -> None:
    assert len(lines) == len(cases), "every line is read once: staged or rejected"
    for label, expected in cases.items():
        rows = lines[lines.line == expected.line]
        if label.startswith("duplicate"):
            assert sorted(rows.rejection_reason.fillna("staged")) == [
                "duplicate line: an identical line is staged",
                "staged",
            ], label
            continue
        assert len(rows) == 1, f"{label}: {len(rows)} rows for {expected.line!r}"
        row = rows.iloc[0]
        assert row.rejection_reason == expected.reason or (
            expected.reason is None and row.rejection_reason is None
        ), (
            label,
            row.rejection_reason,
        )
        assert set(row.cleanings) == expected.cleanings, (label, list(row.cleanings))


def test_every_hostile_plays_line_gets_its_reason_and_cleanings(spark, build: Build) -> None:
    lines = base(spark, build, "plays")
    assert_cases(lines, PLAYS_CASES)
    staged = lines[lines.rejection_reason.isna()].set_index("line")
    assert staged.loc[PLAYS_CASES["plays as decimal"].line, "plays"] == 1099
    assert staged.loc[PLAYS_CASES["csv-quoted name"].line, "artist_name"] == 'brian "head" welch'
    assert staged.loc[PLAYS_CASES["literal quotes"].line, "artist_name"] == 'brian "head" welch'
    upper = staged.loc[PLAYS_CASES["upper-case ids"].line]
    assert upper.user_sha1 == sha("upper") and upper.artist_mbid == MBID
    assert staged.loc[PLAYS_CASES["index column"].line, "user_sha1"] == sha("index")


def test_hostile_profile_fields_become_null_and_flagged_without_losing_the_user(spark, build: Build) -> None:
    lines = base(spark, build, "profile")
    assert_cases(lines, {label: c for label, (c, _) in PROFILE_CASES.items()})
    staged = lines[lines.rejection_reason.isna()].set_index("line")
    for label, (c, parsed) in PROFILE_CASES.items():
        if parsed is None:
            continue
        row = staged.loc[c.line]
        got = (row.gender, None if pd.isna(row.age) else int(row.age), row.country, row.signup_date)
        want = (
            parsed.gender,
            parsed.age,
            parsed.country,
            None if parsed.signup is None else pd.Timestamp(parsed.signup).date(),
        )
        assert got == want, label
    users = build.table(spark, "dim_users").toPandas()  # type: ignore[attr-defined]
    kept = {sha(label) for label in ("age half", "gender x", "signup junk", "country long", "upper", "index")}
    assert kept <= set(users.user_sha1), "a user with an unreadable field keeps the rest of the profile"
    assert users.age.notna().all()


def test_load_report_counts_every_rejection_and_cleaning(spark, build: Build) -> None:
    report = build.table(spark, "mart_load_report").toPandas()  # type: ignore[attr-defined]
    for table, cases in (("plays", PLAYS_CASES), ("profiles", {k: c for k, (c, _) in PROFILE_CASES.items()})):
        mine = report[report.source_table == table]
        assert set(mine.lines_read) == {len(cases)}
        rejected = Counter(c.reason for c in cases.values() if c.reason)
        got = mine[mine.outcome == "rejected"].set_index("check_name").line_count.to_dict()
        assert got == dict(rejected), table
        assert mine[mine.outcome == "staged"].line_count.sum() == len(cases) - sum(rejected.values())
        cleaned = Counter(label for c in cases.values() for label in c.cleanings)
        cleaned["byte-order mark at the start of the file skipped"] = 1
        got = mine[mine.outcome == "cleaned"].set_index("check_name").line_count.to_dict()
        assert got == dict(cleaned), table


def test_a_nan_in_a_mart_fails_the_build(spark, build: Build, raw_dir: Path, tmp_path: Path) -> None:
    """all_numbers_finite (on every mart) must catch a NaN or an infinity that reaches a table."""
    from pyspark.sql import functions as F

    from .conftest import invoke_dbt

    table = f"{build.schema}.mart_load_report"
    args = (raw_dir, build.schema, tmp_path)
    select = "mart_load_report,test_name:all_numbers_finite"
    assert invoke_dbt("test", *args, select=select).success  # type: ignore[attr-defined]
    spark.table(table).limit(1).withColumn("share_of_lines", F.lit(float("nan"))).write.insertInto(table)
    result = invoke_dbt("test", *args, select=select)
    assert not result.success  # type: ignore[attr-defined]
    failed = [r.node.name for r in result.result if str(r.status) == "fail"]  # type: ignore[attr-defined]
    assert len(failed) == 1 and failed[0].startswith("all_numbers_finite_mart_load_report"), failed
