"""Parameter classes read from dbt config values (recommenders.params.ModelParams)."""

from __future__ import annotations

import pytest

from lastfm_lakehouse.recommenders.als import AlsParams
from lastfm_lakehouse.recommenders.knn import KnnParams
from lastfm_lakehouse.recommenders.lsh import LshParams

# what dbt hands a Python model: rendered Jinja, so strings
CONFIG = {
    "als_rank": "8",
    "als_max_iter": "3",
    "als_reg_param": "0.5",
    "als_alpha": "40",
    "als_seed": "1",
    "als_num_blocks": "0",
    "knn_k": "5",
    "knn_age_weight": "0.1",
    "knn_country_weight": "0",
    "knn_top_artists": "3",
    "knn_candidates": "9",
    "lsh_hash_tables": "2",
    "lsh_max_distance": "0.9",
    "lsh_min_listeners": "2",
    "lsh_seed": "3",
}


def test_every_field_named_in_config_keys_is_read_with_its_type() -> None:
    assert AlsParams.from_config(CONFIG.get) == AlsParams(8, 3, 0.5, 40.0, 1, 0)
    knn = KnnParams.from_config(CONFIG.get)
    assert (knn.k, knn.age_weight, knn.country_weight, knn.top_artists, knn.candidates) == (5, 0.1, 0.0, 3, 9)
    assert knn.seed == KnnParams().seed  # not a var: the class default
    assert LshParams.from_config(CONFIG.get) == LshParams(2, 0.9, 2, 3)


def test_a_missing_or_unreadable_value_names_the_var() -> None:
    with pytest.raises(ValueError, match="als_rank = 'eight' is not int"):
        AlsParams.from_config({**CONFIG, "als_rank": "eight"}.get)
    without = {k: v for k, v in CONFIG.items() if k != "knn_candidates"}
    with pytest.raises(ValueError, match="'knn_candidates' is missing"):
        KnnParams.from_config(without.get)
    with pytest.raises(ValueError, match="lsh_max_distance must be in"):
        LshParams.from_config({**CONFIG, "lsh_max_distance": "2"}.get)


def test_text_and_map_forms_hold_every_field() -> None:
    params = AlsParams.from_config(CONFIG.get)
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
    params = AlsParams.from_config(CONFIG.get)
    key = "als_comparison_max_iter"
    assert params.with_var("max_iter", key, "5") == AlsParams(8, 5, 0.5, 40.0, 1, 0)
    assert params.max_iter == 3  # the served parameters are unchanged
    with pytest.raises(ValueError, match="var als_comparison_max_iter = 'five' is not int"):
        params.with_var("max_iter", key, "five")
    below_one = r"var als_comparison_max_iter = 0: .*max_iter must be >= 1, got 8 and 0"
    with pytest.raises(ValueError, match=below_one):
        params.with_var("max_iter", key, 0)
    with pytest.raises(ValueError, match="'als_comparison_max_iter' is missing"):
        params.with_var("max_iter", key, None)


def test_every_params_default_is_its_dbt_var_default() -> None:
    # a default written twice must not disagree (AlsParams.rank was 32 while var als_rank was 16)
    import dataclasses

    import yaml

    from lastfm_lakehouse.recommenders.als import AlsParams
    from lastfm_lakehouse.recommenders.knn import KnnParams
    from lastfm_lakehouse.recommenders.lsh import LshParams

    from .conftest import REPO

    project_vars = yaml.safe_load((REPO / "dbt_project" / "dbt_project.yml").read_text())["vars"]
    for params in (AlsParams, KnnParams, LshParams):
        defaults = {f.name: f.default for f in dataclasses.fields(params)}
        for field, var in params.CONFIG_KEYS.items():
            assert defaults[field] == project_vars[var], f"{params.__name__}.{field} vs var {var}"
