"""The front door and the docs site (fast tier: no JVM): the README stays a one-page front door whose
links resolve, ``make docs`` builds the site with MkDocs in strict mode, and the configuration
reference is generated from the code, every dbt var with a meaning."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from lastfm_lakehouse import docs_site

from .conftest import REPO


def test_readme_is_a_front_door_whose_links_resolve() -> None:
    text = (REPO / "README.md").read_text()
    assert len(text.splitlines()) <= 150
    first_screen = " ".join(text.splitlines()[:20]).lower()
    for subject in ("lakehouse", "recommend", "server", "dashboards"):
        assert subject in first_screen, subject
    for target in re.findall(r"\]\(([^)#]+)\)", text):
        if not target.startswith("http"):
            assert (REPO / target).exists(), f"README links to {target}, which does not exist"


def test_every_page_is_in_the_site_and_it_builds_strict(tmp_path: Path) -> None:
    pages = {path.name for path in (REPO / "docs").glob("*.md")}
    in_nav = {page for _, page in docs_site.NAV}
    assert pages | {"index.md"} == in_nav
    docs_site.build(tmp_path / "site")
    for page in in_nav:
        assert (tmp_path / "site" / page.replace(".md", ".html")).exists(), page
    assert (tmp_path / "site" / "img" / "recommendations.png").exists()


def test_a_broken_link_fails_the_site(tmp_path: Path, monkeypatch) -> None:
    broken = tmp_path / "docs"
    broken.mkdir()
    for page in (REPO / "docs").glob("*.md"):
        (broken / page.name).write_text(page.read_text())
    (broken / "data.md").write_text("# Data\n\nSee [nowhere](no-such-page.md).\n")
    monkeypatch.setattr(docs_site, "DOCS", broken)
    try:
        docs_site.build(tmp_path / "site")
    except Exception as exc:  # subprocess.CalledProcessError: mkdocs --strict refused it
        assert "returned non-zero" in str(exc)
    else:
        raise AssertionError("a link to a missing page built")


def test_the_configuration_reference_is_generated_from_the_code() -> None:
    project = yaml.safe_load((REPO / "dbt_project" / "dbt_project.yml").read_text())
    found = {var.name: var for var in docs_site.dbt_vars()}
    assert set(found) == set(project["vars"])
    assert all(var.meaning for var in found.values()), [n for n, v in found.items() if not v.meaning]
    assert found["plays_cap"].default == "700" and "capped" in found["plays_cap"].meaning
    assert found["age_max"].meaning == found["age_min"].meaning  # a var below another shares its comment

    variables = {entry.name: entry for entry in docs_site.env_vars()}
    assert "'300'" in variables["LAKEHOUSE_QUERY_TIMEOUT_SECONDS"].defaults
    assert "5433" in variables["LAKEHOUSE_PG_PORT"].defaults  # read through settings.env_number
    assert "profiles/profiles.yml" in variables["LAKEHOUSE_SCHEMA"].places
    assert "DBT_DIRS" not in variables  # the Makefile's own variables are not settings
    page = docs_site.configuration_page()
    for name in [*found, *variables]:
        assert f"`{name}`" in page


def test_the_bench_results_page_lists_every_result_with_its_commit() -> None:
    page = docs_site.bench_results_page()
    for path in (REPO / "bench" / "results").glob("*.json"):
        assert f"`{path.name}`" in page
    assert "| `2026-12-07-scale-0.25.json` | 2026-12-07 | ab62e247c2 | delta | 89,837 | 483 s |" in page


def test_the_generated_pages_in_git_are_what_the_code_generates_now(tmp_path: Path) -> None:
    for name, page in docs_site.GENERATED.items():
        committed = (REPO / "docs" / name).read_text()
        assert committed == page(), (
            f"docs/{name} is stale: run make docs (or python -m lastfm_lakehouse.docs_site generate)"
        )
    (tmp_path / "configuration.md").write_text("stale")
    changed = docs_site.generate(tmp_path)
    assert {path.name for path in changed} == set(docs_site.GENERATED)
    assert docs_site.generate(tmp_path) == []  # idempotent


def test_the_env_example_is_what_the_code_generates_and_holds_no_password() -> None:
    committed = (REPO / ".env.example").read_text()
    assert committed == docs_site.env_example(), ".env.example is stale: run make docs"
    names = set(re.findall(r"^# ([A-Z0-9_]+)=", committed, flags=re.MULTILINE))
    assert {"LAKEHOUSE_HOME", "LAKEHOUSE_SCHEMA", "LAKEHOUSE_DRIVER_MEMORY", "LAKEHOUSE_LDAP_PORT"} <= names
    assert not [name for name in names if name.endswith("PASSWORD") or "SECRET" in name]
    # each at its default (written once in the code), commented out
    for line in ("THRIFT_PORT=10000", "LDAP_PORT=3389", "DRIVER_MEMORY=12g", "SPARK_MASTER=local[*]"):
        assert f"# LAKEHOUSE_{line}\n" in committed, line
