"""The country seed: 239 Last.fm countries, column-safe slugs, docs in step with the seed."""

from __future__ import annotations

import pytest

from lastfm_lakehouse.data import countries
from lastfm_lakehouse.settings import repo_root

from .conftest import PROFILE_SAMPLE


def test_seed_has_the_239_countries_with_valid_unique_slugs() -> None:
    seed = countries.load()
    assert len(seed) == 239
    assert countries.problems(seed) == []
    assert all(c.column.isidentifier() and c.column.islower() for c in seed)


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Korea, Republic of", "korea_republic_of"),
        ("Virgin Islands, U.s.", "virgin_islands_u_s"),
        ("Cote D'Ivoire", "cote_d_ivoire"),
        ("Holy See (Vatican City State)", "holy_see_vatican_city_state"),
        ("Réunion", "reunion"),
    ],
)
def test_slugify(name: str, slug: str) -> None:
    assert countries.slugify(name) == slug


def test_dim_users_docs_match_the_seed() -> None:
    docs = (repo_root() / countries.DOCS_PATH).read_text(encoding="utf-8")
    assert countries.render_docs(docs, countries.load()) == docs, (
        "run python -m lastfm_lakehouse.data.countries --write"
    )


def test_every_country_of_the_real_profiles_is_in_the_seed() -> None:
    if not PROFILE_SAMPLE.exists():
        pytest.skip("real excerpts absent")
    names = {c.name for c in countries.load()}
    seen = {line.split("\t")[3] for line in PROFILE_SAMPLE.read_text(encoding="utf-8").splitlines()}
    assert len(seen) == 71 and seen <= names
