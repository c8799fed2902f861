"""Turn top-N results keyed by integers into the rows BI tools read: sha1s, MBIDs and names."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

USER_LIST_COLUMNS = ("user_key", "user_sha1", "rank", "artist_key", "artist_mbid", "artist_name", "score")


def user_recommendations(
    recommendations: DataFrame, users: DataFrame, artists: DataFrame, extra: tuple[str, ...] = ()
) -> DataFrame:
    """(user_key, rank, artist_key, score, ...) + dim_users' sha1 + dim_artists' MBID and canonical name."""
    from pyspark.sql import functions as F

    names = artists.select("artist_key", "artist_mbid", F.col("canonical_name").alias("artist_name"))
    return (
        recommendations.join(users.select("user_key", "user_sha1"), "user_key")
        .join(names, "artist_key")
        .select(*USER_LIST_COLUMNS, *extra)
    )


def artist_pairs(pairs: DataFrame, artists: DataFrame, measure: str) -> DataFrame:
    """(artist_key, rank, similar_artist_key, measure) + the canonical names of both artists."""
    from pyspark.sql import functions as F

    names = artists.select("artist_key", "canonical_name")
    similar = names.select(
        F.col("artist_key").alias("similar_artist_key"), F.col("canonical_name").alias("similar_artist_name")
    )
    return (
        pairs.join(names.withColumnRenamed("canonical_name", "artist_name"), "artist_key")
        .join(similar, "similar_artist_key")
        .select("artist_key", "artist_name", "rank", "similar_artist_key", "similar_artist_name", measure)
    )
