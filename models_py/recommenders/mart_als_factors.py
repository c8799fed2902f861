"""ALS factors of every user and artist, trained with Spark ALS (implicit) on the training rows of
eval_plays_holdout_split: every row but the evaluated users' held-out ones (default), or their
per-artist-capped sample (var als_training_input). The rows' fingerprint goes into ``parameters``:
mart_model_evaluation scores these factors only when they were trained on exactly its training rows.
"""

from pyspark.sql import functions as F

from lastfm_lakehouse import progress
from lastfm_lakehouse.evaluation.holdout import training_rows
from lastfm_lakehouse.recommenders.als import (
    FINGERPRINT_KEY,
    AlsParams,
    parse_training_input,
    train,
    training_fingerprint,
)


def model(dbt, spark):
    # dbt hands a Python model only the config keys its file names in literal dbt.config.get("...")
    # calls; a model family's parameters are one mapping var (AlsParams.from_var reads and checks it).
    params = AlsParams.from_var(dbt.config.get("als"))
    source = parse_training_input(dbt.config.get("als_training_input"))
    ratings = training_rows(dbt.ref("eval_plays_holdout_split"), source)
    progress.step("fingerprint of the training rows")
    fingerprint = training_fingerprint(ratings)
    progress.step(f"train Spark ALS (rank {params.rank}, {params.max_iter} iterations)")
    users, artists = train(ratings, params)
    progress.step("write the factors")
    users = users.select(F.lit("user").alias("entity_type"), F.col("user_key").alias("entity_key"), "factors")
    artists = artists.select(
        F.lit("artist").alias("entity_type"), F.col("artist_key").alias("entity_key"), "factors"
    )
    return users.unionByName(artists).select(
        "entity_type",
        "entity_key",
        "factors",
        F.create_map(
            *[
                F.lit(part)
                for item in params.as_map(training_input=source, **{FINGERPRINT_KEY: fingerprint}).items()
                for part in item
            ]
        ).alias("parameters"),
        F.current_timestamp().alias("trained_at"),
    )
