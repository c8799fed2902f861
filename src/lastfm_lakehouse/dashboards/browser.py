"""The dashboards as a person sees them: headless Chromium (Debian ``chromium`` + ``chromium-driver``,
through Selenium) logs in to Superset, opens each dashboard, waits until every chart has rendered
(a canvas or a table) or failed, and reports per dashboard how long that took, which charts show an
error (Superset draws a chart's failure as an alert in its place) and a full-page screenshot.

``python -m lastfm_lakehouse.dashboards.browser --out DIR`` writes ``DIR/<slug>.png`` for every
dashboard and fails when a chart shows an error (``make dashboards-screenshots``).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from lastfm_lakehouse.dashboards import bundle

CHROMIUM = ("chromium", "chromium-browser", "google-chrome")
CHROMEDRIVER = ("chromedriver", "chromium-driver")
CHART = '[data-test="chart-grid-component"]'
# Superset draws a failed query or render as an antd alert where the chart would be.
CHART_ERROR = '[role="alert"]'
RENDERED = "canvas, table, svg.highcharts-root, .ag-root"
# "No results were returned for this query": a chart whose filter selects nothing (not an error)
EMPTY = ".ant-empty"
LOADING = '[aria-label="Loading..."], .loading, [data-test="loading-indicator"]'
WIDTH = 1600


@dataclass
class Rendered:
    slug: str
    seconds: float
    charts: int
    errors: dict[str, str] = field(default_factory=dict)
    # rows shown by each table chart (what a filter left of it)
    table_rows: dict[str, int] = field(default_factory=dict)
    # charts that rendered "No results" (e.g. an artist without co-listening neighbours)
    empty: list[str] = field(default_factory=list)
    screenshot: Path | None = None


def browser_paths() -> tuple[str, str] | None:
    """Chromium and its WebDriver on PATH, or None."""
    browser = next((found for name in CHROMIUM if (found := shutil.which(name))), None)
    driver = next((found for name in CHROMEDRIVER if (found := shutil.which(name))), None)
    return (browser, driver) if browser and driver else None


def open_browser() -> object:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    paths = browser_paths()
    if paths is None:
        raise RuntimeError("no Chromium and chromedriver on PATH: `make chromium` installs Debian's")
    options = webdriver.ChromeOptions()
    options.binary_location = paths[0]
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        f"--window-size={WIDTH},1200",
    ):
        options.add_argument(argument)
    return webdriver.Chrome(service=Service(paths[1]), options=options)


def log_in(
    driver: object, url: str, username: str, password: str, seconds: float = 60, tries: int = 3
) -> None:
    """Log in through Superset's login form, as a person does. Its React form can re-render while
    it starts, dropping keys typed before (a CI run once landed back on the login page, the fields
    empty): the fields are read back before the form is sent, and the whole login is tried again up
    to ``tries`` times, each within ``seconds``."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    def typed(element_id: str, text: str) -> bool:
        field = driver.find_element(By.ID, element_id)  # type: ignore[attr-defined]
        field.clear()
        field.send_keys(text)
        return field.get_attribute("value") == text

    seen = ""
    for _ in range(tries):
        driver.get(f"{url}/login/")  # type: ignore[attr-defined]
        wait = WebDriverWait(driver, seconds)
        try:
            wait.until(ec.element_to_be_clickable((By.ID, "username")))
            if not (typed("username", username) and typed("password", password)):
                seen = "the form lost what was typed into it"
                continue
            driver.find_element(By.CSS_SELECTOR, 'button[type="submit"]').click()  # type: ignore[attr-defined]
            wait.until(lambda d: "/login" not in d.current_url)
            return
        except TimeoutException:
            body = " ".join(driver.find_element(By.TAG_NAME, "body").text.split())[:500]  # type: ignore[attr-defined]
            seen = f"the page ({driver.current_url}) shows: {body}"  # type: ignore[attr-defined]
    raise RuntimeError(f"could not log in to {url} as {username} in {tries} tries of {seconds:.0f}s: {seen}")


def chart_states(driver: object) -> dict[str, str]:
    """Each chart on the page by name: "error: <text>", "loading", "empty" or "rendered"."""
    from selenium.webdriver.common.by import By

    states = {}
    for chart in driver.find_elements(By.CSS_SELECTOR, CHART):  # type: ignore[attr-defined]
        name = chart.get_attribute("data-test-chart-name") or chart.get_attribute("data-test-chart-id")
        alerts = chart.find_elements(By.CSS_SELECTOR, CHART_ERROR)
        if alerts:
            states[name] = "error: " + " ".join(alerts[0].text.split())
        elif chart.find_elements(By.CSS_SELECTOR, EMPTY):
            states[name] = "empty"
        elif chart.find_elements(By.CSS_SELECTOR, LOADING) or not chart.find_elements(
            By.CSS_SELECTOR, RENDERED
        ):
            states[name] = "loading"
        else:
            states[name] = "rendered"
    return states


def table_rows(driver: object) -> dict[str, int]:
    from selenium.webdriver.common.by import By

    return {
        chart.get_attribute("data-test-chart-name"): len(
            chart.find_elements(By.CSS_SELECTOR, "table tbody tr")
        )
        for chart in driver.find_elements(By.CSS_SELECTOR, CHART)  # type: ignore[attr-defined]
        if chart.get_attribute("data-test-viz-type") == "table"
    }


def render(
    driver: object, url: str, slug: str, expected_charts: int, out: Path | None, seconds: float
) -> Rendered:
    """Open the dashboard and wait until all its charts are rendered or failed (or ``seconds`` pass)."""
    started = time.monotonic()
    driver.get(f"{url}/superset/dashboard/{slug}/")  # type: ignore[attr-defined]
    states: dict[str, str] = {}
    while time.monotonic() - started < seconds:
        states = chart_states(driver)
        if len(states) >= expected_charts and all(state != "loading" for state in states.values()):
            break
        time.sleep(0.5)
    elapsed = time.monotonic() - started
    errors = {name: state for name, state in states.items() if state not in ("rendered", "empty")}
    empty = sorted(name for name, state in states.items() if state == "empty")
    if len(states) < expected_charts:
        errors["(dashboard)"] = f"{len(states)} of {expected_charts} charts on the page after {seconds:.0f}s"
    screenshot = None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        height = driver.execute_script("return document.body.scrollHeight")  # type: ignore[attr-defined]
        driver.set_window_size(WIDTH, max(1200, int(height)))  # type: ignore[attr-defined]
        time.sleep(1)  # let the charts re-layout to the taller window
        screenshot = out / f"{slug}.png"
        driver.save_screenshot(str(screenshot))  # type: ignore[attr-defined]
        driver.set_window_size(WIDTH, 1200)  # type: ignore[attr-defined]
    return Rendered(slug, elapsed, len(states), errors, table_rows(driver), empty, screenshot)


def expected_charts(slug: str) -> int:
    position = bundle.dashboards()[slug]["position"]
    return sum(1 for item in position.values() if isinstance(item, dict) and item.get("type") == "CHART")


def render_all(
    url: str, username: str, password: str, out: Path | None, seconds: float = 180
) -> list[Rendered]:
    driver = open_browser()
    try:
        log_in(driver, url, username, password)
        return [
            render(driver, url, slug, expected_charts(slug), out, seconds) for slug in bundle.dashboards()
        ]
    finally:
        driver.quit()  # type: ignore[attr-defined]


def main(argv: list[str] | None = None) -> int:
    from lastfm_lakehouse.dashboards.superset_app import ADMIN, SupersetConfig, admin_password

    parser = argparse.ArgumentParser(
        prog="python -m lastfm_lakehouse.dashboards.browser", description=__doc__
    )
    parser.add_argument("--out", type=Path, required=True, help="directory for <slug>.png")
    args = parser.parse_args(argv)
    config = SupersetConfig.from_env()
    password, _ = admin_password(config.home)
    failed = False
    for result in render_all(config.url, ADMIN, password, args.out):
        print(f"{result.slug}: {result.charts} charts in {result.seconds:.1f}s -> {result.screenshot}")
        if result.empty:
            print(f"  no results (not an error): {', '.join(result.empty)}")
        for name, error in result.errors.items():
            failed = True
            print(f"  {name}: {error}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
