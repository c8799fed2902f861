"""The dashboards as code, without a JVM or Superset: the checked-in Superset export
(``src/lastfm_lakehouse/dashboards/superset/``) is whole (every reference resolves), reads only
columns the dbt project documents, matches the exposures, and becomes the zip Superset imports."""

from __future__ import annotations

import ast
import io
import json
import re
import zipfile
from pathlib import Path

import pytest
import yaml

from lastfm_lakehouse.dashboards import bundle, superset_app
from lastfm_lakehouse.serving.server import ServerConfig

from .conftest import REPO

EXPORT = bundle.EXPORT_DIR


def load(kind: str) -> dict[str, dict]:
    return {path.stem: yaml.safe_load(path.read_text()) for path in sorted((EXPORT / kind).rglob("*.yaml"))}


DATASETS = load("datasets")
CHARTS = load("charts")
DASHBOARDS = load("dashboards")
DATABASE = yaml.safe_load((EXPORT / bundle.DATABASE_FILE).read_text())


def documented_columns() -> dict[str, set[str]]:
    """Every dbt model's documented columns, from the yml beside the models."""
    found: dict[str, set[str]] = {}
    for root in (REPO / "dbt_project" / "models", REPO / "models_py"):
        for path in root.rglob("*.yml"):
            for model in (yaml.safe_load(path.read_text()) or {}).get("models", []) or []:
                found[model["name"]] = {c["name"] for c in model.get("columns", [])}
    return found


def chart_columns(chart: dict) -> set[str]:
    """The columns a chart reads: its query context's columns, metrics, filters and ordering, and
    the same in its form data (what the browser queries)."""
    params = chart["params"]
    names = set(params.get("all_columns") or []) | set(params.get("groupby") or [])
    names |= {params["x_axis"]} if params.get("x_axis") else set()
    names |= {json.loads(o)[0] for o in params.get("order_by_cols") or []}
    context = json.loads(chart["query_context"])
    for query in context["queries"]:
        names |= set(query["columns"]) | {f["col"] for f in query["filters"]}
        names |= {o[0] for o in query["orderby"] if isinstance(o[0], str)}
        for metric in query["metrics"] or []:
            names |= set(re.findall(r"\((\w+)\)", metric["sqlExpression"]))
    names |= {f["subject"] for f in params.get("adhoc_filters", [])}
    for metric in params.get("metrics") or []:
        names |= set(re.findall(r"\((\w+)\)", metric["sqlExpression"]))
    return names


def charts_on(dashboard: dict) -> list[str]:
    return [
        item["meta"]["uuid"]
        for item in dashboard["position"].values()
        if isinstance(item, dict) and item.get("type") == "CHART"
    ]


def test_every_reference_in_the_export_resolves() -> None:
    dataset_uuids = {d["uuid"]: name for name, d in DATASETS.items()}
    chart_uuids = {c["uuid"] for c in CHARTS.values()}
    assert all(d["database_uuid"] == DATABASE["uuid"] for d in DATASETS.values())
    assert all(c["dataset_uuid"] in dataset_uuids for c in CHARTS.values())
    on_dashboards = [uuid for d in DASHBOARDS.values() for uuid in charts_on(d)]
    assert sorted(on_dashboards) == sorted(chart_uuids), "every chart on exactly one dashboard"
    for name, dashboard in DASHBOARDS.items():
        ids = {
            i["meta"]["chartId"]
            for i in dashboard["position"].values()
            if isinstance(i, dict) and i.get("type") == "CHART"
        }
        for native in dashboard["metadata"]["native_filter_configuration"]:
            assert all(t["datasetUuid"] in dataset_uuids for t in native["targets"]), name
            assert set(native["scope"]["excluded"]) <= ids, name


def test_charts_read_only_documented_columns_of_dbt_models() -> None:
    documented = documented_columns()
    by_uuid = {d["uuid"]: d for d in DATASETS.values()}
    for key, chart in CHARTS.items():
        table = by_uuid[chart["dataset_uuid"]]["table_name"]
        assert table in documented, f"{key}: {table} is not a dbt model"
        missing = chart_columns(chart) - documented[table]
        assert not missing, f"chart {key} reads {sorted(missing)}, not documented on {table}"


def test_filters_apply_to_charts_whose_dataset_has_their_column() -> None:
    documented = documented_columns()
    by_uuid = {c["uuid"]: c for c in CHARTS.values()}
    tables = {d["uuid"]: d["table_name"] for d in DATASETS.values()}
    for dashboard in DASHBOARDS.values():
        chart_ids = {
            i["meta"]["chartId"]: i["meta"]["uuid"]
            for i in dashboard["position"].values()
            if isinstance(i, dict) and i.get("type") == "CHART"
        }
        for native in dashboard["metadata"]["native_filter_configuration"]:
            column = native["targets"][0]["column"]["name"]
            in_scope = [uuid for cid, uuid in chart_ids.items() if cid not in native["scope"]["excluded"]]
            assert in_scope, native["name"]
            for uuid in in_scope:
                table = tables[by_uuid[uuid]["dataset_uuid"]]
                assert column in documented[table], (
                    f"filter {native['name']} on {table}, which has no {column}"
                )


def test_query_contexts_match_their_charts() -> None:
    for key, chart in CHARTS.items():
        context = json.loads(chart["query_context"])
        assert context["form_data"]["viz_type"] == chart["viz_type"], key
        raw = chart["params"].get("query_mode") == "raw"
        # raw tables must not aggregate: a metrics list makes Superset group by every column
        assert all((q["metrics"] is None) == raw for q in context["queries"]), key


def test_each_dashboard_has_exposures_that_name_what_its_charts_read() -> None:
    exposures = yaml.safe_load((REPO / "dbt_project" / "models" / "marts" / "_exposures.yml").read_text())
    tables = {d["uuid"]: d["table_name"] for d in DATASETS.values()}
    by_uuid = {c["uuid"]: c for c in CHARTS.values()}
    for dashboard in DASHBOARDS.values():
        slug = dashboard["slug"]
        linked = [
            e for e in exposures["exposures"] if e.get("url", "").endswith(f"/superset/dashboard/{slug}/")
        ]
        assert linked, f"no exposure links to dashboard {slug}"
        named = {ref.split("'")[1] for e in linked for ref in e["depends_on"]}
        read = {tables[by_uuid[uuid]["dataset_uuid"]] for uuid in charts_on(dashboard)}
        assert named == read, f"{slug}: exposures name {sorted(named)}, charts read {sorted(read)}"


def test_bundle_points_the_database_at_this_server() -> None:
    uri = bundle.sqlalchemy_uri("127.0.0.1", 10123, "lastfm_other")
    archive = zipfile.ZipFile(io.BytesIO(bundle.build(uri)))
    names = archive.namelist()
    assert f"{bundle.BUNDLE_ROOT}/metadata.yaml" in names
    assert len([n for n in names if "/charts/" in n]) == len(CHARTS)
    database = yaml.safe_load(archive.read(f"{bundle.BUNDLE_ROOT}/{bundle.DATABASE_FILE}"))
    assert database["sqlalchemy_uri"] == "hive://127.0.0.1:10123/lastfm_other"
    assert yaml.safe_load(archive.read(f"{bundle.BUNDLE_ROOT}/metadata.yaml"))["type"] == "assets"
    ldap = bundle.sqlalchemy_uri("h", 1, "s", user="b i", ldap=True)
    # the password is never in the URL: Superset's mask keeps the one given at import
    assert ldap == f"hive://b%20i:{bundle.PASSWORD_MASK}@h:1/s?auth=LDAP"


def test_tls_server_connections_go_through_a_verified_tls_socket(tmp_path: Path) -> None:
    server = ServerConfig(host="127.0.0.1", thrift_port=10000, connect_port=15002, home=tmp_path, tls=True)
    config = superset_app.SupersetConfig(venv=tmp_path, home=tmp_path, port=8088, lakehouse=server)
    with pytest.raises(superset_app.DashboardsError, match=r"certificate .* is missing"):
        superset_app.lakehouse_uri(config)
    certificate = tmp_path / "tls" / "server.pem"
    certificate.parent.mkdir()
    certificate.write_text("(a certificate)")
    assert superset_app.lakehouse_uri(config)[0] == "hive://127.0.0.1:10000/lastfm"
    assert superset_app.write_config(config)
    written = config.config_file.read_text()
    assert "DB_CONNECTION_MUTATOR" in written and repr(str(certificate)) in written
    compile(written, str(config.config_file), "exec")  # Superset imports it
    assert not superset_app.write_config(config), "unchanged: a running Superset keeps running"
    plain = superset_app.SupersetConfig(
        venv=tmp_path, home=tmp_path, port=8088, lakehouse=ServerConfig("127.0.0.1", 10000, 15002, tmp_path)
    )
    assert superset_app.write_config(plain), "TLS off: changed, Superset restarts"
    written = plain.config_file.read_text()
    # still a socket with a timeout, no TLS
    assert "LAKEHOUSE_CERTIFICATE = ''" in written and "LAKEHOUSE_SOCKET_TIMEOUT_SECONDS = 120" in written
    assert "AUTH_LDAP" not in written  # Superset's own users while the server checks no password


def test_superset_logs_people_in_against_the_directory_with_roles_by_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the server on LDAP, Superset binds as the person (their own password) and maps their
    groups to its roles at every login: readers read-only, the SQL Lab group SQL Lab besides,
    dashboard admins Admin, anyone else nothing; connections have socket timeouts."""
    for name in ("LAKEHOUSE_LDAP_URL", "LAKEHOUSE_LDAP_BASE_DN", "LAKEHOUSE_LDAP_READER_GROUP"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LAKEHOUSE_LDAP_PORT", "3999")
    monkeypatch.setenv("LAKEHOUSE_LDAP_SQL_LAB_GROUP", "cn=analysts,ou=teams,dc=example,dc=org")
    server = ServerConfig(host="127.0.0.1", thrift_port=10000, connect_port=15002, home=tmp_path, auth="ldap")
    config = superset_app.SupersetConfig(
        venv=tmp_path, home=tmp_path, port=8088, lakehouse=server, socket_timeout=45
    )
    superset_app.write_config(config)
    written = config.config_file.read_text()
    compile(written, str(config.config_file), "exec")  # Superset imports it
    settings: dict[str, object] = {}
    for line in written.splitlines():
        name, _, value = line.partition(" = ")
        if name.isupper() and name.startswith(("AUTH_", "RECAPTCHA", "LAKEHOUSE_")):
            settings[name] = value
    assert settings.pop("AUTH_TYPE") == "AUTH_LDAP"
    values = {name: ast.literal_eval(str(value)) for name, value in settings.items()}
    assert values["AUTH_LDAP_SERVER"] == "ldap://127.0.0.1:3999"
    assert values["AUTH_LDAP_USERNAME_FORMAT"] == "uid=%s,ou=people,dc=lakehouse,dc=local"
    assert values["AUTH_LDAP_GROUP_FIELD"] == "memberOf"
    assert values["AUTH_USER_REGISTRATION_ROLE"] == "Public"  # no group, no permission
    assert values["AUTH_ROLES_SYNC_AT_LOGIN"] is True
    assert values["AUTH_ROLES_MAPPING"] == {
        "cn=lakehouse-readers,ou=groups,dc=lakehouse,dc=local": [superset_app.READER_ROLE],
        "cn=analysts,ou=teams,dc=example,dc=org": [superset_app.READER_ROLE, "sql_lab"],
        "cn=lakehouse-dashboard-admins,ou=groups,dc=lakehouse,dc=local": ["Admin"],
    }
    assert values["LAKEHOUSE_SOCKET_TIMEOUT_SECONDS"] == 45


def test_ldap_server_without_a_known_password_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DBT_ENV_SECRET_LAKEHOUSE_PASSWORD", raising=False)
    server = ServerConfig(host="127.0.0.1", thrift_port=10000, connect_port=15002, home=tmp_path, auth="ldap")
    config = superset_app.SupersetConfig(venv=tmp_path, home=tmp_path, port=8088, lakehouse=server)
    with pytest.raises(superset_app.DashboardsError, match="make directory"):
        superset_app.lakehouse_uri(config)
