"""``make dashboards``: Apache Superset on the lakehouse's marts, at http://127.0.0.1:8088.

Superset runs from its own virtualenv (``LAKEHOUSE_SUPERSET_VENV``, default ``.venv-superset``; ``make``
installs it) so its pins never meet dbt's or pyspark's. Its state lives in
``$LAKEHOUSE_HOME/superset/`` (metadata database, config, pid) and its log in
``$LAKEHOUSE_HOME/logs/superset.log``. ``up`` is idempotent: it initialises what is missing, starts
Superset when it is not running, and (re)imports the checked-in dashboards every time.

  up        initialise, start, import the dashboards, print their URLs
  down      stop Superset
  status    is it up, where, where is its log
  password  print the admin's password (nothing else prints it: not ``up``, not a log)

The admin is ``admin``; the password is ``LAKEHOUSE_SUPERSET_ADMIN_PASSWORD`` when set, otherwise generated
once and kept in ``$LAKEHOUSE_HOME/secrets/superset-admin.password`` (mode 600).

With ``LAKEHOUSE_SERVER_AUTH=ldap`` people log in with their directory accounts and get Superset's
roles from their groups (``serving.roles``): readers the read-only ``Lakehouse Reader``, the SQL Lab
group SQL Lab besides, dashboard admins ``Admin``. Superset reaches the lakehouse as the BI reader,
so what SQL Lab may run is what the server lets a reader run. Every connection to the lakehouse has
a socket timeout (``LAKEHOUSE_SUPERSET_SOCKET_TIMEOUT_SECONDS``, default 120).
"""

from __future__ import annotations

import os
import secrets
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from lastfm_lakehouse import commands
from lastfm_lakehouse.access import trust
from lastfm_lakehouse.access.credentials import bi_user, password_of, secret, secrets_dir
from lastfm_lakehouse.dashboards import bundle
from lastfm_lakehouse.dashboards.api import Superset, SupersetError, wait_healthy
from lastfm_lakehouse.serving import roles
from lastfm_lakehouse.serving.server import ServerConfig, port_open, tail
from lastfm_lakehouse.settings import env_number, lakehouse_home

ADMIN = "admin"
ADMIN_PASSWORD_FILE = "superset-admin.password"
SECRET_KEY_FILE = "superset-secret-key"
DEFAULT_PORT = 8088
HOST = "127.0.0.1"
START_TIMEOUT_SECONDS = 240
# Superset's schema version this home was initialised for: a newer Superset re-runs the migrations.
INIT_STAMP = ".initialised"

# Run by Superset's own Python: create the admin, or reset its password, reading it from stdin so
# that it never appears on a command line.
ADMIN_SCRIPT = """
import sys
from superset.app import create_app
app = create_app()
with app.app_context():
    from superset import db, security_manager as sm
    password = sys.stdin.read().strip()
    user = sm.find_user(username=sys.argv[1])
    if user is None:
        if not sm.add_user(sys.argv[1], "Lakehouse", "Admin", "admin@localhost", sm.find_role("Admin"),
                           password=password):
            sys.exit("could not create the Superset admin")
    else:
        sm.reset_password(user.id, password)
    db.session.commit()
"""

CONFIG_TEMPLATE = """# Written by `make dashboards` (lastfm_lakehouse.dashboards.superset_app) on each run.
from pathlib import Path

SECRET_KEY = Path({secret_key!r}).read_text().strip()
SQLALCHEMY_DATABASE_URI = "sqlite:///{metadata_db}"
# Served on loopback over plain HTTP: Talisman's HTTPS redirects and strict CSP stay off.
TALISMAN_ENABLED = False
WTF_CSRF_ENABLED = True
SUPERSET_WEBSERVER_TIMEOUT = {timeout}
SQLLAB_TIMEOUT = {timeout}
ROW_LIMIT = 10000
"""
DEFAULT_SOCKET_TIMEOUT_SECONDS = 120

# Every connection to the lakehouse is opened here rather than by PyHive's hive:// URL, which has
# neither a socket timeout (a server that stops answering would hold a Superset thread for ever) nor
# TLS: a socket with a timeout (LAKEHOUSE_SUPERSET_SOCKET_TIMEOUT_SECONDS), verified TLS when the
# server speaks it (host name included), SASL PLAIN on top, as access.trust.hive_transport does for
# the lakehouse's own clients. Written out rather than imported: Superset's virtualenv does not have
# this package.
CONNECTION_CONFIG_TEMPLATE = """
import getpass
import ssl

LAKEHOUSE_CERTIFICATE = {certificate!r}
LAKEHOUSE_SOCKET_TIMEOUT_SECONDS = {socket_timeout}


def DB_CONNECTION_MUTATOR(uri, params, username, security_manager, source):
    if uri.drivername != "hive":
        return uri, params

    def connect():
        import thrift_sasl
        from pyhive import hive
        from pyhive.hive import get_installed_sasl
        from thrift.transport.TSocket import TSocket
        from thrift.transport.TSSLSocket import TSSLSocket

        if LAKEHOUSE_CERTIFICATE:
            context = ssl.create_default_context(cafile=LAKEHOUSE_CERTIFICATE)
            server_name = "localhost" if uri.host in ("127.0.0.1", "::1") else uri.host
            sock = TSSLSocket(uri.host, uri.port, ssl_context=context, server_hostname=server_name)
        else:
            sock = TSocket(uri.host, uri.port)
        sock.setTimeout(LAKEHOUSE_SOCKET_TIMEOUT_SECONDS * 1000)
        user, secret = uri.username or getpass.getuser(), uri.password or "x"
        transport = thrift_sasl.TSaslClientTransport(
            lambda: get_installed_sasl(host=uri.host, sasl_auth="PLAIN", username=user, password=secret),
            "PLAIN",
            sock,
        )
        return hive.connect(thrift_transport=transport, username=user, database=uri.database or "default")

    return uri, {{**params, "creator": connect}}
"""

# With LAKEHOUSE_SERVER_AUTH=ldap, people log in to Superset with their directory account, and their
# directory groups give them Superset's roles at every login (serving.roles): readers the read-only
# READER_ROLE, the SQL Lab group SQL Lab besides, dashboard admins Admin; anyone else only Public,
# which has no permission. The local admin stays, for the REST API (provisioning).
LDAP_CONFIG_TEMPLATE = """
from flask_appbuilder.security.manager import AUTH_LDAP

AUTH_TYPE = AUTH_LDAP
AUTH_LDAP_SERVER = {url!r}
# bind as the user (their own password), then read their entry: name, mail and memberOf
AUTH_LDAP_USERNAME_FORMAT = {username_format!r}
AUTH_LDAP_SEARCH = {people!r}
AUTH_LDAP_UID_FIELD = "uid"
AUTH_LDAP_FIRSTNAME_FIELD = "cn"
AUTH_LDAP_LASTNAME_FIELD = "sn"
AUTH_LDAP_EMAIL_FIELD = "mail"
AUTH_LDAP_GROUP_FIELD = "memberOf"
AUTH_USER_REGISTRATION = True
AUTH_USER_REGISTRATION_ROLE = "Public"
# Superset 6.1's pages read this whenever registration is on (a directory login registers a user at
# first login; there is no form to protect with a CAPTCHA)
RECAPTCHA_PUBLIC_KEY = ""
AUTH_ROLES_SYNC_AT_LOGIN = True
AUTH_ROLES_MAPPING = {mapping!r}
# the local admin (Superset's own user database) keeps the REST API, for provisioning
AUTH_API_LOGIN_ALLOW_MULTIPLE_PROVIDERS = True
"""

# The read-only role BI readers get: Superset's own read-only set for viewing dashboards (what it
# gives the Public role with PUBLIC_ROLE_LIKE = "Public": dashboards, charts, their data and filters;
# nothing to create, edit, import or export, no SQL Lab) and access to the lakehouse's database
# alone. Run by Superset's own Python after each import (the database's permission exists from then).
READER_ROLE = "Lakehouse Reader"
ROLES_SCRIPT = """
import sys
from superset.app import create_app
app = create_app()
with app.app_context():
    from superset import db, security_manager as sm
    from superset.models.core import Database
    role_name, database_name = sys.argv[1], sys.argv[2]
    sm.set_role(role_name, sm._is_public_pvm, sm._get_all_pvms())
    database = db.session.query(Database).filter_by(database_name=database_name).one()
    access = sm.add_permission_view_menu("database_access", database.perm)
    sm.add_permission_role(sm.find_role(role_name), access)
    db.session.commit()
"""


class DashboardsError(RuntimeError):
    pass


@dataclass
class SupersetConfig:
    venv: Path
    home: Path
    port: int
    lakehouse: ServerConfig
    socket_timeout: int = DEFAULT_SOCKET_TIMEOUT_SECONDS

    @classmethod
    def from_env(cls) -> SupersetConfig:
        default_venv = Path(__file__).resolve().parents[3] / ".venv-superset"
        return cls(
            venv=Path(os.environ.get("LAKEHOUSE_SUPERSET_VENV", default_venv)).absolute(),
            home=lakehouse_home(),
            port=int(env_number("LAKEHOUSE_SUPERSET_PORT", DEFAULT_PORT)),
            lakehouse=ServerConfig.from_env(),
            socket_timeout=int(
                env_number("LAKEHOUSE_SUPERSET_SOCKET_TIMEOUT_SECONDS", DEFAULT_SOCKET_TIMEOUT_SECONDS)
            ),
        )

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def state_dir(self) -> Path:
        return self.home / "superset"

    @property
    def config_file(self) -> Path:
        return self.state_dir / "superset_config.py"

    @property
    def pid_file(self) -> Path:
        return self.state_dir / "superset.pid"

    @property
    def log_file(self) -> Path:
        return self.home / "logs" / "superset.log"

    def tool(self, name: str) -> str:
        return str(self.venv / "bin" / name)

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "SUPERSET_CONFIG_PATH": str(self.config_file),
            "SUPERSET_HOME": str(self.state_dir),
            "FLASK_APP": "superset",
        }


def admin_password(home: Path) -> tuple[str, bool]:
    """The admin's password and whether it was generated just now (then it is printed once)."""
    given = os.environ.get("LAKEHOUSE_SUPERSET_ADMIN_PASSWORD", "")
    if given:
        return secret(ADMIN_PASSWORD_FILE, given, home), False
    fresh = not (secrets_dir(home) / ADMIN_PASSWORD_FILE).exists()
    return secret(ADMIN_PASSWORD_FILE, home=home), fresh


def print_password(config: SupersetConfig) -> int:
    print(admin_password(config.home)[0])
    return 0


def service(config: SupersetConfig) -> commands.Service:
    # gunicorn's master and its workers: the session it was started in
    return commands.Service("superset", config.pid_file, "gunicorn", group=True)


def running_pid(config: SupersetConfig) -> int | None:
    return service(config).pid()


def lakehouse_uri(config: SupersetConfig) -> tuple[str, dict[str, str]]:
    """The Thrift server's URL for Superset, and the import's passwords (LDAP)."""
    server = config.lakehouse
    certificate = trust.TlsFiles.from_env(config.home).certificate
    if server.tls and not certificate.is_file():
        raise DashboardsError(
            f"the Thrift server speaks TLS but its certificate {certificate} is missing: start the "
            "server with `make serve` (it makes one) or set LAKEHOUSE_TLS_CA"
        )
    host = "127.0.0.1" if server.host in ("0.0.0.0", "::") else server.host
    schema = os.environ.get("LAKEHOUSE_SCHEMA", "lastfm")
    if server.auth != "ldap":
        return bundle.sqlalchemy_uri(host, server.thrift_port, schema), {}
    user = bi_user()
    password = password_of(user, config.home)
    if password is None:
        raise DashboardsError(
            f"the server checks passwords (LDAP) and {user}'s is unknown: run `make directory` or set "
            "DBT_ENV_SECRET_LAKEHOUSE_PASSWORD"
        )
    uri = bundle.sqlalchemy_uri(host, server.thrift_port, schema, user=user, ldap=True)
    return uri, {bundle.DATABASE_FILE: password}


def check_lakehouse(config: SupersetConfig) -> None:
    server = config.lakehouse
    if not port_open(server.host, server.thrift_port):
        raise DashboardsError(
            f"the lakehouse's Thrift server is not answering on {server.host}:{server.thrift_port}: "
            "start it with `make serve` (`make dashboards` does) after `make build`"
        )


def step(label: str, command: list[str], config: SupersetConfig, stdin: str | None = None) -> None:
    started = time.monotonic()
    print(f"superset: {label} ...", flush=True)
    config.log_file.parent.mkdir(parents=True, exist_ok=True)
    with config.log_file.open("ab") as log:
        result = subprocess.run(
            command,
            env=config.env(),
            input=stdin.encode() if stdin else None,
            stdout=log,
            stderr=log,
            check=False,
        )
    if result.returncode != 0:
        raise DashboardsError(
            f"superset: {label} failed (exit {result.returncode}); last lines of {config.log_file}:\n"
            f"{tail(config.log_file)}"
        )
    print(f"superset: {label}: {time.monotonic() - started:.0f}s", flush=True)


def write_config(config: SupersetConfig) -> bool:
    """Superset's config for this lakehouse; True when it changed (a running Superset must restart)."""
    key_file = secrets_dir(config.home) / SECRET_KEY_FILE
    if not key_file.exists():  # Superset signs sessions and encrypts the database password with it
        secret(SECRET_KEY_FILE, secrets.token_urlsafe(48), config.home)
    text = CONFIG_TEMPLATE.format(
        secret_key=str(key_file), metadata_db=config.state_dir / "superset.db", timeout=START_TIMEOUT_SECONDS
    )
    certificate = str(trust.TlsFiles.from_env(config.home).certificate) if config.lakehouse.tls else ""
    text += CONNECTION_CONFIG_TEMPLATE.format(certificate=certificate, socket_timeout=config.socket_timeout)
    if config.lakehouse.auth == "ldap":
        directory = roles.Roles.from_env()
        text += LDAP_CONFIG_TEMPLATE.format(
            url=directory.url,
            username_format=f"uid=%s,{directory.people}",
            people=directory.people,
            mapping={
                directory.readers: [READER_ROLE],
                directory.sql_lab: [READER_ROLE, "sql_lab"],
                directory.dashboard_admins: ["Admin"],
            },
        )
    config.state_dir.mkdir(parents=True, exist_ok=True)
    if config.config_file.is_file() and config.config_file.read_text() == text:
        return False
    config.config_file.write_text(text)
    return True


def initialise(config: SupersetConfig, password: str) -> None:
    """Metadata database, roles and admin; the migrations only when this Superset is new here."""
    version = subprocess.run(
        [config.tool("python"), "-c", "import importlib.metadata as m; print(m.version('apache-superset'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    stamp = config.state_dir / INIT_STAMP
    if not stamp.exists() or stamp.read_text().strip() != version:
        step("creating its metadata database", [config.tool("superset"), "db", "upgrade"], config)
        step("creating roles and permissions", [config.tool("superset"), "init"], config)
        stamp.write_text(version + "\n")
    step("setting the admin", [config.tool("python"), "-c", ADMIN_SCRIPT, ADMIN], config, stdin=password)


def start(config: SupersetConfig) -> None:
    pid = running_pid(config)
    if pid is not None:
        if not wait_healthy(config.url, START_TIMEOUT_SECONDS, lambda: running_pid(config) is not None):
            raise DashboardsError(
                f"Superset (pid {pid}) is not answering at {config.url}; see {config.log_file}"
            )
        print(f"superset: already running (pid {pid})")
        return
    started = time.monotonic()
    with config.log_file.open("ab") as log:
        process = subprocess.Popen(
            [
                config.tool("gunicorn"),
                "--bind",
                f"{HOST}:{config.port}",
                "--workers",
                "1",
                "--worker-class",
                "gthread",
                "--threads",
                "8",
                "--timeout",
                str(START_TIMEOUT_SECONDS),
                "--limit-request-line",
                "0",
                "--limit-request-field_size",
                "0",
                "superset.app:create_app()",
            ],
            env=config.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    config.pid_file.write_text(f"{process.pid}\n")
    if not wait_healthy(config.url, START_TIMEOUT_SECONDS, lambda: process.poll() is None):
        process.terminate()
        config.pid_file.unlink(missing_ok=True)
        raise DashboardsError(
            f"Superset did not come up at {config.url}; last lines of {config.log_file}:\n"
            f"{tail(config.log_file)}"
        )
    print(
        f"superset: started (pid {process.pid}) in {time.monotonic() - started:.0f}s, log {config.log_file}"
    )


def provision(config: SupersetConfig, password: str) -> Superset:
    """Import the dashboards (overwriting what an earlier import made) and sync the datasets' columns."""
    uri, passwords = lakehouse_uri(config)
    started = time.monotonic()
    client = Superset(config.url, ADMIN, password).login()
    client.import_bundle(bundle.build(uri), passwords)
    datasets = client.datasets(bundle.database_name())
    for dataset in datasets:
        try:
            client.refresh_dataset(dataset["id"])
        except SupersetError as exc:
            raise DashboardsError(
                f"Superset cannot read {dataset['table_name']} through {uri}: "
                f"is it built (`make build`)? {exc}"
            ) from exc
    step(
        f"giving the {READER_ROLE} role read access to the lakehouse",
        [config.tool("python"), "-c", ROLES_SCRIPT, READER_ROLE, bundle.database_name()],
        config,
    )
    print(
        f"superset: imported {len(bundle.dashboards())} dashboards, synced {len(datasets)} datasets' columns "
        f"in {time.monotonic() - started:.0f}s"
    )
    return client


def up(config: SupersetConfig) -> int:
    if not Path(config.tool("superset")).exists():
        raise DashboardsError(f"no Superset in {config.venv}: `make dashboards` installs it")
    check_lakehouse(config)
    lakehouse_uri(config)  # refuse an unusable server configuration before starting anything
    if running_pid(config) is None and port_open(HOST, config.port):
        raise DashboardsError(
            f"port {config.port} on {HOST} is taken by another program: stop it or set "
            "LAKEHOUSE_SUPERSET_PORT"
        )
    password, generated = admin_password(config.home)
    if write_config(config) and running_pid(config) is not None:
        print("superset: its configuration changed (the server's TLS or LDAP setting): restarting it")
        down(config)
    initialise(config, password)
    start(config)
    provision(config, password)
    where = secrets_dir(config.home) / ADMIN_PASSWORD_FILE
    if generated:
        print(f"superset: generated the admin's password into {where}")
    if config.lakehouse.auth == "ldap":
        print(
            f"Superset: {config.url}  (log in with a directory account: readers see the dashboards, "
            f"the SQL Lab group may query, dashboard admins administer; the local {ADMIN} is for the "
            "REST API)"
        )
    else:
        print(
            f"Superset: {config.url}  (log in as {ADMIN}; `lastfm-lakehouse dashboards password` prints "
            "the password)"
        )
    for slug, dashboard in bundle.dashboards().items():
        print(f"  {dashboard['dashboard_title']:<16} {config.url}/superset/dashboard/{slug}/")
    return 0


def down(config: SupersetConfig) -> int:
    return service(config).stop()


def status(config: SupersetConfig) -> int:
    pid = running_pid(config)
    if pid is None:
        print(
            "superset not running"
            + (f" (but port {config.port} is taken)" if port_open(HOST, config.port) else "")
        )
        return 3
    healthy = wait_healthy(config.url, 5)
    print(
        f"superset running (pid {pid}) at {config.url}: {'healthy' if healthy else 'NOT answering'}; "
        f"log {config.log_file}"
    )
    return 0 if healthy else 1


def main(argv: list[str] | None = None) -> int:
    args = commands.parse(
        "lastfm_lakehouse.dashboards.superset_app", __doc__, ("up", "down", "status", "password"), argv
    )
    config = SupersetConfig.from_env()
    action = {"up": up, "down": down, "status": status, "password": print_password}[args.command]
    return commands.run(lambda: action(config), (DashboardsError, SupersetError))


if __name__ == "__main__":
    raise SystemExit(main())
