"""Every recommender by name, and how each is made from a dbt Python model's config values.

One contract test (``tests/test_recommender_contract.py``) fits every entry and checks what it
recommends and what it calls similar; a new model is a module implementing ``base.Recommender``
and one entry here. The evaluation (mart_model_evaluation) scores these models, the served ALS read
from its mart instead of trained again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lastfm_lakehouse.recommenders.als import Als, AlsParams
from lastfm_lakehouse.recommenders.base import Recommender
from lastfm_lakehouse.recommenders.knn import KnnParams, UserKnn
from lastfm_lakehouse.recommenders.popularity import MostPopular

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

# (config getter: a var name -> its value, e.g. "als" -> {rank: 32}; dim_users: user_key,
# age_scaled, country) -> a model
Factory = Callable[[Callable[[str], Any], "DataFrame"], Recommender]

MODELS: dict[str, Factory] = {
    "popularity": lambda get, users: MostPopular(),
    "als": lambda get, users: Als(AlsParams.from_var(get(AlsParams.VAR))),
    "knn": lambda get, users: UserKnn(KnnParams.from_var(get(KnnParams.VAR)), users),
}


def build(name: str, get: Callable[[str], Any], users: DataFrame) -> Recommender:
    """The model ``name``, its parameters read (and checked) from ``get``."""
    try:
        factory = MODELS[name]
    except KeyError:
        raise ValueError(f"no recommender named {name!r}: the models are {', '.join(MODELS)}") from None
    return factory(get, users)
