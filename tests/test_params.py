"""Parameter classes read from dbt config values (recommenders.params.ModelParams)."""

from __future__ import annotations

import pytest

from lastfm_lakehouse.recommenders.als import AlsParams
from lastfm_lakehouse.recommenders.knn import KnnParams
from lastfm_lakehouse.recommenders.lsh import LshParams

# what dbt hands a Python model: each family's var as one mapping (from --vars, values may be text)
ALS = {"rank": 8, "max_iter": "3", "reg_param": 0.5, "alpha": 40, "seed": 1, "blocks": 0}
KNN = {"k": 5, "age_weight": "0.1", "country_weight": 0, "top_artists": 3, "candidates": 9}
LSH = {"hash_tables": 2, "max_distance": 0.9, "min_listeners": 2, "seed": 3}


def test_every_key_of_the_var_is_read_with_its_type_and_the_rest_keep_their_defaults() -> None:
    assert AlsParams.from_var(ALS) == AlsParams(8, 3, 0.5, 40.0, 1, 0)
    knn = KnnParams.from_var(KNN)
    assert (knn.k, knn.age_weight, knn.country_weight, knn.top_artists, knn.candidates) == (5, 0.1, 0.0, 3, 9)
    assert knn.seed == KnnParams().seed  # not given: the class default
    assert LshParams.from_var(LSH) == LshParams(2, 0.9, 2, 3)
    assert AlsParams.from_var({}) == AlsParams.from_var(None) == AlsParams()
    assert AlsParams.from_var({"rank": 32}) == AlsParams(rank=32)


def test_a_wrong_key_or_value_names_the_var_and_the_key() -> None:
    with pytest.raises(ValueError, match=r"var als.rank = 'eight' is not int"):
        AlsParams.from_var({**ALS, "rank": "eight"})
    with pytest.raises(ValueError, match=r"var als.rank = 16.5 is not int"):
        AlsParams.from_var({"rank": 16.5})  # refused, not cut to 16
    with pytest.raises(ValueError, match="var knn: no key neighbours; its keys are k, age_weight"):
        KnnParams.from_var({"neighbours": 5})
    with pytest.raises(ValueError, match=r"var lsh: max_distance must be in \[0, 1\], got 2.0"):
        LshParams.from_var({**LSH, "max_distance": "2"})
    with pytest.raises(ValueError, match="var als must be a mapping of rank, max_iter"):
        AlsParams.from_var("rank=32")


def test_text_and_map_forms_hold_every_field() -> None:
    params = AlsParams.from_var(ALS)
    assert params.as_text() == "rank=8, max_iter=3, reg_param=0.5, alpha=40.0, seed=1, blocks=0"
    assert params.as_map(training_input="all") == {
        "rank": "8",
        "max_iter": "3",
        "reg_param": "0.5",
        "alpha": "40.0",
        "seed": "1",
        "blocks": "0",
        "training_input": "all",
    }


def test_the_comparison_als_takes_its_own_iterations_and_names_a_bad_var() -> None:
    params = AlsParams.from_var(ALS)
    key = "als_comparison_max_iter"
    assert params.with_var("max_iter", key, "5") == AlsParams(8, 5, 0.5, 40.0, 1, 0)
    assert params.max_iter == 3  # the served parameters are unchanged
    with pytest.raises(ValueError, match="var als_comparison_max_iter = 'five' is not int"):
        params.with_var("max_iter", key, "five")
    below_one = r"var als_comparison_max_iter = 0: .*max_iter must be >= 1, got 8 and 0"
    with pytest.raises(ValueError, match=below_one):
        params.with_var("max_iter", key, 0)
    with pytest.raises(ValueError, match="var als_comparison_max_iter is missing"):
        params.with_var("max_iter", key, None)


def test_the_project_sets_only_keys_the_classes_have() -> None:
    """The defaults are the classes' alone: dbt_project.yml's mapping vars hold no key a class lacks
    (a default there would be written twice; a misspelt one would be refused at build time)."""
    import yaml

    from .conftest import REPO

    project_vars = yaml.safe_load((REPO / "dbt_project" / "dbt_project.yml").read_text())["vars"]
    for params in (AlsParams, KnnParams, LshParams):
        assert params.from_var(project_vars[params.VAR]) == params(), params.VAR
    retired = {"als_rank", "als_max_iter", "knn_k", "lsh_seed", "als_num_blocks"}
    assert not retired & set(project_vars), "a family's parameter is a key of its mapping var"
