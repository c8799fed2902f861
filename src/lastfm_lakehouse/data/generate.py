"""Synthetic Last.fm 360K files in the original byte format, at any scale.

    python -m lastfm_lakehouse.data.generate --users 359347 --seed 360 --out data/generated

Calibrated on ``../shared/data/lastfm360k-real/STATS.md``:

* plays file: user blocks sorted by sha1, ~48.9 rows per user (median 49, 2-87), plays non-increasing
  inside a block and heavy-tailed (median ~100, a few 0s, outliers above 100,000); ~1 % of rows with
  an empty MBID; MBIDs written several ways (upper case, without hyphens, a few malformed); names with
  several MBIDs and MBIDs with several spellings (``nick cave & the bad seeds`` / ``... and ...``);
  names with double quotes, commas, URLs, non-ASCII capitals, mojibake, ``???`` and ``NA``/``null``;
  a few duplicate (user, artist) rows; the fake user ``sep 20, 2008`` and one user with no profile.
* profile file: sorted by sha1, gender m/f/empty (~9 % empty), age with ~21 % empty and junk from
  -1337 to 1002, 239 countries (from the project's seed) with the published top-10 shares, signup
  ``Mon D, YYYY`` from 2002 to 2009, no trailing newline (as in the real excerpt).

A taste structure is planted so recommenders can be scored: every artist belongs to one of
``--genres`` communities and every user draws most of their artists from one or two of them.
Everything is a function of ``--seed``: the same arguments give byte-identical files.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import json
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from lastfm_lakehouse.data.dialects import DIALECTS, resave
from lastfm_lakehouse.settings import (
    DEFAULT_GENERATED_USERS,
    DEFAULT_GENERATOR_SEED,
    FULL_USERS,
    PLAYS_FILE,
    PROFILES_FILE,
    generated_raw_dir,
    repo_root,
)

FAKE_USER = "sep 20, 2008"
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# Published country counts (STATS.md, [SEGM]): the top 10, and the four smallest (3 users each).
TOP_COUNTRIES = {
    "United States": 67_044,
    "Germany": 31_651,
    "United Kingdom": 29_902,
    "Poland": 20_987,
    "Russian Federation": 19_833,
    "Brazil": 14_534,
    "Sweden": 13_122,
    "Spain": 13_051,
    "Finland": 11_579,
    "Netherlands": 9_650,
}
SMALLEST_COUNTRIES = {"Palau": 3, "Benin": 3, "Liberia": 3, "Gambia": 3}
# The other countries in the published 1,000-profile excerpt (STATS.md, [SAMPLE-1000]; the first
# 1,000 lines of the profile file), with their counts there: they take the rest of the users in
# these proportions, and the countries the excerpt does not show share what is left below its
# rarest country (one user in 1,000).
EXCERPT_COUNTRIES = {
    "Canada": 26,
    "Japan": 25,
    "France": 21,
    "Norway": 19,
    "Italy": 19,
    "Ukraine": 18,
    "Mexico": 18,
    "Australia": 18,
    "Turkey": 15,
    "Portugal": 14,
    "Czech Republic": 11,
    "Chile": 11,
    "Belgium": 11,
    "Switzerland": 10,
    "Denmark": 10,
    "Austria": 10,
    "Argentina": 9,
    "Lithuania": 7,
    "Croatia": 6,
    "Ireland": 5,
    "China": 5,
    "Slovakia": 4,
    "Romania": 4,
    "India": 4,
    "Hungary": 4,
    "Bulgaria": 4,
    "Slovenia": 3,
    "Latvia": 3,
    "Israel": 3,
    "Greece": 3,
    "Estonia": 3,
    "Belarus": 3,
    "Uruguay": 2,
    "Singapore": 2,
    "Peru": 2,
    "New Zealand": 2,
    "Korea, Republic of": 2,
    "Iceland": 2,
    "Guatemala": 2,
    "Ghana": 2,
    "Cyprus": 2,
    "Colombia": 2,
    "Antarctica": 2,
    "Virgin Islands, U.s.": 1,
    "Uganda": 1,
    "Thailand": 1,
    "Taiwan": 1,
    "Syrian Arab Republic": 1,
    "South Africa": 1,
    "Serbia": 1,
    "Philippines": 1,
    "Nepal": 1,
    "Malta": 1,
    "Lebanon": 1,
    "Iran, Islamic Republic of": 1,
    "Georgia": 1,
    "Gabon": 1,
    "Fiji": 1,
    "El Salvador": 1,
    "Bosnia and Herzegovina": 1,
}
EXCERPT_PROFILES = 1_000
# Signup-year shares: 2008 is 120,808 / 359,347 of the full file; the rest follows the real excerpt.
SIGNUP_YEARS = {
    2002: 0.002,
    2003: 0.005,
    2004: 0.02,
    2005: 0.09,
    2006: 0.18,
    2007: 0.28,
    2008: 0.336,
    2009: 0.087,
}
GENDER_SHARES = {"m": 241_642 / FULL_USERS, "f": 84_930 / FULL_USERS, "": 32_775 / FULL_USERS}
AGE_MISSING_SHARE = 74_900 / FULL_USERS
JUNK_AGES = (-1337, -1, 0, 1, 2, 3, 8, 100, 101, 109, 111, 1002)

SYLLABLES = [
    "ba",
    "be",
    "bi",
    "bo",
    "bu",
    "da",
    "de",
    "di",
    "do",
    "du",
    "fa",
    "fe",
    "fi",
    "fo",
    "ga",
    "ge",
    "go",
    "ka",
    "ke",
    "ki",
    "ko",
    "ku",
    "la",
    "le",
    "li",
    "lo",
    "lu",
    "ma",
    "me",
    "mi",
    "mo",
    "mu",
    "na",
    "ne",
    "ni",
    "no",
    "nu",
    "pa",
    "pe",
    "pi",
    "po",
    "ra",
    "re",
    "ri",
    "ro",
    "ru",
    "sa",
    "se",
    "si",
    "so",
    "su",
    "ta",
    "te",
    "ti",
    "to",
    "tu",
    "va",
    "ve",
    "vi",
    "vo",
    "za",
    "ze",
    "zo",
    "ar",
    "en",
    "in",
    "on",
    "or",
    "el",
    "al",
    "ol",
    "us",
    "ex",
    "ix",
    "ys",
    "th",
    "sh",
    "ch",
    "kr",
    "st",
    "tr",
    "bl",
    "gr",
    "dr",
]
FIRST_NAMES = [
    "john",
    "paul",
    "mary",
    "anna",
    "peter",
    "lisa",
    "mike",
    "sara",
    "tom",
    "nina",
    "alex",
    "maria",
    "david",
    "emma",
    "james",
    "laura",
    "chris",
    "kate",
    "dan",
    "lucy",
    "mark",
    "jane",
    "sam",
    "eva",
    "bob",
    "ella",
    "max",
    "ida",
    "leo",
    "mia",
    "ian",
    "zoe",
    "joe",
    "amy",
    "ray",
    "ada",
    "tim",
    "liv",
    "ben",
    "isa",
]
FOREIGN = [
    "Океан",
    "Бумбокс",
    "Тартак",
    "Ельзи",
    "Кино",
    "Ария",
    "Сплин",
    "Ленинград",
    "川田",
    "まみ",
    "東京",
    "事変",
    "少女",
    "時代",
    "Ärzte",
    "Øye",
    "Rós",
    "Mägo",
    "Björk",
    "Motörhead",
    "Åsa",
    "Mötley",
    "Ñu",
    "Çelik",
    "Łódź",
    "Dvořák",
    "Sigur",
    "Ångström",
    "Église",
]
ODD_NAMES = (
    "!!!",
    "#####",
    "+/-",
    "...and oceans",
    "[unknown]",
    "NA",
    "null",
    "nan",
    "none",
    "???? ?????",
    "?????",
    "2",
    "58725ab=>",
)


@dataclass
class Manifest:
    """What was generated, written next to the files as GENERATED.json (tests read it)."""

    users: int
    seed: int
    genres: int
    artists: int
    plays_lines: int = 0
    profile_lines: int = 0
    plays_users: int = 0
    fake_user_lines: int = 0
    users_without_profile: int = 0
    empty_mbid_lines: int = 0
    zero_play_lines: int = 0
    outlier_lines: int = 0
    duplicate_lines: int = 0
    malformed_mbid_artists: int = 0
    alias_artists: int = 0
    homonym_artists: int = 0
    quoted_name_artists: int = 0
    age_missing: int = 0
    gender_missing: int = 0
    line_ending: str = "lf"
    dialect: str = "original"
    seconds: float = 0.0
    files: dict[str, str] = field(default_factory=dict)


def sha1_hex(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


def ascii_lower(name: str) -> str:
    """Last.fm lower-cases ASCII only: ``die Ärzte``, ``Океан Ельзи`` keep their capitals."""
    return "".join(ch.lower() if ch.isascii() else ch for ch in name)


def default_artist_count(users: int) -> int:
    """~294K artists at full scale (README: 186,642 with MBID + 107,373 without), fewer when small."""
    return max(300, round(294_015 * (users / FULL_USERS) ** 0.62))


def load_countries() -> list[str]:
    with (repo_root() / "seeds" / "lastfm_countries.csv").open(encoding="utf-8", newline="") as handle:
        return [row["country_name"] for row in csv.DictReader(handle)]


class Catalogue:
    """Artists: names, MBIDs, genre, popularity, and the spellings rows can be written with."""

    def __init__(self, rng: np.random.Generator, artists: int, genres: int) -> None:
        self.size = artists
        self.genre = rng.integers(0, genres, size=artists)
        rank = rng.permutation(artists)
        self.weight = 1.0 / (rank + 8.0) ** 0.95
        self.names = self._names(rng, artists)
        self.mbids = [self._uuid(rng) for _ in range(artists)]
        self.stats: dict[str, int] = {}
        self._plant_empty_mbids(rng)
        self._plant_homonyms(rng)
        self._plant_malformed(rng)
        # part[i] = "\t<mbid>\t<name>\t" of spelling i; spellings >= artists are alternative ones.
        self.parts = [f"\t{m}\t{n}\t" for m, n in zip(self.mbids, self.names, strict=True)]
        self.alternative: dict[int, list[int]] = {}
        self._plant_aliases(rng)
        self._plant_mbid_spellings(rng)
        self.parts_array = np.array(self.parts, dtype=object)
        self.alt_of = np.full(artists, -1, dtype=np.int64)
        self.alt_choices: list[np.ndarray] = []
        for artist, options in self.alternative.items():
            self.alt_of[artist] = len(self.alt_choices)
            self.alt_choices.append(np.array(options, dtype=np.int64))
        # Per-genre cumulative popularity laid end to end: genre g occupies [g, g + 1).
        order = np.lexsort((np.arange(artists), self.genre))
        self.by_genre = order
        genre_sorted = self.genre[order]
        w = self.weight[order]
        totals = np.bincount(genre_sorted, weights=w, minlength=genres)
        cumulative = np.cumsum(w)
        before_genre = np.concatenate([[0.0], cumulative])[np.searchsorted(genre_sorted, np.arange(genres))]
        within = (cumulative - before_genre[genre_sorted]) / totals[genre_sorted]
        self.genre_cdf = genre_sorted + within
        self.global_cdf = np.cumsum(self.weight) / self.weight.sum()

    @staticmethod
    def _uuid(rng: np.random.Generator) -> str:
        h = rng.bytes(16).hex()
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) % 4]}{h[17:20]}-{h[20:32]}"

    def _word(self, rng: np.random.Generator) -> str:
        n = int(rng.choice((1, 2, 2, 3)))
        return "".join(SYLLABLES[int(i)] for i in rng.integers(0, len(SYLLABLES), size=n))

    def _one_name(self, rng: np.random.Generator) -> str:
        kind = rng.random()
        w = self._word
        if kind < 0.22:
            name = w(rng)
        elif kind < 0.40:
            name = f"the {w(rng)}s"
        elif kind < 0.58:
            name = f"{w(rng)} {w(rng)}"
        elif kind < 0.72:
            name = f"{FIRST_NAMES[int(rng.integers(len(FIRST_NAMES)))]} {w(rng)}"
        elif kind < 0.78:
            name = f"dj {w(rng)}"
        elif kind < 0.84:
            name = f"{w(rng)} & the {w(rng)}s"
        elif kind < 0.90:
            name = f"{w(rng)} {w(rng)} {w(rng)}"
        elif kind < 0.965:
            name = f"{w(rng)} of {w(rng)}"
        else:
            tokens = rng.choice(FOREIGN, size=int(rng.integers(1, 3)))
            name = " ".join(str(t) for t in tokens)
            if rng.random() < 0.5:
                name = f"{w(rng)} {name}"
        return name

    def _names(self, rng: np.random.Generator, artists: int) -> list[str]:
        seen: set[str] = set()
        names: list[str] = []
        odd = list(ODD_NAMES)
        while len(names) < artists:
            if odd and rng.random() < 0.002:
                name = odd.pop(0)
            else:
                name = self._one_name(rng)
                # the shape of _one_name's ladder, not its logic: rare real-file oddities on top
                roll = rng.random()
                if roll < 0.0015:
                    name = f'{FIRST_NAMES[int(rng.integers(len(FIRST_NAMES)))]} "{self._word(rng)}" {name}'
                elif roll < 0.0025:
                    name = f'{self._word(rng)}&"{self._word(rng)}" {self._word(rng)}s'
                elif roll < 0.003:
                    name = f'"{self._word(rng)}" {name}'
                elif roll < 0.005:
                    name = f"{name}, {self._word(rng)}"
                elif roll < 0.006:
                    name = f"{name} - (www.{self._word(rng)}.blogspot.com)"
                elif roll < 0.009 and not name.isascii():
                    # Mojibake: UTF-8 bytes read as Windows-1252 (``frÃ¼chte des zorns``).
                    name = name.encode("utf-8").decode("cp1252", errors="replace")
                elif roll < 0.011:
                    name = f"{name} {self._word(rng)}{self._word(rng)}"
                name = ascii_lower(name)
            if name not in seen:
                seen.add(name)
                names.append(name)
        self.quoted = sum('"' in n for n in names)
        return names

    def _plant_empty_mbids(self, rng: np.random.Generator) -> None:
        """Empty MBID on tail artists until they carry ~1 % of the popularity mass."""
        tail = np.flatnonzero(self.weight < np.quantile(self.weight, 0.6))
        tail = rng.permutation(tail)
        share = np.cumsum(self.weight[tail]) / self.weight.sum()
        chosen = tail[: int(np.searchsorted(share, 0.0095)) + 1]
        for i in chosen:
            self.mbids[int(i)] = ""
        self.no_mbid = set(int(i) for i in chosen)
        self.stats["empty_mbid_artists"] = len(chosen)

    def _with_mbid(self, rng: np.random.Generator, count: int) -> list[int]:
        pool = [i for i in rng.permutation(self.size)[: count * 4 + 8].tolist() if i not in self.no_mbid]
        return pool[:count]

    def _plant_homonyms(self, rng: np.random.Generator) -> None:
        """Names with several MBIDs (``beck``): a second artist takes the name of a first."""
        picks = self._with_mbid(rng, max(2, self.size // 300) * 2)
        pairs = list(zip(picks[0::2], picks[1::2], strict=False))
        for first, second in pairs:
            self.names[second] = self.names[first]
        self.stats["homonym_artists"] = len(pairs)

    def _plant_malformed(self, rng: np.random.Generator) -> None:
        """A few MBIDs that are not UUIDs (160,168 distinct strings vs 160,131 valid in the full file)."""
        picks = self._with_mbid(rng, max(1, self.size // 8000))
        for i in picks:
            mbid = self.mbids[i]
            self.mbids[i] = mbid[:-3] if rng.random() < 0.5 else mbid.replace("-", "-g", 1)
        self.malformed = set(picks)
        self.stats["malformed_mbid_artists"] = len(picks)

    def _add_spelling(self, artist: int, mbid: str, name: str) -> None:
        self.parts.append(f"\t{mbid}\t{name}\t")
        self.alternative.setdefault(artist, []).append(len(self.parts) - 1)

    def _plant_aliases(self, rng: np.random.Generator) -> None:
        """One MBID, several names: ``&`` / ``and``, a dropped ``the``, a trailing period."""
        count = 0
        for i in self._with_mbid(rng, max(3, self.size // 60)):
            if i in self.malformed:
                continue
            name = self.names[i]
            if " & " in name:
                alias = name.replace(" & ", " and ")
            elif name.startswith("the "):
                alias = name[4:]
            else:
                alias = f"{name}."
            self._add_spelling(i, self.mbids[i], alias)
            count += 1
        self.stats["alias_artists"] = count

    def _plant_mbid_spellings(self, rng: np.random.Generator) -> None:
        """Rows that write a valid MBID in upper case or without hyphens."""
        for i in self._with_mbid(rng, max(2, self.size // 500)):
            if i in self.malformed:
                continue
            mbid = self.mbids[i]
            spelling = mbid.upper() if rng.random() < 0.5 else mbid.replace("-", "")
            self._add_spelling(i, spelling, self.names[i])


def rows_per_user(rng: np.random.Generator, n: int) -> np.ndarray:
    """Median 49, mean ~49, 2-87; two thirds between 45 and 55 (STATS.md, 490 complete users)."""
    core = rng.normal(50, 3.5, size=n)
    wide = rng.normal(49, 11, size=n)
    small = rng.uniform(2, 40, size=n)
    pick = rng.random(n)
    counts = np.where(pick < 0.62, core, np.where(pick < 0.97, wide, small))
    return np.clip(np.rint(counts), 2, 87).astype(np.int64)


def sample_user_artists(
    rng: np.random.Generator, catalogue: Catalogue, counts: np.ndarray, genres: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each user, ``counts[u]`` distinct artists from their taste mixture.

    Returns (user index, artist index, affinity) per row, rows grouped by user. Affinity is 2 for
    the user's main community, 1 for the second one, 0 for the global popularity draw.
    """
    n = counts.size
    main = rng.integers(0, genres, size=n)
    second = (main + rng.integers(1, genres, size=n)) % genres
    draws = np.ceil(counts * 2.2).astype(np.int64) + 12
    user = np.repeat(np.arange(n), draws)
    roll = rng.random(user.size)
    component = np.where(roll < 0.55, 2, np.where(roll < 0.80, 1, 0))
    genre = np.where(component == 2, main[user], second[user])
    u = rng.random(user.size)
    genre_pick = catalogue.by_genre[
        np.minimum(np.searchsorted(catalogue.genre_cdf, genre + u * 0.999999), catalogue.size - 1)
    ]
    global_pick = np.minimum(np.searchsorted(catalogue.global_cdf, u), catalogue.size - 1)
    artist = np.where(component == 0, global_pick, genre_pick)
    # Keep each (user, artist) once, in draw order, then the first counts[u] of each user.
    key = user * catalogue.size + artist
    _, first = np.unique(key, return_index=True)
    first.sort()
    user, artist, component = user[first], artist[first], component[first]
    starts = np.searchsorted(user, np.arange(n))
    position = np.arange(user.size) - starts[user]
    keep = position < counts[user]
    return user[keep], artist[keep], component[keep]


def user_plays(rng: np.random.Generator, user: np.ndarray, affinity: np.ndarray, n: int) -> np.ndarray:
    """Heavy-tailed plays: per-user totals ~ lognormal (median ~8,000), shares ~ lognormal x affinity."""
    totals = rng.lognormal(np.log(8_000), 0.9, size=n)
    share = rng.lognormal(0.0, 0.95, size=user.size) * np.array([1.0, 1.6, 2.6])[affinity]
    per_user = np.bincount(user, weights=share, minlength=n)
    plays = np.floor(totals[user] * share / per_user[user]).astype(np.int64)
    return np.maximum(plays, 1)


def signup_dates(rng: np.random.Generator, n: int) -> list[str]:
    years = rng.choice(
        list(SIGNUP_YEARS), size=n, p=np.array(list(SIGNUP_YEARS.values())) / sum(SIGNUP_YEARS.values())
    )
    start = np.array([np.datetime64(f"{y}-01-01") for y in years])
    span = np.where(years == 2009, 232, 365)  # the dataset was collected in 2009
    days = start + rng.integers(0, span).astype("timedelta64[D]")
    out = []
    for d in days.astype(object):
        out.append(f"{MONTHS[d.month - 1]} {d.day}, {d.year}")
    return out


def country_weights(countries: list[str]) -> np.ndarray:
    """Each country's share of users, following what was published of the real distribution.

    The top 10 and the 4 smallest get their published counts. The countries of the 1,000-profile
    excerpt get the rest in the excerpt's proportions, less what the unseen countries take: these
    fall Zipf-like from just under the excerpt's rarest share down to the published smallest (3),
    in an order fixed by a hash of the name (not the alphabet: it put Afghanistan second).
    """
    fixed = {**TOP_COUNTRIES, **SMALLEST_COUNTRIES}
    seen = [c for c in countries if c in EXCERPT_COUNTRIES and c not in fixed]
    unseen = sorted(
        (c for c in countries if c not in fixed and c not in EXCERPT_COUNTRIES),
        key=lambda name: hashlib.sha1(name.encode("utf-8")).hexdigest(),
    )
    rarest_seen = FULL_USERS / EXCERPT_PROFILES  # one user in the excerpt
    smallest = min(SMALLEST_COUNTRIES.values())
    weights: dict[str, float] = {c: float(fixed[c]) for c in countries if c in fixed}
    if unseen:
        # rank 1 just under the rarest seen country, the last rank at the published smallest count
        exponent = np.log(rarest_seen / 2.0 / smallest) / np.log(max(len(unseen), 2))
        falling = (rarest_seen / 2.0) * (np.arange(len(unseen)) + 1.0) ** -exponent
        falling = np.maximum(falling, smallest)
        weights.update(zip(unseen, falling.tolist(), strict=True))
    remaining = FULL_USERS - sum(weights.values())
    excerpt_total = sum(EXCERPT_COUNTRIES[c] for c in seen)
    weights.update({c: remaining * EXCERPT_COUNTRIES[c] / excerpt_total for c in seen})
    shares = np.array([weights.get(c, 0.0) for c in countries])
    return shares / shares.sum()


def profile_lines(rng: np.random.Generator, shas: list[str], manifest: Manifest) -> Iterator[str]:
    n = len(shas)
    countries = load_countries()
    gender = rng.choice(list(GENDER_SHARES), size=n, p=np.array(list(GENDER_SHARES.values())))
    age = np.rint(15 + rng.gamma(3.2, 3.1, size=n)).astype(np.int64)
    junk = rng.random(n) < 0.006
    age[junk] = rng.choice(JUNK_AGES, size=int(junk.sum()))
    missing = rng.random(n) < AGE_MISSING_SHARE
    if n >= 20:  # the published extremes exist at every scale (and are never blanked)
        extremes = rng.choice(n, size=2, replace=False)
        age[extremes] = (-1337, 1002)
        missing[extremes] = False
    age_text = np.where(missing, "", age.astype(str))
    country = rng.choice(np.array(countries, dtype=object), size=n, p=country_weights(countries))
    signup = signup_dates(rng, n)
    manifest.age_missing = int((age_text == "").sum())
    manifest.gender_missing = int((gender == "").sum())
    for i, sha in enumerate(shas):
        yield f"{sha}\t{gender[i]}\t{age_text[i]}\t{country[i]}\t{signup[i]}"


def generate(
    out: Path,
    users: int = DEFAULT_GENERATED_USERS,
    seed: int = DEFAULT_GENERATOR_SEED,
    genres: int = 24,
    artists: int | None = None,
    crlf: bool = False,
    dialect: str = "original",
    chunk_users: int = 20_000,
    progress: bool = True,
) -> Manifest:
    """Write both files into ``out`` and return what was written."""
    if users < 2:
        raise ValueError(f"--users must be at least 2, got {users}")
    if genres < 2:
        raise ValueError(f"--genres must be at least 2, got {genres}")
    if dialect not in DIALECTS:
        raise ValueError(f"unknown --dialect {dialect!r}: choose one of {', '.join(DIALECTS)}")
    if crlf and dialect != "original":
        raise ValueError(
            f"--crlf applies to the original dialect only (--dialect {dialect} sets its own endings)"
        )
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    from lastfm_lakehouse.data.generate_batch import remove_generated_batches  # it imports this module

    if removed := remove_generated_batches(out):  # batches extend the files they were drawn from
        print(f"removed {removed} generated batch(es) of the previous dataset in {out}", file=sys.stderr)
    artists = artists or default_artist_count(users)
    seeds = np.random.SeedSequence(seed)
    catalogue_seed, profile_seed, chunk_seed = seeds.spawn(3)
    manifest = Manifest(users=users, seed=seed, genres=genres, artists=artists)
    manifest.line_ending = "crlf" if crlf else "lf"
    eol = "\r\n" if crlf else "\n"
    catalogue = Catalogue(np.random.default_rng(catalogue_seed), artists, genres)
    manifest.malformed_mbid_artists = catalogue.stats["malformed_mbid_artists"]
    manifest.alias_artists = catalogue.stats["alias_artists"]
    manifest.homonym_artists = catalogue.stats["homonym_artists"]
    manifest.quoted_name_artists = catalogue.quoted

    shas = sorted(sha1_hex(f"lastfm-synthetic:{seed}:{i}") for i in range(users))
    # One user listens but has no profile (359,349 users in the plays file vs 359,347 profiles).
    orphan = sha1_hex(f"lastfm-synthetic:{seed}:orphan")
    play_shas = sorted([*shas, orphan])
    manifest.plays_users = len(play_shas) + 1
    manifest.users_without_profile = 1

    plays_path = out / PLAYS_FILE
    chunks = [play_shas[i : i + chunk_users] for i in range(0, len(play_shas), chunk_users)]
    child_seeds = chunk_seed.spawn(len(chunks) + 1)
    empty_mbid_parts = {i for i, p in enumerate(catalogue.parts) if p.startswith("\t\t")}
    bar = tqdm(total=len(play_shas), unit="user", desc="plays", disable=not progress, file=sys.stderr)
    with plays_path.open("w", encoding="utf-8", newline="") as handle:
        for index, (chunk, child) in enumerate(zip(chunks, child_seeds, strict=False)):
            lines = plays_chunk(
                np.random.default_rng(child),
                catalogue,
                chunk,
                genres,
                manifest,
                empty_mbid_parts,
                eol,
                plant_each=index == 0,
            )
            handle.write(lines)
            bar.update(len(chunk))
        # The fake user sorts after every hex sha1, so its block ends the file.
        fake = plays_chunk(
            np.random.default_rng(child_seeds[-1]),
            catalogue,
            [FAKE_USER],
            genres,
            manifest,
            empty_mbid_parts,
            eol,
            max_rows=12,
        )
        manifest.fake_user_lines = fake.count(eol)
        handle.write(fake)
    bar.close()

    profiles_path = out / PROFILES_FILE
    with profiles_path.open("w", encoding="utf-8", newline="") as handle:
        lines = list(profile_lines(np.random.default_rng(profile_seed), shas, manifest))
        handle.write(eol.join(lines))  # no newline after the last row, as in the real excerpt
    manifest.profile_lines = len(lines)
    if dialect != "original":
        resave(out, out, dialect)
        manifest.dialect = dialect
    manifest.seconds = round(time.perf_counter() - started, 2)
    manifest.files = {PLAYS_FILE: str(plays_path), PROFILES_FILE: str(profiles_path)}
    (out / "GENERATED.json").write_text(json.dumps(asdict(manifest), indent=2) + "\n", encoding="utf-8")
    return manifest


def plays_chunk(
    rng: np.random.Generator,
    catalogue: Catalogue,
    shas: list[str],
    genres: int,
    manifest: Manifest,
    empty_mbid_parts: set[int],
    eol: str,
    max_rows: int | None = None,
    plant_each: bool = False,
) -> str:
    """Lines of one chunk of user blocks; ``plant_each`` guarantees one of every rare row kind."""
    n = len(shas)
    counts = rows_per_user(rng, n)
    if max_rows is not None:
        counts = np.minimum(counts, max_rows)
    user, artist, affinity = sample_user_artists(rng, catalogue, counts, genres)
    plays = user_plays(rng, user, affinity, n)
    # Planted extremes: a few zero-play rows and outliers above 100,000 plays.
    rare = rng.random(user.size)
    duplicate = rng.random(user.size) < 4e-6
    if plant_each and rare.size >= 3:
        planted = rng.choice(rare.size, size=3, replace=False)
        rare[planted[:2]] = (0.0, 1.0)
        duplicate[planted[2]] = True
    plays[rare <= 2e-6] = 0
    outliers = rare >= 1 - 4e-6
    plays[outliers] = rng.integers(100_001, 450_000, size=int(outliers.sum()))
    # Spelling of each row: the artist's own, or one of its alternatives about a third of the time.
    part = artist.copy()
    alt = catalogue.alt_of[artist]
    use_alt = (alt >= 0) & (rng.random(user.size) < 0.35)
    for row in np.flatnonzero(use_alt):
        options = catalogue.alt_choices[alt[row]]
        part[row] = options[int(rng.integers(options.size))]
    # A few duplicate (user, artist name) rows, as found in the full file.
    dup = np.flatnonzero(duplicate)
    if dup.size:
        user, part, plays = (np.concatenate([a, a[dup]]) for a in (user, part, plays))
    order = np.lexsort((-plays, user))
    user, part, plays = user[order], part[order], plays[order]
    manifest.plays_lines += int(user.size)
    manifest.duplicate_lines += int(dup.size)
    manifest.zero_play_lines += int((plays == 0).sum())
    manifest.outlier_lines += int((plays > 100_000).sum())
    manifest.empty_mbid_lines += int(np.isin(part, list(empty_mbid_parts)).sum())
    parts = catalogue.parts_array[part]
    return "".join(
        f"{shas[u]}{p}{c}{eol}" for u, p, c in zip(user.tolist(), parts.tolist(), plays.tolist(), strict=True)
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lastfm_lakehouse.data.generate",
        description="Write usersha1-artmbid-artname-plays.tsv and usersha1-profile.tsv in the original "
        "Last.fm 360K format, with its shape and dirt, at any scale.",
    )
    parser.add_argument(
        "--users",
        type=int,
        default=DEFAULT_GENERATED_USERS,
        help=f"users with a profile (full scale: {FULL_USERS:,}; default %(default)s)",
    )
    parser.add_argument("--scale", type=float, help="fraction of full scale; overrides --users")
    parser.add_argument("--seed", type=int, default=DEFAULT_GENERATOR_SEED, help="default %(default)s")
    parser.add_argument("--out", type=Path, default=generated_raw_dir(), help="default %(default)s")
    parser.add_argument("--genres", type=int, default=24, help="taste communities (default %(default)s)")
    parser.add_argument("--artists", type=int, help="catalogue size (default: scaled from --users)")
    parser.add_argument("--crlf", action="store_true", help="write CRLF line endings")
    parser.add_argument(
        "--dialect",
        choices=sorted(DIALECTS),
        default="original",
        help="byte dialect of the files: "
        + "; ".join(f"{name}: {text}" for name, text in DIALECTS.items())
        + " (default %(default)s)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    batch = parser.add_argument_group(
        "batches", "--batch adds one day of new data to the files in --out, in <out>/batches/<YYYY-MM-DD>/"
    )
    batch.add_argument("--batch", action="store_true", help="write a batch instead of a dataset")
    batch.add_argument(
        "--batch-date",
        type=dt.date.fromisoformat,
        help="the batch's day, YYYY-MM-DD (default: the day after the newest batch, else today)",
    )
    batch.add_argument(
        "--batch-share",
        type=float,
        default=0.01,
        help="size as a share of the dataset: new listeners, and play lines (default %(default)s)",
    )
    args = parser.parse_args(argv)
    if args.batch:
        return _batch(parser, args)
    users = max(2, round(FULL_USERS * args.scale)) if args.scale else args.users
    try:
        manifest = generate(
            args.out,
            users=users,
            seed=args.seed,
            genres=args.genres,
            artists=args.artists,
            crlf=args.crlf,
            dialect=args.dialect,
            progress=not args.quiet,
        )
    except ValueError as exc:
        parser.error(str(exc))
    print(
        f"generated {manifest.plays_lines:,} play lines for {manifest.plays_users:,} users and "
        f"{manifest.profile_lines:,} profiles ({manifest.artists:,} artists) in {manifest.seconds:.1f}s "
        f"-> {args.out}",
        file=sys.stderr,
    )
    return 0


def _batch(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from lastfm_lakehouse.data.generate_batch import write_batch

    try:
        batch = write_batch(
            args.out, day=args.batch_date, share=args.batch_share, seed=args.seed, progress=not args.quiet
        )
    except ValueError as exc:
        parser.error(str(exc))
    print(
        f"batch {batch.batch}: {batch.play_lines:,} play lines ({batch.new_users:,} new listeners, "
        f"{batch.returning_users:,} returning), {batch.profile_lines:,} profile lines "
        f"({batch.changed_profiles:,} changed), {batch.forgotten:,} to forget, {batch.rejected_lines} "
        f"damaged lines, in {batch.seconds:.1f}s -> {args.out}/batches/{batch.batch}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
