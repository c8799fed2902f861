"""A PostgreSQL-backed Hive metastore, so that the server and builds can share the lakehouse at once
(embedded Derby admits one JVM at a time).

    python -m lastfm_lakehouse.serving.metastore up|down|status|url   (make metastore / make metastore-stop)

``up`` installs Debian's ``postgresql`` and ``libpostgresql-jdbc-java`` when they are missing (as
root), creates a private cluster in ``$LAKEHOUSE_PG_DATA`` (default ``$LAKEHOUSE_HOME/postgres``),
starts it on 127.0.0.1:``$LAKEHOUSE_PG_PORT`` (default 5433, beside a system PostgreSQL on 5432) and
creates the ``metastore`` database and ``hive`` role (its password generated into
``$LAKEHOUSE_HOME/secrets/metastore.password``, which every process then reads), and creates the
whole Hive metastore schema with DataNucleus' SchemaTool from the ``package.jdo`` inside pyspark's
Hive jar. Creating it up front matters: DataNucleus otherwise creates tables lazily, and two JVMs
doing that at once deadlock on PostgreSQL locks. Then point every process at it:

    export LAKEHOUSE_METASTORE_URL=$(python -m lastfm_lakehouse.serving.metastore url)
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from lastfm_lakehouse import commands
from lastfm_lakehouse.access import credentials
from lastfm_lakehouse.settings import DEFAULT_JDBC_JARS, METASTORE_PASSWORD_FILE, env_number, lakehouse_home

DATABASE = "metastore"
ROLE = "hive"
MAX_CONNECTIONS = 400


class MetastoreError(RuntimeError):
    """PostgreSQL could not be installed, initialised or started; the message says why."""


@dataclass(frozen=True)
class Cluster:
    data: Path
    port: int

    @classmethod
    def from_env(cls) -> Cluster:
        data = os.environ.get("LAKEHOUSE_PG_DATA", "").strip()
        return cls(
            data=Path(data).resolve() if data else lakehouse_home() / "postgres",
            port=int(env_number("LAKEHOUSE_PG_PORT", 5433)),
        )

    @property
    def url(self) -> str:
        return f"jdbc:postgresql://127.0.0.1:{self.port}/{DATABASE}"

    @property
    def log(self) -> Path:
        return self.data.parent / f"postgres-{self.port}.log"


def as_root() -> bool:
    return os.geteuid() == 0


def pg_bin(tool: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{tool}"))
    if found:
        return found[-1]
    on_path = shutil.which(tool)
    if on_path:
        return on_path
    raise MetastoreError(f"PostgreSQL's {tool} not found")


def ensure_packages() -> None:
    missing = []
    try:
        pg_bin("initdb")
    except MetastoreError:
        missing.append("postgresql")
    if not Path(DEFAULT_JDBC_JARS).is_file():
        missing.append("libpostgresql-jdbc-java")
    if not missing:
        return
    if not (as_root() and shutil.which("apt-get")):
        raise MetastoreError(f"install {' '.join(missing)} (apt-get, as root) for the PostgreSQL metastore")
    print(f"installing {' '.join(missing)} with apt-get", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=True, env=env)


def run_pg(args: list[str], check: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess:
    """Run a PostgreSQL tool; as root, as the ``postgres`` user (PostgreSQL refuses to run as root).
    ``stdin``: what it reads (statements holding a secret go there, never on its command line)."""
    command = ["runuser", "-u", "postgres", "--", *args] if as_root() else args
    result = subprocess.run(command, capture_output=True, text=True, check=False, input=stdin)
    if check and result.returncode != 0:
        raise MetastoreError(f"{' '.join(args[:2])} failed: {result.stderr.strip() or result.stdout.strip()}")
    return result


def is_running(cluster: Cluster) -> bool:
    return (cluster.data / "PG_VERSION").exists() and run_pg(
        [pg_bin("pg_ctl"), "-D", str(cluster.data), "status"], check=False
    ).returncode == 0


def up(cluster: Cluster) -> None:
    ensure_packages()
    if not (cluster.data / "PG_VERSION").exists():
        cluster.data.mkdir(parents=True, exist_ok=True)
        if as_root():
            shutil.chown(cluster.data, "postgres", "postgres")
            if run_pg(["test", "-w", str(cluster.data)], check=False).returncode != 0:
                raise MetastoreError(
                    f"the postgres user cannot reach {cluster.data}; set LAKEHOUSE_PG_DATA elsewhere"
                )
        run_pg(
            [
                pg_bin("initdb"),
                "-D",
                str(cluster.data),
                "-U",
                "postgres",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "-E",
                "UTF8",
            ]
        )
    if not is_running(cluster):
        # Hive's embedded metastore client keeps a store (and pooled connections) per thread that
        # touches it: the server's Thrift and Connect handler threads, each build's. With BI
        # sessions re-reading table metadata (the server's metadata cache TTL) the default 100
        # connections ran out under 8 readers + a build + the server's own build (measured: 82 held
        # by the server alone).
        options = (
            f"-p {cluster.port} -c listen_addresses=127.0.0.1 -k {cluster.data} "
            f"-c max_connections={MAX_CONNECTIONS}"
        )
        log = cluster.log
        if as_root():
            log.touch()
            shutil.chown(log, "postgres", "postgres")
        run_pg([pg_bin("pg_ctl"), "-D", str(cluster.data), "-l", str(log), "-o", options, "-w", "start"])
    psql = [pg_bin("psql"), "-h", str(cluster.data), "-p", str(cluster.port), "-U", "postgres", "-tAc"]
    password = credentials.secret(METASTORE_PASSWORD_FILE)
    exists = run_pg([*psql, f"select 1 from pg_roles where rolname = '{ROLE}'"]).stdout.strip() == "1"
    # the password (URL-safe: no quote to escape) through psql's standard input
    verb = "alter" if exists else "create"
    run_pg(
        [*psql[:-1], "-tA", "-v", "ON_ERROR_STOP=1"],
        stdin=f"{verb} role {ROLE} login password '{password}';\n",
    )
    if run_pg([*psql, f"select 1 from pg_database where datname = '{DATABASE}'"]).stdout.strip() != "1":
        run_pg([*psql, f"create database {DATABASE} owner {ROLE}"])
    create_schema(cluster, psql, password)


def create_schema(cluster: Cluster, psql: list[str], password: str) -> None:
    """The Hive metastore tables, from the JDO metadata the metastore itself uses (once)."""
    exists = (
        f"select 1 from information_schema.tables where table_name = 'TBLS' and table_catalog = '{DATABASE}'"
    )
    if run_pg([*psql, exists, "-d", DATABASE]).stdout.strip() == "1":
        return
    import tempfile
    import zipfile

    import pyspark

    jars = Path(pyspark.__file__).parent / "jars"
    metastore_jar = next(iter(sorted(jars.glob("hive-metastore-*.jar"))), None)
    if metastore_jar is None:
        raise MetastoreError(f"no hive-metastore jar in {jars}")
    java = shutil.which("java")
    if java is None:
        raise MetastoreError("java not found (run `make java`)")
    with tempfile.TemporaryDirectory() as work:
        jdo = Path(work) / "package.jdo"
        jdo.write_bytes(zipfile.ZipFile(metastore_jar).read("package.jdo"))
        props = Path(work) / "datanucleus.properties"
        props.write_text(
            f"javax.jdo.option.ConnectionURL={cluster.url}\n"
            "javax.jdo.option.ConnectionDriverName=org.postgresql.Driver\n"
            f"javax.jdo.option.ConnectionUserName={ROLE}\njavax.jdo.option.ConnectionPassword={password}\n"
            "datanucleus.identifierFactory=datanucleus1\ndatanucleus.schema.autoCreateAll=true\n"
        )
        result = subprocess.run(
            [
                java,
                "-cp",
                f"{jars}/*:{DEFAULT_JDBC_JARS}",
                "org.datanucleus.store.schema.SchemaTool",
                "-create",
                "-api",
                "JDO",
                "-props",
                str(props),
                str(jdo),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
    if "completed successfully" not in result.stdout:
        raise MetastoreError(f"SchemaTool failed: {(result.stdout + result.stderr)[-2000:]}")


def down(cluster: Cluster) -> None:
    if is_running(cluster):
        run_pg([pg_bin("pg_ctl"), "-D", str(cluster.data), "-m", "fast", "-w", "stop"])


def main(argv: list[str] | None = None) -> int:
    args = commands.parse(
        "lastfm_lakehouse.serving.metastore", __doc__, ("up", "down", "status", "url"), argv
    )
    cluster = Cluster.from_env()

    def act() -> int:
        if args.command == "up":
            up(cluster)
            print(f"PostgreSQL metastore up: {cluster.url} (data {cluster.data}, log {cluster.log})")
            print(f"export LAKEHOUSE_METASTORE_URL={cluster.url}")
        elif args.command == "down":
            down(cluster)
            print("PostgreSQL metastore stopped")
        elif args.command == "status":
            running = is_running(cluster)
            print(f"PostgreSQL metastore {'running' if running else 'not running'}: {cluster.url}")
            return 0 if running else 3
        else:
            print(cluster.url)
        return 0

    return commands.run(act, (MetastoreError,))


if __name__ == "__main__":
    raise SystemExit(main())
