"""Where the server's secrets live and how clients find them: ``$LAKEHOUSE_HOME/secrets/``, one
file per secret, mode 600, created on first use. Secrets go to programs through these files (or
``DBT_ENV_SECRET_*`` variables, which dbt scrubs from its logs), never on a command line.

* ``<user>.password``: a user's LDAP password (``make directory`` creates the BI reader ``bi``'s,
  the builder ``dbt``'s and the SQL Lab analyst ``analyst``'s);
* ``ldap-admin.password``: the directory's admin;
* ``ldap-server.password``: the server's own directory entry, which reads users' groups;
* ``connect.token``: the Spark Connect pre-shared token (``spark.connect.authenticate.token``).
* ``keystore.password``: the Thrift server's TLS keystore (``serving.tls``).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import urlparse

from lastfm_lakehouse.settings import lakehouse_home

DEFAULT_BI_USER = "bi"
DEFAULT_BUILDER_USER = "dbt"
DEFAULT_ANALYST_USER = "analyst"
LDAP_SERVER_PASSWORD = "ldap-server.password"
CONNECT_TOKEN = "connect.token"
KEYSTORE_PASSWORD = "keystore.password"
LDAP_ADMIN_PASSWORD = "ldap-admin.password"
# Spark Connect sends a token without TLS only over a local channel, which pyspark opens for
# this host name alone (pyspark.sql.connect.client.core.DefaultChannelBuilder).
LOCAL_CONNECT_HOST = "localhost"


def secrets_dir(home: Path | None = None) -> Path:
    return (home or lakehouse_home()) / "secrets"


def password_file(user: str) -> str:
    """The file name of ``user``'s password under ``secrets_dir``."""
    return f"{user}.password"


def secret(file_name: str, value: str | None = None, home: Path | None = None) -> str:
    """The secret kept in ``secrets_dir()/file_name``: written with ``value`` when given (or random
    when the file is absent)."""
    folder = secrets_dir(home)
    path = folder / file_name
    if value is not None or not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(value if value is not None else secrets.token_urlsafe(24))
    return path.read_text().strip()


def bi_user() -> str:
    return os.environ.get("LAKEHOUSE_BI_USER", "").strip() or DEFAULT_BI_USER


def builder_user() -> str:
    """The account dbt's ``server`` target logs in as (the builder group's member)."""
    return os.environ.get("LAKEHOUSE_BUILDER_USER", "").strip() or DEFAULT_BUILDER_USER


def analyst_user() -> str:
    """A reader who may use Superset's SQL Lab besides (the SQL Lab group's member)."""
    return os.environ.get("LAKEHOUSE_ANALYST_USER", "").strip() or DEFAULT_ANALYST_USER


def password_of(user: str, home: Path | None = None) -> str | None:
    """``DBT_ENV_SECRET_LAKEHOUSE_PASSWORD``, else the user's password file; None when neither."""
    given = os.environ.get("DBT_ENV_SECRET_LAKEHOUSE_PASSWORD", "")
    if given:
        return given
    path = secrets_dir(home) / password_file(user)
    return path.read_text().strip() if path.is_file() else None


def connect_token(home: Path | None = None) -> str | None:
    """The Spark Connect token when the server uses one (its file exists), else None."""
    path = secrets_dir(home) / CONNECT_TOKEN
    return path.read_text().strip() if path.is_file() else None


def with_token(url: str, token: str | None) -> str:
    """``sc://host:port`` with the token appended; a loopback host becomes ``localhost`` so that
    pyspark sends the token over its local channel."""
    if not token or ";token=" in url:
        return url
    parsed = urlparse(url)
    if parsed.hostname in ("127.0.0.1", "::1", LOCAL_CONNECT_HOST):
        url = url.replace(parsed.netloc, f"{LOCAL_CONNECT_HOST}:{parsed.port or 15002}", 1)
    if "/;" in url:
        return f"{url};token={token}"
    return f"{url.rstrip('/')}/;token={token}"


def hive_login() -> dict[str, str]:
    """PyHive ``connect`` keywords for the server as configured: LDAP user and password when
    ``LAKEHOUSE_SERVER_AUTH=ldap``, nothing otherwise."""
    if os.environ.get("LAKEHOUSE_SERVER_AUTH", "none").strip().lower() != "ldap":
        return {}
    user = bi_user()
    password = password_of(user)
    if password is None:
        raise RuntimeError(
            f"the server wants a password for {user}: set DBT_ENV_SECRET_LAKEHOUSE_PASSWORD or run "
            "`make directory`"
        )
    return {"username": user, "password": password, "auth": "LDAP"}
