"""What the built marts already hold for a listener in the data: their ALS top-N, as a BI tool reads it.

    lastfm-lakehouse listeners -n 3                      # listeners to try: sha1, country, age, artists
    lastfm-lakehouse artists -n 5                        # the most listened artists, for a new listener
    lastfm-lakehouse recommend --user <sha1> -n 10       # that listener's ALS list, "because you played"

Both read the tables ``make build`` wrote, in this process's embedded session (the same lakehouse
home); a listener who is not in the data goes through the fold-in (``listener``) instead.
"""

from __future__ import annotations

import re

import pandas as pd

SHA1 = re.compile(r"[0-9a-f]{40}")


class NotBuiltError(RuntimeError):
    """A mart the command reads does not exist: the message names it and says to build first."""


class UnknownListenerError(ValueError):
    """The sha1 is well formed but no listener in the marts has it."""


def parse_sha1(text: str) -> str:
    """A listener's sha1 as the marts hold it (40 lower-case hex digits), or a ValueError naming it."""
    value = text.strip().lower()
    if not SHA1.fullmatch(value):
        raise ValueError(f"--user {text!r} is not a user sha1 (40 hexadecimal digits)")
    return value


def read(spark: object, sql: str, tables: list[str]) -> pd.DataFrame:
    """``sql`` as pandas; a missing table becomes a NotBuiltError naming it, anything else is raised as is."""
    from pyspark.errors import AnalysisException

    try:
        return spark.sql(sql).toPandas()  # type: ignore[attr-defined]
    except AnalysisException as exc:
        if getattr(exc, "getCondition", lambda: None)() == "TABLE_OR_VIEW_NOT_FOUND":
            raise NotBuiltError(
                f"{' / '.join(tables)} not found ({str(exc).splitlines()[0]}): run `make build` first, "
                "with the same LAKEHOUSE_HOME and LAKEHOUSE_SCHEMA"
            ) from exc
        raise


def listeners(spark: object, schema: str, n: int) -> pd.DataFrame:
    """``n`` listeners who have recommendations, most artists first (ties by sha1): a place to start."""
    return read(
        spark,
        f"""
        select u.user_sha1, u.country, u.age, count(*) as artists_played
        from {schema}.dim_users as u
        inner join {schema}.fct_plays as f on u.user_key = f.user_key
        where u.user_sha1 in (select user_sha1 from {schema}.mart_recommendations_als)
        group by u.user_sha1, u.country, u.age
        order by artists_played desc, u.user_sha1
        limit {int(n)}
        """,
        [f"{schema}.dim_users", f"{schema}.fct_plays", f"{schema}.mart_recommendations_als"],
    )


def artists(spark: object, schema: str, n: int) -> pd.DataFrame:
    """The ``n`` artists with the most listeners (ties by name): names a new listener can give."""
    table = f"{schema}.dim_artists"
    return read(
        spark,
        f"select canonical_name as artist_name, listeners from {table} "
        f"order by listeners desc, canonical_name limit {int(n)}",
        [table],
    )


def recommendations(spark: object, schema: str, user_sha1: str, n: int) -> pd.DataFrame:
    """The listener's top ``n`` of ``mart_recommendations_als``: rank, artist, score, because."""
    table = f"{schema}.mart_recommendations_als"
    result = read(
        spark,
        f"""
        select rank, artist_name, score, because_artist_name as because
        from {table}
        where user_sha1 = '{parse_sha1(user_sha1)}'
        order by rank
        limit {int(n)}
        """,
        [table],
    )
    if result.empty:
        raise UnknownListenerError(
            f"no recommendations for {user_sha1} in {table}: not a listener in the data, or one "
            "without plays (`lastfm-lakehouse listeners` lists some; a new listener: recommend <artists>)"
        )
    return result
