"""The generator reproduces the raw files' format, shape and dirt (no Spark needed)."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lastfm_lakehouse.data import generate
from lastfm_lakehouse.data.raw_files import count_lines
from lastfm_lakehouse.settings import PLAYS_FILE, PROFILES_FILE, repo_root

SIGNUP = re.compile(r"^(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [1-9][0-9]?, 200[2-9]$")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, generate.Manifest]:
    out = tmp_path_factory.mktemp("gen")
    return out, generate.generate(out, users=3_000, seed=11, progress=False)


def read_plays(path: Path) -> pd.DataFrame:
    return pd.read_csv(
        path,
        sep="\t",
        header=None,
        quoting=csv.QUOTE_NONE,
        na_filter=False,
        names=["user", "mbid", "name", "plays"],
        dtype={"plays": np.int64},
    )


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    generate.generate(tmp_path / "a", users=150, seed=5, progress=False)
    generate.generate(tmp_path / "b", users=150, seed=5, progress=False)
    generate.generate(tmp_path / "c", users=150, seed=6, progress=False)
    for name in (PLAYS_FILE, PROFILES_FILE):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert (tmp_path / "a" / PLAYS_FILE).read_bytes() != (tmp_path / "c" / PLAYS_FILE).read_bytes()


def test_plays_file_shape(dataset: tuple[Path, generate.Manifest]) -> None:
    out, manifest = dataset
    plays = read_plays(out / PLAYS_FILE)
    assert len(plays) == manifest.plays_lines == count_lines(out / PLAYS_FILE)
    real_users = plays[plays.user != generate.FAKE_USER]
    per_user = real_users.groupby("user").size()
    assert 46 <= per_user.mean() <= 52 and 47 <= per_user.median() <= 51
    assert per_user.min() >= 2 and per_user.max() <= 87
    assert 0.55 <= per_user.between(45, 55).mean() <= 0.8
    # user blocks are contiguous and sorted by sha1; plays never increase inside a block
    assert plays.user.is_monotonic_increasing
    assert (plays.groupby("user", sort=False).plays.diff().dropna() <= 0).all()
    assert plays.user.iloc[-1] == generate.FAKE_USER
    assert 40 <= plays.plays.median() <= 160
    assert (plays.plays == 0).sum() >= 1 and (plays.plays > 100_000).sum() >= 1
    empty_mbid = (plays.mbid == "").mean()
    assert 0.004 <= empty_mbid <= 0.02, empty_mbid


def test_plays_file_dirt(dataset: tuple[Path, generate.Manifest]) -> None:
    out, manifest = dataset
    plays = read_plays(out / PLAYS_FILE)
    names_per_mbid = (
        plays[plays.mbid != ""].groupby(plays.mbid.str.lower().str.replace("-", "")).name.nunique()
    )
    assert (names_per_mbid > 1).sum() >= 10  # one MBID, several spellings
    mbids_per_name = plays[plays.mbid != ""].groupby("name").mbid.nunique()
    assert (mbids_per_name > 1).sum() >= 5  # one name, several MBIDs (also MBID spellings)
    assert plays.mbid.str.contains("[A-F]").any()  # upper-case MBIDs
    assert plays.mbid.str.fullmatch("[0-9a-f]{32}").any()  # MBIDs without hyphens
    assert plays.name.str.contains('"').any() and plays.name.str.contains(",").any()
    assert (~plays.name.map(str.isascii)).mean() > 0.005
    assert plays.name.str.contains("Ã").any()  # mojibake
    assert plays.duplicated(["user", "name"]).sum() >= manifest.duplicate_lines >= 1
    assert manifest.malformed_mbid_artists >= 1 and manifest.users_without_profile == 1


def test_quote_aware_readers_lose_lines(dataset: tuple[Path, generate.Manifest]) -> None:
    """Names starting with a double quote make CSV-style readers swallow lines, as in the real file."""
    out, manifest = dataset
    quote_aware = pd.read_csv(out / PLAYS_FILE, sep="\t", header=None, on_bad_lines="skip", engine="python")
    assert len(quote_aware) < manifest.plays_lines
    assert len(read_plays(out / PLAYS_FILE)) == manifest.plays_lines


def test_profile_file(dataset: tuple[Path, generate.Manifest]) -> None:
    out, manifest = dataset
    raw = (out / PROFILES_FILE).read_bytes()
    assert not raw.endswith(b"\n")  # as the real excerpt
    profiles = pd.read_csv(
        out / PROFILES_FILE,
        sep="\t",
        header=None,
        quoting=csv.QUOTE_NONE,
        na_filter=False,
        names=["user", "gender", "age", "country", "signup"],
        dtype=str,
    )
    assert len(profiles) == manifest.profile_lines == 3_000
    assert profiles.user.is_monotonic_increasing and profiles.user.str.fullmatch("[0-9a-f]{40}").all()
    assert set(profiles.gender) == {"m", "f", ""}
    assert 0.06 <= (profiles.gender == "").mean() <= 0.12
    assert 0.17 <= (profiles.age == "").mean() <= 0.25
    ages = profiles.age[profiles.age != ""].astype(int)
    assert ages.min() == -1337 and ages.max() == 1002
    assert profiles.signup.str.match(SIGNUP).all()
    seed = {
        row["country_name"] for row in csv.DictReader((repo_root() / "seeds" / "lastfm_countries.csv").open())
    }
    assert set(profiles.country) <= seed
    assert profiles.country.value_counts().index[0] == "United States"
    assert any("," in c for c in profiles.country)


def test_crlf_and_manifest(tmp_path: Path) -> None:
    manifest = generate.generate(tmp_path, users=50, seed=3, crlf=True, progress=False)
    raw = (tmp_path / PLAYS_FILE).read_bytes()
    assert raw.count(b"\r\n") == raw.count(b"\n") == manifest.plays_lines
    assert json.loads((tmp_path / "GENERATED.json").read_text())["line_ending"] == "crlf"
    assert count_lines(tmp_path / PROFILES_FILE) == 50


def test_bad_arguments_fail_clearly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        generate.main(["--users", "1", "--out", str(tmp_path)])
    assert "--users must be at least 2" in capsys.readouterr().err


def test_country_shares_follow_the_published_distribution() -> None:
    """The top 10 and the 4 smallest have their published counts; the excerpt's other countries
    come next in its order; no country the excerpt never shows outranks one it does (alphabetical
    Zipf weights once put Afghanistan second)."""
    names = generate.load_countries()
    users = dict(zip(names, generate.country_weights(names) * generate.FULL_USERS, strict=True))
    ranked = sorted(users, key=users.__getitem__, reverse=True)
    assert ranked[:10] == list(generate.TOP_COUNTRIES)
    for name, count in {**generate.TOP_COUNTRIES, **generate.SMALLEST_COUNTRIES}.items():
        assert users[name] == pytest.approx(count, rel=1e-9), name
    assert ranked[10] == "Canada"
    seen = [c for c in names if c in generate.EXCERPT_COUNTRIES]
    unseen = [c for c in names if c not in generate.EXCERPT_COUNTRIES and c not in generate.TOP_COUNTRIES]
    assert min(users[c] for c in seen) > max(users[c] for c in unseen)
    assert ranked.index("Afghanistan") > 60
    assert sum(users.values()) == pytest.approx(generate.FULL_USERS)
