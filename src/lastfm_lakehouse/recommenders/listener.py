"""Recommendations for a listener who is not in the data, by folding their artists into the trained
ALS artist factors (no retraining).

    lastfm-lakehouse recommend "radiohead" "muse=3" "portishead" -n 10

Each artist may carry a weight after ``=`` (default 1); ratings are weights / the largest weight, as
``fct_plays.rating`` is plays_capped / plays_cap. The listener's factors solve the same implicit-ALS
normal equation Spark solves for a user (Hu, Koren & Volinsky 2008, with Spark's ALS-WR scaling of
the regularisation by the number of rated artists):

    (YᵀY + Yᵀ(C - I)Y + λ·n·I) x = Yᵀ C p,   C = diag(1 + alpha · rating),  p = 1 on rated artists

and the scores are Y x, best first, the listener's own artists excluded.
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lastfm_lakehouse.recommenders import served
from lastfm_lakehouse.recommenders.topn import Targets, normalise_rows, top_n


class UnknownArtistError(ValueError):
    """An artist given by the listener is not in dim_artists (the message suggests close names)."""


@dataclass(frozen=True)
class Taste:
    name: str
    weight: float


def parse_taste(text: str) -> Taste:
    """``"muse=3"`` -> Taste("muse", 3.0); a name without ``=number`` weighs 1."""
    match = re.fullmatch(r"(?P<name>.+?)=(?P<weight>[0-9]*\.?[0-9]+)", text.strip())
    name, weight = (match["name"], float(match["weight"])) if match else (text.strip(), 1.0)
    if not name:
        raise ValueError(f"empty artist name in {text!r}")
    if weight <= 0:
        raise ValueError(f"weight of {name!r} must be > 0, got {weight}")
    return Taste(name, weight)


def fold_in(
    factors: np.ndarray, rows: np.ndarray, ratings: np.ndarray, alpha: float, reg_param: float
) -> np.ndarray:
    """The implicit-ALS user vector for ``ratings`` of artist ``rows`` of ``factors`` (see module doc)."""
    y = factors.astype(np.float64)
    rated = y[rows]
    confidence = 1.0 + alpha * ratings
    lhs = (
        y.T @ y + rated.T @ ((confidence - 1.0)[:, None] * rated) + reg_param * len(rows) * np.eye(y.shape[1])
    )
    return np.linalg.solve(lhs, rated.T @ confidence)


def resolve_artists(tastes: list[Taste], spellings: pd.DataFrame, artists: pd.DataFrame) -> pd.DataFrame:
    """artist_key per taste: exact spelling match (case-insensitive); the most-listened on ties."""
    table = spellings.merge(artists[["artist_key", "listeners"]], on="artist_key")
    table["lookup"] = table["artist_name"].str.lower()
    found = []
    for taste in tastes:
        matches = table[table["lookup"] == taste.name.lower()].sort_values("listeners", ascending=False)
        if matches.empty:
            close = difflib.get_close_matches(
                taste.name.lower(), artists["canonical_name"].str.lower().unique(), n=3
            )
            hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise UnknownArtistError(f"no artist named {taste.name!r} in dim_artists{hint}")
        found.append(
            {"input": taste.name, "weight": taste.weight, "artist_key": int(matches.iloc[0]["artist_key"])}
        )
    return pd.DataFrame(found)


def recommend(
    tastes: list[Taste],
    factors: pd.DataFrame,
    spellings: pd.DataFrame,
    artists: pd.DataFrame,
    parameters: Mapping[str, str],
    n: int,
) -> pd.DataFrame:
    """Top ``n`` artists for the listener: rank, artist_key, artist_name, score, because."""
    chosen = resolve_artists(tastes, spellings, artists)
    targets = Targets.from_frame(factors, "artist_key")
    keys, matrix = targets.keys, targets.factors
    chosen_keys = chosen["artist_key"].to_numpy(dtype=np.int64)
    known = np.isin(chosen_keys, keys)
    if not known.any():
        raise UnknownArtistError("none of the given artists has ALS factors (too few listeners in training)")
    rows = targets.index_of(chosen_keys[known])
    ratings = chosen["weight"].to_numpy()[known] / chosen["weight"].max()
    user = fold_in(matrix, rows, ratings, float(parameters["alpha"]), float(parameters["reg_param"]))
    indices, scores = top_n(user[None, :], matrix, n, [rows])
    valid = indices[0] >= 0
    picked = indices[0][valid]
    normalised = normalise_rows(matrix)
    because = rows[np.argmax((normalised[picked] @ normalised[rows].T) * ratings, axis=1)]
    names = artists.set_index("artist_key")["canonical_name"]
    return pd.DataFrame(
        {
            "rank": np.arange(1, len(picked) + 1),
            "artist_key": keys[picked],
            "artist_name": names.reindex(keys[picked]).to_numpy(),
            "score": scores[0][valid],
            "because": names.reindex(keys[because]).to_numpy(),
        }
    )


def parse_output_options(
    parser: argparse.ArgumentParser, argv: list[str] | None, rows: int
) -> tuple[argparse.Namespace, str]:
    """The options every lookup command shares (``-n``, ``--tsv``, ``--schema``) added to ``parser``;
    its parsed arguments and the schema of the marts."""
    parser.add_argument("-n", type=int, default=rows, help="how many rows (default %(default)s)")
    parser.add_argument("--tsv", action="store_true", help="tab-separated output with a header, for scripts")
    parser.add_argument(
        "--schema", default=None, help="schema of the marts (default $LAKEHOUSE_SCHEMA or lastfm)"
    )
    args = parser.parse_args(argv)
    if args.n < 1:
        parser.error("-n must be >= 1")
    return args, args.schema or os.environ.get("LAKEHOUSE_SCHEMA", "lastfm")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="lastfm-lakehouse recommend",
        description=__doc__ + "\n" + (served.__doc__ or ""),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("artists", nargs="*", help='a new listener\'s artists, optionally weighted: "muse=3"')
    parser.add_argument(
        "--user", metavar="SHA1", help="a listener in the data: their list from mart_recommendations_als"
    )
    args, schema = parse_output_options(parser, argv, rows=20)
    if bool(args.artists) == bool(args.user):
        parser.error("give either artists (a new listener) or --user SHA1 (a listener in the data)")
    try:
        tastes = [parse_taste(text) for text in args.artists]
        if args.user:
            served.parse_sha1(args.user)
    except ValueError as exc:
        parser.error(str(exc))
    from lastfm_lakehouse.spark_session import get_or_create

    spark = get_or_create()
    try:
        if args.user:
            result = served.recommendations(spark, schema, args.user, args.n)
        else:
            result = recommend(tastes, *read_marts(spark, schema), args.n)
    except (served.NotBuiltError, served.UnknownListenerError, UnknownArtistError) as exc:
        print(str(exc), file=sys.stderr)
        return 2
    print_table(result, args.tsv)
    return 0


def read_marts(
    spark: object, schema: str
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, Mapping[str, str]]:
    """The ALS artist factors, the spellings, the artists and the ALS parameters, as pandas."""
    names = ["mart_als_artist_factors", "mart_als_factors", "dim_artist_spellings", "dim_artists"]
    tables = [f"{schema}.{name}" for name in names]
    factors = served.read(spark, f"select artist_key, factors from {tables[0]}", tables)
    parameters = served.read(spark, f"select parameters from {tables[1]} limit 1", tables)
    spellings = served.read(spark, f"select artist_key, artist_name from {tables[2]}", tables)
    artists = served.read(spark, f"select artist_key, canonical_name, listeners from {tables[3]}", tables)
    return factors, spellings, artists, parameters["parameters"].iloc[0]


def print_table(result: pd.DataFrame, tsv: bool) -> None:
    if tsv:
        print(result.to_csv(sep="\t", index=False), end="")
    else:
        print(result.to_string(index=False, formatters={"score": "{:.4f}".format}))


def listeners_main(argv: list[str] | None = None, what: str = "listeners") -> int:
    """``lastfm-lakehouse listeners``: listeners in the data, to try ``recommend --user`` on;
    ``lastfm-lakehouse artists``: the most listened artists, for a new listener's ``recommend``."""
    parser = argparse.ArgumentParser(prog=f"lastfm-lakehouse {what}", description=listeners_main.__doc__)
    args, schema = parse_output_options(parser, argv, rows=3 if what == "listeners" else 10)
    from lastfm_lakehouse.spark_session import get_or_create

    lookup = served.listeners if what == "listeners" else served.artists
    try:
        result = lookup(get_or_create(), schema, args.n)
    except served.NotBuiltError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    print_table(result, args.tsv)
    return 0
