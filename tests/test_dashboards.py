"""Superset on a built lakehouse, used as a person would: ``make dashboards``' provisioning
(``lastfm_lakehouse.dashboards.superset_app``) against a real Thrift server, every chart's data
through Superset's REST API, and every dashboard opened in headless Chromium, logged in, waited for
and checked for chart errors, with screenshots kept under the test's output.

Needs Superset's virtualenv and Chromium; the fixture installs both through ``make`` (Chromium with
apt, as root) and skips, saying why, only where Chromium cannot be installed.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from lastfm_lakehouse.dashboards import browser, bundle, superset_app
from lastfm_lakehouse.dashboards.api import Superset, SupersetError
from lastfm_lakehouse.dashboards.superset_app import ADMIN, ADMIN_PASSWORD_FILE

from .conftest import REPO, CliLakehouse, secrets_on_command_lines
from .test_server import free_port, run

pytestmark = pytest.mark.spark  # a dbt build and the server's JVM

LAKEHOUSE_SUPERSET_VENV = REPO / ".venv-superset"
RECOMMENDATIONS_N = 20  # dbt_project.yml var recommendations_n


def make(target: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "-s", target], cwd=REPO, capture_output=True, text=True, timeout=1800, check=False
    )


@pytest.fixture(scope="module")
def dashboards(
    cli_lakehouse: CliLakehouse, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    installed = make("chromium")
    if installed.returncode != 0:
        pytest.skip(
            f"Chromium cannot be installed here: {installed.stdout.strip()} {installed.stderr.strip()}"
        )
    started = time.monotonic()
    installed = make("superset")
    assert installed.returncode == 0, installed.stdout + installed.stderr
    install_seconds = time.monotonic() - started
    # the lakehouse make build made (shared with test_cli, which checks that build)
    assert cli_lakehouse.build.returncode == 0, cli_lakehouse.build.stderr[-3000:]
    home = cli_lakehouse.home
    env = {
        **cli_lakehouse.env,
        "LAKEHOUSE_THRIFT_PORT": str(free_port()),
        "LAKEHOUSE_CONNECT_PORT": str(free_port()),
        "LAKEHOUSE_SUPERSET_PORT": str(free_port()),
        "LAKEHOUSE_SUPERSET_VENV": str(LAKEHOUSE_SUPERSET_VENV),
        "PYSPARK_PYTHON": sys.executable,
    }
    for name in ("LAKEHOUSE_SERVER_AUTH", "LAKEHOUSE_SERVER_TLS", "LAKEHOUSE_SUPERSET_ADMIN_PASSWORD"):
        env.pop(name, None)
    server = [sys.executable, "-m", "lastfm_lakehouse.serving.server"]
    superset = [sys.executable, "-m", "lastfm_lakehouse.dashboards.superset_app"]
    try:
        up = run([*server, "start"], env, timeout=400)
        assert up.returncode == 0, up.stdout + up.stderr
        started = time.monotonic()
        provisioned = run([*superset, "up"], env, timeout=900)
        assert provisioned.returncode == 0, provisioned.stdout + provisioned.stderr
        env["UP_OUTPUT"] = provisioned.stdout
        env["UP_SECONDS"] = f"{time.monotonic() - started:.1f}"
        env["INSTALL_SECONDS"] = f"{install_seconds:.1f}"
        yield env
    finally:
        run([*superset, "down"], env, timeout=120)
        run([*server, "stop"], env, timeout=120)
        # the server's and Superset's logs outlive the lakehouse: a failure can be read afterwards
        logs = tmp_path_factory.mktemp("dashboards-logs")
        shutil.copytree(home / "logs", logs, dirs_exist_ok=True)
        print(f"\nserver and Superset logs in {logs}")


def client(env: dict[str, str]) -> Superset:
    """A REST client logged in as the admin (one login: Superset rate-limits them)."""
    password = (Path(env["LAKEHOUSE_HOME"]) / "secrets" / ADMIN_PASSWORD_FILE).read_text().strip()
    return Superset(f"http://127.0.0.1:{env['LAKEHOUSE_SUPERSET_PORT']}", ADMIN, password).login()


def log_file(env: dict[str, str], name: str) -> Path:
    """A log the server or Superset writes under the lakehouse."""
    return Path(env["LAKEHOUSE_HOME"]) / "logs" / name


def log_errors(env: dict[str, str], name: str, limit: int = 40) -> str:
    """The last lines of a log under the lakehouse that name an error: for a failure's message."""
    path = log_file(env, name)
    lines = path.read_text(errors="replace").splitlines() if path.is_file() else []
    hits = [line[:300] for line in lines if "ERROR" in line or "Exception" in line or "Error:" in line]
    return f"{path}:\n" + "\n".join(hits[-limit:])


def test_up_provisions_once_says_where_and_is_idempotent(dashboards: dict[str, str]) -> None:
    print(f"\nsuperset install {dashboards['INSTALL_SECONDS']}s, first up {dashboards['UP_SECONDS']}s")
    out = dashboards["UP_OUTPUT"]
    password = (Path(dashboards["LAKEHOUSE_HOME"]) / "secrets" / ADMIN_PASSWORD_FILE).read_text().strip()
    assert password not in out, "the generated password is printed to no log, not even once"
    assert "lastfm-lakehouse dashboards password" in out  # says how to read it instead
    shown = run(
        [sys.executable, "-m", "lastfm_lakehouse.dashboards.superset_app", "password"], dashboards, timeout=60
    )
    assert shown.returncode == 0 and shown.stdout.strip() == password
    for slug in bundle.dashboards():
        assert f"/superset/dashboard/{slug}/" in out
    again = run(
        [sys.executable, "-m", "lastfm_lakehouse.dashboards.superset_app", "up"], dashboards, timeout=600
    )
    assert again.returncode == 0, again.stdout + again.stderr
    assert "already running" in again.stdout and password not in again.stdout
    log = log_file(dashboards, "superset.log").read_text()
    assert password not in log
    titles = {d["dashboard_title"] for d in client(dashboards).get("/api/v1/dashboard/")["result"]}
    assert titles == {d["dashboard_title"] for d in bundle.dashboards().values()}, "re-import adds nothing"


def test_every_chart_of_every_dashboard_returns_data(dashboards: dict[str, str]) -> None:
    superset = client(dashboards)
    for slug in bundle.dashboards():
        charts = superset.charts_of(slug)
        assert len(charts) == browser.expected_charts(slug), slug
        for chart in charts:
            started = time.monotonic()
            result = superset.chart_data(chart["id"])["result"][0]
            seconds = time.monotonic() - started
            print(f"{slug} / {chart['slice_name']}: {result['rowcount']} rows in {seconds:.2f}s")
            assert not result.get("error"), (slug, chart["slice_name"], result["error"])
            assert result["rowcount"] > 0, (slug, chart["slice_name"])
    # Every chart query opens and closes a Thrift session (Superset pools none): a close the server
    # fails is only logged by Superset (once: a NoClassDefFoundError in Hive's function registry).
    log = log_file(dashboards, "superset.log").read_text()
    assert "Exception closing connection" not in log, log_errors(dashboards, "superset.log")


def test_dashboards_render_in_chromium_without_errors(dashboards: dict[str, str], tmp_path: Path) -> None:
    password = (Path(dashboards["LAKEHOUSE_HOME"]) / "secrets" / ADMIN_PASSWORD_FILE).read_text().strip()
    out = tmp_path / "screenshots"
    results = browser.render_all(
        f"http://127.0.0.1:{dashboards['LAKEHOUSE_SUPERSET_PORT']}", ADMIN, password, out
    )
    print(f"\nscreenshots in {out}")
    for result in results:
        print(f"{result.slug}: {result.charts} charts rendered in {result.seconds:.1f}s")
        assert not result.errors, (
            result.slug,
            result.errors,
            result.screenshot,
            log_errors(dashboards, "server.log"),
        )
        assert result.screenshot is not None and result.screenshot.stat().st_size > 10_000
    rows = {r.slug: r.table_rows for r in results}["recommendations"]
    # the user and artist filters select their first value on load: one user, one artist's lists
    assert rows["The user"] == 1, rows
    assert 0 < rows["ALS: top artists for the user"] <= RECOMMENDATIONS_N, rows
    assert 0 < rows["Similar artists (ALS cosine)"] <= RECOMMENDATIONS_N, rows


def test_a_broken_chart_is_caught_by_both_checks(dashboards: dict[str, str], tmp_path: Path) -> None:
    """The checks can fail: a chart reading a column its table lacks shows an error in the browser
    and through the API; re-importing the checked-in export repairs it."""
    broken = tmp_path / "export"
    shutil.copytree(bundle.EXPORT_DIR, broken)
    chart_file = broken / "charts" / "play_statistics.yaml"
    chart = yaml.safe_load(chart_file.read_text())
    chart["params"]["all_columns"].append("no_such_column")
    chart["query_context"] = chart["query_context"].replace('"stage_name"', '"no_such_column"', 1)
    chart_file.write_text(yaml.safe_dump(chart, sort_keys=False))
    superset = client(dashboards)
    uri = f"hive://127.0.0.1:{dashboards['LAKEHOUSE_THRIFT_PORT']}/lastfm"
    superset.import_bundle(bundle.build(uri, broken))
    try:
        for dataset in superset.datasets(bundle.database_name()):
            superset.refresh_dataset(dataset["id"])
        chart_id = next(
            c["id"] for c in superset.charts_of("listening-data") if c["slice_name"] == chart["slice_name"]
        )
        with pytest.raises(SupersetError, match="no_such_column"):
            superset.chart_data(chart_id)
        password = superset.password
        driver = browser.open_browser()
        try:
            browser.log_in(driver, superset.url, ADMIN, password)
            result = browser.render(
                driver, superset.url, "listening-data", browser.expected_charts("listening-data"), None, 120
            )
        finally:
            driver.quit()
        assert "no_such_column" in result.errors.get(chart["slice_name"], ""), result.errors
    finally:
        repaired = run(
            [sys.executable, "-m", "lastfm_lakehouse.dashboards.superset_app", "up"], dashboards, timeout=600
        )
        assert repaired.returncode == 0, repaired.stdout + repaired.stderr


def test_missing_server_and_taken_port_are_reported(dashboards: dict[str, str], tmp_path: Path) -> None:
    up = [sys.executable, "-m", "lastfm_lakehouse.dashboards.superset_app", "up"]
    no_server = run(
        up,
        {**dashboards, "LAKEHOUSE_HOME": str(tmp_path), "LAKEHOUSE_THRIFT_PORT": str(free_port())},
        timeout=120,
    )
    assert no_server.returncode == 1
    assert "Thrift server is not answering" in no_server.stderr and "make serve" in no_server.stderr
    taken = run(
        up,
        {
            **dashboards,
            "LAKEHOUSE_HOME": str(tmp_path),
            "LAKEHOUSE_SUPERSET_PORT": dashboards["LAKEHOUSE_THRIFT_PORT"],
        },
        timeout=600,
    )
    assert taken.returncode == 1
    assert (
        f"port {dashboards['LAKEHOUSE_THRIFT_PORT']}" in taken.stderr
        and "LAKEHOUSE_SUPERSET_PORT" in taken.stderr
    )


def test_an_ldap_and_tls_server_is_reached_with_a_password_over_verified_tls(
    dashboards: dict[str, str],
) -> None:
    """Last in this module (it leaves the server on LDAP and TLS): the server restarted checking
    passwords against a real directory (slapd, ``serving.directory``) and speaking TLS; ``up``
    restarts Superset, which logs in as ``bi`` (the password given at import, kept encrypted) over a
    socket that verifies the server's certificate, and every chart still returns data."""
    server = [sys.executable, "-m", "lastfm_lakehouse.serving.server"]
    directory = [sys.executable, "-m", "lastfm_lakehouse.serving.directory"]
    secured = {**dashboards, "LAKEHOUSE_SERVER_TLS": "on", "LAKEHOUSE_LDAP_PORT": str(free_port())}
    try:
        ldap = run([*directory, "up"], secured, timeout=600)
        if ldap.returncode == 0:
            secured["LAKEHOUSE_SERVER_AUTH"] = "ldap"
        else:  # no slapd to be had (not root): TLS alone is still worth testing
            assert "apt-get, as root" in ldap.stderr, ldap.stdout + ldap.stderr
        assert run([*server, "stop"], dashboards, timeout=120).returncode == 0
        started = run([*server, "start"], secured, timeout=400)
        assert started.returncode == 0, started.stdout + started.stderr
        up = run(
            [sys.executable, "-m", "lastfm_lakehouse.dashboards.superset_app", "up"], secured, timeout=600
        )
        assert up.returncode == 0, up.stdout + up.stderr
        assert "restarting" in up.stdout
        superset = client(secured)
        for slug in bundle.dashboards():
            for chart in superset.charts_of(slug):
                result = superset.chart_data(chart["id"])["result"][0]
                assert not result.get("error") and result["rowcount"] > 0, (slug, chart["slice_name"])
        if secured.get("LAKEHOUSE_SERVER_AUTH") == "ldap":
            check_directory_logins(secured)
        # Superset, the server and slapd running: none holds a secret on its command line
        assert not secrets_on_command_lines(Path(secured["LAKEHOUSE_HOME"]))
    finally:
        run([*server, "stop"], secured, timeout=120)
        run([*directory, "down"], secured, timeout=120)


def directory_login(env: dict[str, str], user: str) -> Superset:
    """A person logged in to Superset with their directory account (``make directory``'s users)."""
    password = (Path(env["LAKEHOUSE_HOME"]) / "secrets" / f"{user}.password").read_text().strip()
    return Superset(
        f"http://127.0.0.1:{env['LAKEHOUSE_SUPERSET_PORT']}", user, password, provider="ldap"
    ).login()


def refused(action: Any) -> str:
    with pytest.raises(SupersetError, match="HTTP 403") as caught:
        action()
    return str(caught.value)


def check_directory_logins(env: dict[str, str]) -> None:
    """Superset's roles come from the directory's groups: the reader ``bi`` sees every chart's data
    and may change nothing, nor open SQL Lab; the analyst (SQL Lab group) may query, and what they
    may run is what the server lets a reader run; the builder ``dbt``, in no Superset group, gets
    nothing."""
    sql = "select count(*) as n from lastfm.dim_users"
    reader = directory_login(env, "bi")
    assert set(reader.get("/api/v1/me/roles/")["result"]["roles"]) == {superset_app.READER_ROLE, "Public"}
    for chart in reader.charts_of("listening-data"):
        result = reader.chart_data(chart["id"])["result"][0]
        assert not result.get("error") and result["rowcount"] > 0, chart["slice_name"]
    new_chart = {"slice_name": "mine", "viz_type": "table", "datasource_id": 1, "datasource_type": "table"}
    refused(lambda: reader.request("POST", "/api/v1/chart/", json=new_chart))
    dashboard_id = reader.dashboard("listening-data")["id"]
    refused(lambda: reader.request("PUT", f"/api/v1/dashboard/{dashboard_id}", json={"dashboard_title": "x"}))
    execute = {"database_id": 1, "sql": sql, "schema": "lastfm", "runAsync": False}
    refused(lambda: reader.request("POST", "/api/v1/sqllab/execute/", json=execute))

    analyst = directory_login(env, "analyst")
    assert "sql_lab" in analyst.get("/api/v1/me/roles/")["result"]["roles"]
    (database,) = analyst.get("/api/v1/database/")["result"]
    counted = analyst.request(
        "POST", "/api/v1/sqllab/execute/", json={**execute, "database_id": database["id"]}
    )
    assert counted["status"] == "success" and counted["data"][0]["n"] > 0, counted
    for statement in ("drop table lastfm.dim_users", "select * from text.`/etc/passwd`"):
        with pytest.raises(SupersetError) as caught:
            analyst.request(
                "POST",
                "/api/v1/sqllab/execute/",
                json={**execute, "database_id": database["id"], "sql": statement},
            )
        assert "HTTP 403" not in str(caught.value)  # refused by Superset's DML guard or the server
    again = analyst.request(
        "POST", "/api/v1/sqllab/execute/", json={**execute, "database_id": database["id"]}
    )
    assert again["data"] == counted["data"]

    builder = directory_login(env, "dbt")
    refused(lambda: builder.get("/api/v1/chart/"))
    refused(lambda: builder.request("POST", "/api/v1/sqllab/execute/", json=execute))
