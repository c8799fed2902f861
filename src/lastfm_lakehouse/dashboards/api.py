"""A small client of Superset's REST API (``/api/v1``): log in, import the bundle, refresh the
datasets' columns, list dashboards and their charts, fetch a chart's data. Used by ``make
dashboards`` and by the tests, which check every chart through it."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

import requests

CSRF_INPUT = re.compile(r'name="csrf_token"[^>]*?value="([^"]+)"', re.S)


class SupersetError(RuntimeError):
    pass


@dataclass
class Superset:
    url: str
    username: str
    password: str
    timeout: float = 300.0
    session: requests.Session = field(default_factory=requests.Session)
    # "db": Superset's own users (the admin); "ldap": a directory account
    provider: str = "db"

    def login(self) -> Superset:
        response = self.session.post(
            f"{self.url}/api/v1/security/login",
            json={
                "username": self.username,
                "password": self.password,
                "provider": self.provider,
                "refresh": True,
            },
            timeout=self.timeout,
        )
        if response.status_code != 200:
            raise SupersetError(f"login as {self.username} at {self.url} failed: HTTP {response.status_code}")
        self.session.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
        self.session.headers.update({"X-CSRFToken": self.csrf_token(), "Referer": self.url})
        return self

    def csrf_token(self) -> str:
        """The token Superset wants on every write, for this client's session cookie: from its API
        (which only admins may call), else from a page, as a browser gets it."""
        response = self.session.get(f"{self.url}/api/v1/security/csrf_token/", timeout=self.timeout)
        if response.status_code == 200:
            return str(response.json()["result"])
        page = self.session.get(f"{self.url}/login/", timeout=self.timeout)
        found = CSRF_INPUT.search(page.text)
        if found is None:
            raise SupersetError(f"no CSRF token for {self.username} at {self.url} (HTTP {page.status_code})")
        return found.group(1)

    def request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self.session.request(method, f"{self.url}{path}", timeout=self.timeout, **kwargs)
        if response.status_code >= 400:
            raise SupersetError(f"{method} {path}: HTTP {response.status_code}: {response.text[:2000]}")
        return response.json() if response.content else {}

    def get(self, path: str, **kwargs: Any) -> dict[str, Any]:
        return self.request("GET", path, **kwargs)

    def import_bundle(self, bundle: bytes, passwords: dict[str, str] | None = None) -> None:
        """Import an assets bundle: everything in it overwrites what an earlier import made (the
        dashboard import keeps earlier charts and datasets as they were)."""
        self.request(
            "POST",
            "/api/v1/assets/import/",
            files={"bundle": ("lakehouse_dashboards.zip", bundle, "application/zip")},
            data={"passwords": json.dumps(passwords or {})},
        )

    def datasets(self, database_name: str) -> list[dict[str, Any]]:
        query = "(columns:!(id,table_name,database.database_name),page_size:100)"
        found = self.get(f"/api/v1/dataset/?q={query}")["result"]
        return [d for d in found if d["database"]["database_name"] == database_name]

    def refresh_dataset(self, dataset_id: int) -> None:
        """Sync the dataset's columns from the table (Superset's "Sync columns from source")."""
        self.request("PUT", f"/api/v1/dataset/{dataset_id}/refresh")

    def dashboard(self, slug: str) -> dict[str, Any]:
        return self.get(f"/api/v1/dashboard/{slug}")["result"]

    def charts_of(self, slug: str) -> list[dict[str, Any]]:
        return self.get(f"/api/v1/dashboard/{slug}/charts")["result"]

    def chart_data(self, chart_id: int) -> dict[str, Any]:
        """The chart's data through its saved query context, fresh from the database."""
        return self.get(f"/api/v1/chart/{chart_id}/data/?force=true")


def wait_healthy(url: str, seconds: float, alive: Any = None) -> bool:
    """True once ``url``/health answers OK within ``seconds``; False early when ``alive()`` is False."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if alive is not None and not alive():
            return False
        try:
            if requests.get(f"{url}/health", timeout=5).text.strip() == "OK":
                return True
        except requests.RequestException:
            pass
        time.sleep(2)
    return False
