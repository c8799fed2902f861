"""One long-running Spark application that serves the lakehouse: HiveServer2 Thrift (JDBC/ODBC for BI
tools, beeline, PyHive, dbt's ``thrift`` method) and Spark Connect (dbt Python models, PySpark
clients), over the same warehouse and metastore the builds write.

    python -m lastfm_lakehouse.serving.server start|stop|status|run   (make serve / make stop / make status)

``start`` is idempotent: a running server is left alone. The server binds to 127.0.0.1 unless
``LAKEHOUSE_SERVER_HOST`` says otherwise - and refuses any other address without authentication.
``LAKEHOUSE_SERVER_AUTH=ldap`` checks Thrift clients' passwords against the LDAP directory
(``make directory``, ``serving.directory``) and gives each user the role of their LDAP group: BI
readers may only read the published schemas, the builder (dbt) may build them
(``serving/jvm/src/main/java/lakehouse/Authorization.java``). Spark Connect clients always send the token in
``$LAKEHOUSE_HOME/secrets/connect.token`` (``access.credentials``), which only the builder's side
reads; ``LAKEHOUSE_SERVER_TLS=on``
puts TLS on the Thrift port (``serving.tls``, ``make tls``). It logs to
``$LAKEHOUSE_HOME/logs/server.log`` and keeps its pid in ``$LAKEHOUSE_HOME/server.pid``.
``LAKEHOUSE_SPARK_MASTER`` (e.g. ``spark://host:7077``, ``yarn``, ``k8s://...``) runs it on a
cluster instead of in-process, authenticated and encrypted (``spark_session.cluster_conf``);
``cluster-properties`` writes the file a standalone master and its workers are started with.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lastfm_lakehouse import commands
from lastfm_lakehouse.access import credentials, trust
from lastfm_lakehouse.serving import jvm, roles, tls
from lastfm_lakehouse.serving.served_cache import (
    ServedCache,
    configured_lookups,
    configured_tables,
    lookups_on,
)
from lastfm_lakehouse.settings import SparkSettings, env_number, lakehouse_home
from lastfm_lakehouse.spark_session import DELTA_EXTENSION, SECRET_KEY, scheduler_conf

DEFAULT_HOST = "127.0.0.1"
DEFAULT_THRIFT_PORT = 10000
DEFAULT_CONNECT_PORT = 15002
START_TIMEOUT_SECONDS = 240
METADATA_CACHE_TTL_SECONDS = 5
AUTH_MODES = ("none", "ldap")
DEFAULT_QUERY_TIMEOUT_SECONDS = 300
# A BI session nobody used for an hour, and a statement whose results nobody fetched or closed for
# ten minutes, are closed by the server (HiveServer2's own reaper): their memory goes with them.
DEFAULT_IDLE_SESSION_SECONDS = 3600
DEFAULT_IDLE_OPERATION_SECONDS = 600
# What BI readers' results may hold in the server's heap, in total: at most this many of their
# statements open at once (Authorization.java), each result at most this large (serialized):
# 32 x 128 MB = 4 GB, beside the lookup indexes' 6 GB, on the 12 GB heap.
DEFAULT_MAX_OPEN_RESULTS = 32
DEFAULT_MAX_RESULT_SIZE = "128m"
JVM_WATCH_SECONDS = 2
LOOPBACK = ("127.0.0.1", "localhost", "::1")
CONNECT_HOST = "127.0.0.1"
# The server process's command line holds its module (started as `python -m <module> run`).
SERVER_MODULE = "lastfm_lakehouse.serving.server"


@dataclass(frozen=True)
class ServerConfig:
    host: str
    thrift_port: int
    connect_port: int
    home: Path
    auth: str = "none"
    ldap_url: str = ""
    tls: bool = False
    query_timeout_seconds: int = DEFAULT_QUERY_TIMEOUT_SECONDS
    idle_session_seconds: int = DEFAULT_IDLE_SESSION_SECONDS
    idle_operation_seconds: int = DEFAULT_IDLE_OPERATION_SECONDS
    max_open_results: int = DEFAULT_MAX_OPEN_RESULTS
    max_result_size: str = DEFAULT_MAX_RESULT_SIZE

    @classmethod
    def from_env(cls) -> ServerConfig:
        return cls(
            host=os.environ.get("LAKEHOUSE_SERVER_HOST", DEFAULT_HOST),
            thrift_port=int(env_number("LAKEHOUSE_THRIFT_PORT", DEFAULT_THRIFT_PORT)),
            connect_port=int(env_number("LAKEHOUSE_CONNECT_PORT", DEFAULT_CONNECT_PORT)),
            home=lakehouse_home(),
            auth=os.environ.get("LAKEHOUSE_SERVER_AUTH", "none").strip().lower() or "none",
            ldap_url=roles.ldap_url(),
            tls=trust.enabled(),
            query_timeout_seconds=int(
                env_number("LAKEHOUSE_QUERY_TIMEOUT_SECONDS", DEFAULT_QUERY_TIMEOUT_SECONDS)
            ),
            idle_session_seconds=int(
                env_number("LAKEHOUSE_IDLE_SESSION_SECONDS", DEFAULT_IDLE_SESSION_SECONDS)
            ),
            idle_operation_seconds=int(
                env_number("LAKEHOUSE_IDLE_OPERATION_SECONDS", DEFAULT_IDLE_OPERATION_SECONDS)
            ),
            max_open_results=int(env_number("LAKEHOUSE_MAX_OPEN_RESULTS", DEFAULT_MAX_OPEN_RESULTS)),
            max_result_size=os.environ.get("LAKEHOUSE_MAX_RESULT_SIZE", "").strip()
            or DEFAULT_MAX_RESULT_SIZE,
        )

    def refusal(self) -> str | None:
        """Why this configuration must not be served, or None."""
        if self.auth not in AUTH_MODES:
            return f"LAKEHOUSE_SERVER_AUTH must be one of {', '.join(AUTH_MODES)}, got {self.auth!r}"
        if self.auth == "none" and self.host not in LOOPBACK:
            return (
                f"refusing to serve on {self.host} without authentication: anyone who can reach it "
                "would read every table. Set LAKEHOUSE_SERVER_AUTH=ldap (users in the directory "
                "`make directory` starts) or bind to 127.0.0.1"
            )
        return None

    def warning(self) -> str | None:
        if self.auth != "none" and not self.tls and self.host not in LOOPBACK:
            return (
                f"serving on {self.host} with passwords but without TLS: they cross the network in "
                "plain text. Set LAKEHOUSE_SERVER_TLS=on (`make tls` makes a keystore)"
            )
        return None

    @property
    def pid_file(self) -> Path:
        return self.home / "server.pid"

    @property
    def log_file(self) -> Path:
        return self.home / "logs" / "server.log"

    @property
    def ports(self) -> dict[str, tuple[str, int]]:
        """Each endpoint's address. Spark Connect listens on loopback alone: it has no TLS of its
        own, so clients elsewhere reach it through a TLS proxy on this host (docs/serving.md)."""
        return {
            "HiveServer2 Thrift": (self.host, self.thrift_port),
            "Spark Connect": (CONNECT_HOST, self.connect_port),
        }


def port_open(host: str, port: int) -> bool:
    """Something accepts connections on host:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host if host != "0.0.0.0" else "127.0.0.1", port)) == 0


def service(config: ServerConfig) -> commands.Service:
    return commands.Service("server", config.pid_file, SERVER_MODULE)


def running_pid(config: ServerConfig) -> int | None:
    return service(config).pid()


def auth_conf(config: ServerConfig) -> dict[str, str]:
    """Spark Connect's pre-shared token, always (loopback included: any local process could
    otherwise run code as the server), and with ``LAKEHOUSE_SERVER_AUTH=ldap`` Thrift password
    checks against the LDAP directory. The token is read from its file here, in the server process,
    and reaches the JVM after it started (``spark_session.launch_jvm``): never on a command line or
    in a system property; Spark redacts ``*token*`` values in its UI and logs."""
    token = {
        "spark.connect.authenticate.token": credentials.secret(credentials.CONNECT_TOKEN, home=config.home)
    }
    if config.auth != "ldap":
        return token
    return {
        **token,
        "spark.hadoop.hive.server2.authentication": "LDAP",
        "spark.hadoop.hive.server2.authentication.ldap.url": config.ldap_url,
        "spark.hadoop.hive.server2.authentication.ldap.baseDN": roles.Roles.from_env().people,
    }


def tls_conf(config: ServerConfig) -> dict[str, str]:
    """TLS on the Thrift port (``serving.tls``): plain-text clients are refused."""
    return tls.server_conf(trust.TlsFiles.from_env(config.home)) if config.tls else {}


def containment_conf(config: ServerConfig) -> dict[str, str]:
    """What keeps one hostile query (``select *`` over the largest table, a cartesian join) from
    taking the server down or starving the point lookups."""
    return {
        # Many BI sessions at once: share the cores fairly, job by job, whatever
        # LAKEHOUSE_SCHEDULER_MODE says for builds (spark_session.FAIR_SCHEDULER_XML).
        **scheduler_conf(config.home, "FAIR"),
        # A result larger than this (serialized) fails that query instead of filling the server's
        # heap; with LAKEHOUSE_MAX_OPEN_RESULTS it bounds what readers' results hold in total.
        # (incrementalCollect would stream it, but runs one job per partition: every point lookup
        # would pay for it.)
        "spark.driver.maxResultSize": config.max_result_size,
        # A statement running longer than this is cancelled (LAKEHOUSE_QUERY_TIMEOUT_SECONDS).
        "spark.sql.thriftServer.queryTimeout": f"{config.query_timeout_seconds}s",
        "spark.sql.thriftServer.interruptOnCancel": "true",
        **idle_conf(config),
    }


def idle_conf(config: ServerConfig) -> dict[str, str]:
    """HiveServer2's reaper: sessions idle (no statement running) for LAKEHOUSE_IDLE_SESSION_SECONDS
    and operations left unfetched for LAKEHOUSE_IDLE_OPERATION_SECONDS are closed, checked every
    minute or oftener (Hive's floor: 3 s)."""
    check = max(3, min(60, min(config.idle_session_seconds, config.idle_operation_seconds) // 3))
    return {
        "spark.hadoop.hive.server2.idle.session.timeout": f"{config.idle_session_seconds}s",
        "spark.hadoop.hive.server2.idle.operation.timeout": f"{config.idle_operation_seconds}s",
        "spark.hadoop.hive.server2.idle.session.check.operation": "true",
        "spark.hadoop.hive.server2.session.check.interval": f"{check}s",
    }


class ServingJarError(RuntimeError):
    """The server's own JVM code is needed (for roles) and could not be compiled."""


def catalog_conf(config: ServerConfig, settings: SparkSettings) -> dict[str, str]:
    """The server's own JVM code (``serving/jvm/``): its SQL extension - the roles of the users
    (``Authorization``, with ``LAKEHOUSE_SERVER_AUTH=ldap``) and the lookup indexes' rule
    (``PointLookupRule``) - and, on Parquet, the session catalog that keeps table metadata for
    METADATA_CACHE_TTL_SECONDS (``CachingSessionCatalog``): a point lookup then asks the metastore
    nothing (``LAKEHOUSE_SERVER_CATALOG_CACHE=off`` turns it off). On Delta, Delta's own catalog is
    the session catalog (it resolves each table's snapshot) and the extension joins Delta's."""
    delta = settings.table_format == "delta"
    cache = not delta and os.environ.get("LAKEHOUSE_SERVER_CATALOG_CACHE", "on").strip().lower() not in (
        "off",
        "false",
        "0",
        "no",
    )
    if not delta and not cache:
        print("catalog cache: off (LAKEHOUSE_SERVER_CATALOG_CACHE)", flush=True)
    if not (cache or lookups_on() or config.auth == "ldap"):
        return {}
    jar, how = jvm.serving_jar(config.home)
    print(f"serving extensions: {how}" + ("" if jar else "; serving without them"), flush=True)
    # spark_session.spark_conf puts the newest serving jar (this one) on the JVM's own class path,
    # as for every session: not spark.jars, which per-session class loaders load (Spark Connect's
    # artifact isolation), and a closed session's loader could no longer load the class's inner
    # classes (NoClassDefFoundError, seen with dbt's Python models over Connect).
    if jar is None:
        if config.auth == "ldap":
            raise ServingJarError(
                f"users' roles (LAKEHOUSE_SERVER_AUTH=ldap) need the server's extension: {how}"
            )
        return {}
    conf = {"spark.sql.extensions": f"{DELTA_EXTENSION},{jvm.EXTENSIONS}" if delta else jvm.EXTENSIONS}
    if cache:
        conf["spark.sql.catalog.spark_catalog"] = jvm.CACHING_CATALOG
    return conf


HIVE = "org.apache.hadoop.hive.ql.metadata.Hive"


def skip_hive_function_registry(spark: Any) -> bool:
    """Mark Hive's own function registration as done, before any Thrift session exists; whether it
    had to be (False: it already was).

    Spark resolves every SQL function itself, and Hive's ``FunctionRegistry`` cannot even load in
    Spark 4 (a UDTF it registers needs ``hive-llap-common``, which Spark no longer ships). Yet
    HiveServer2 asks for it when some sessions close (``SessionState.close`` -> ``Hive.get``): the
    first such close failed with ``NoClassDefFoundError: .../LlapSigner$Signable`` (Superset logged
    "Exception closing connection"), and Hive's once-only registration stays "pending" after an
    Error (it resets only on an Exception), so every later attempt waits forever. Reflection on a
    private field, because Hive offers no switch for it and Spark's own code avoids the call only
    where it makes it (``Hive.getWithoutRegisterFns``)."""
    gateway = spark.sparkContext._gateway
    java = gateway.jvm.java
    hive = java.lang.Class.forName(HIVE)
    fields = {}
    for name in ("didRegisterAllFuncs", "REG_FUNCS_NO", "REG_FUNCS_DONE"):
        fields[name] = hive.getDeclaredField(name)
        fields[name].setAccessible(True)
    # py4j hands an AtomicInteger back as a Python int: the compare-and-set on Hive's field is
    # composed in the JVM instead, as a method handle over the field's getter.
    handles = java.lang.invoke.MethodHandles
    parameters = gateway.new_array(java.lang.Class, 2)
    parameters[0] = parameters[1] = java.lang.Integer.TYPE
    compare_and_set = handles.publicLookup().findVirtual(
        java.lang.Class.forName("java.util.concurrent.atomic.AtomicInteger"),
        "compareAndSet",
        java.lang.invoke.MethodType.methodType(java.lang.Boolean.TYPE, parameters),
    )
    on_hive = handles.collectArguments(
        compare_and_set, 0, handles.publicLookup().unreflectGetter(fields["didRegisterAllFuncs"])
    )
    arguments = gateway.new_array(java.lang.Object, 2)
    arguments[0] = fields["REG_FUNCS_NO"].getInt(None)
    arguments[1] = fields["REG_FUNCS_DONE"].getInt(None)
    return bool(on_hive.invokeWithArguments(arguments))


def datastore_settings(conf: Any) -> dict[str, str]:
    """A Hadoop/Hive conf's settings from which Hive's ``ObjectStore`` builds its persistence-manager
    factory: every key containing "datanucleus" or "jdo" (ObjectStore's own test)."""
    found = {}
    entries = conf.iterator()
    while entries.hasNext():
        key = entries.next().getKey()
        if "datanucleus" in key or "jdo" in key:
            found[key] = conf.get(key)
    return found


def share_metastore_settings(spark: Any, thrift: Any) -> list[str]:
    """Give the Thrift sessions' Hive conf the catalog's datastore settings; the keys that differed.

    HiveServer2 opens a metastore client for every session (``SessionState.start``) and again when
    it closes one, from the conf Spark built for its "execution Hive"; Spark's catalog uses its own
    client. Hive's ``ObjectStore`` keeps a single persistence-manager factory and rebuilds it
    whenever the datastore settings differ from the last ones used (DataNucleus then scans the class
    path for its metadata), and the two confs differ (e.g. the execution conf names a Derby adapter
    class the catalog's does not): every session rebuilt it, and so did the catalog's next call.
    Acts on the conf the server copies into each new session (``thrift.getHiveConf()``), right after
    the Thrift service starts: a session opened in between only pays the old cost once."""
    wanted = datastore_settings(
        spark._jsparkSession.sharedState().externalCatalog().unwrapped().client().conf()
    )
    sessions = thrift.getHiveConf()
    current = datastore_settings(sessions)
    for key in set(current) - set(wanted):
        sessions.unset(key)
    for key, value in wanted.items():
        sessions.set(key, value)
    return sorted(key for key in set(current) | set(wanted) if current.get(key) != wanted.get(key))


def jvm_conf(settings: SparkSettings) -> dict[str, str]:
    """The server's JVM exits on out-of-memory rather than serving on half-broken (a thread that
    died of it may be one every session needs); ``run`` then exits too, for its supervisor."""
    from lastfm_lakehouse.spark_session import spark_conf

    options = spark_conf(settings)["spark.driver.extraJavaOptions"]
    return {"spark.driver.extraJavaOptions": f"{options} -XX:+ExitOnOutOfMemoryError"}


def server_conf(config: ServerConfig, access: dict[str, str]) -> dict[str, str]:
    """The server's Spark conf, with ``access`` (``auth_conf`` + ``tls_conf``, read once)."""
    return {
        **access,
        **containment_conf(config),
        "spark.app.name": "lastfm-lakehouse-server",
        "spark.plugins": "org.apache.spark.sql.connect.SparkConnectPlugin",
        "spark.connect.grpc.binding.address": CONNECT_HOST,
        "spark.connect.grpc.binding.port": str(config.connect_port),
        "spark.hadoop.hive.server2.thrift.bind.host": config.host,
        "spark.hadoop.hive.server2.thrift.port": str(config.thrift_port),
        "spark.hadoop.hive.server2.transport.mode": "binary",
        # BI sessions do point lookups: adaptive execution re-plans every query and cost one user's
        # top-10 (with ORDER BY) 226 ms against 138 ms without it. dbt's sessions (Thrift session
        # conf in profiles.yml, Spark Connect in the adapter) switch it back on for the builds.
        "spark.sql.adaptive.enabled": "false",
        # Builds publish a table by pointing it at a new version directory (the lakehouse adapter's
        # table materialisation), often from another process on the same metastore: each session
        # re-reads a table's metadata at most this many seconds after a switch. The replaced version
        # is kept far longer (var table_version_grace_seconds), so a stale read still finds its files.
        "spark.sql.metadataCacheTTLSeconds": str(METADATA_CACHE_TTL_SECONDS),
        "spark.ui.enabled": "true",
    }


def run(config: ServerConfig) -> int:
    """Start both endpoints in this process and serve until SIGTERM/SIGINT."""
    from lastfm_lakehouse.spark_session import get_or_create

    refusal = config.refusal()
    if refusal:
        print(f"ERROR: {refusal}", file=sys.stderr)
        return 2
    settings = SparkSettings.from_env()
    access = {**auth_conf(config), **tls_conf(config)}
    try:
        extension = catalog_conf(config, settings)
    except ServingJarError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 2
    spark = get_or_create(
        settings, extra_conf={**server_conf(config, access), **extension, **jvm_conf(settings)}
    )
    gateway = spark._jvm  # type: ignore[attr-defined]
    gateway.java.lang.System.setProperty(
        "lakehouse.catalog.ttlMillis", str(METADATA_CACHE_TTL_SECONDS * 1000)
    )
    # HiveServer2's LDAP provider reads a fresh HiveConf (hive-site.xml + JVM system properties),
    # not Spark's Hadoop conf: hand it the directory's (and the keystore's) settings as system
    # properties too. (Not the secrets: a system property is readable from anywhere in the JVM.)
    for key, value in access.items():
        if key.startswith("spark.hadoop.hive.") and not SECRET_KEY.search(key):
            gateway.java.lang.System.setProperty(key.removeprefix("spark.hadoop."), value)
    skip_hive_function_registry(spark)
    extended = jvm.EXTENSIONS in spark.conf.get("spark.sql.extensions", "").split(",")
    if extended:
        gateway.lakehouse.Authorization.trust(  # type: ignore[attr-defined]
            spark._jsparkSession, config.auth == "ldap"
        )
    thrift = gateway.org.apache.spark.sql.hive.thriftserver.HiveThriftServer2.startWithContext(
        spark._jsparkSession.sqlContext()  # type: ignore[attr-defined]
    )
    if config.auth == "ldap":
        enforced = roles.enforce(gateway, thrift, roles.Roles.from_env(), config.max_open_results)
        print(f"roles: {enforced}", flush=True)
    differed = share_metastore_settings(spark, thrift)
    aligned = ", ".join(differed) or "none differed"
    print(f"Thrift sessions' datastore settings aligned with the catalog's: {aligned}", flush=True)
    print(
        f"lastfm-lakehouse server: Thrift jdbc:hive2://{config.host}:{config.thrift_port}, "
        f"Spark Connect sc://{CONNECT_HOST}:{config.connect_port}, master {settings.master}, "
        f"warehouse {settings.warehouse_dir}, metastore {settings.metastore_description}",
        flush=True,
    )
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    schema = os.environ.get("LAKEHOUSE_SCHEMA", "lastfm")
    lookups = configured_lookups(schema) if extended and lookups_on() else {}
    served = ServedCache(spark, configured_tables(schema), lookups=lookups)
    print(f"served cache: keeping {', '.join(served.tables) or 'nothing'} in memory", flush=True)
    keys = ", ".join(f"{table} by {key}" for table, key in lookups.items())
    print(f"served cache: lookup indexes: {keys or 'none'}", flush=True)
    threading.Thread(target=served.run, args=(stop,), name="served-cache", daemon=True).start()
    jvm_process = spark.sparkContext._gateway.proc  # type: ignore[attr-defined]
    while not stop.wait(JVM_WATCH_SECONDS):
        code = jvm_process.poll() if jvm_process is not None else None
        if code is not None:
            # e.g. out of memory (-XX:+ExitOnOutOfMemoryError): exit too, so that a supervisor
            # (systemd, lastfm-lakehouse-server.service) starts a fresh server
            print(f"ERROR: the server's JVM exited with code {code}; see the lines above", flush=True)
            return 3
    print("lastfm-lakehouse server: stopping", flush=True)
    spark.stop()
    return 0


def start(config: ServerConfig) -> int:
    refusal = config.refusal()
    if refusal:
        print(f"ERROR: {refusal}", file=sys.stderr)
        return 2
    warning = config.warning()
    if warning:
        print(f"WARNING: {warning}", file=sys.stderr)
    if config.tls:
        files = trust.TlsFiles.from_env(config.home)
        try:
            if tls.create(files, config.host):
                print(f"made a self-signed TLS keystore {files.keystore}; clients trust {files.certificate}")
        except trust.TlsError as exc:
            print(f"ERROR: {exc}", file=sys.stderr)
            return 1
    pid = running_pid(config)
    if pid is not None and all(port_open(*address) for address in config.ports.values()):
        print(f"server already running (pid {pid}): {describe(config)}")
        return 0
    if pid is not None:
        print(f"a server process (pid {pid}) exists but is not answering yet; see {config.log_file}")
        return wait_until_up(config, pid)
    taken = [
        f"{name} port {port} on {host}"
        for name, (host, port) in config.ports.items()
        if port_open(host, port)
    ]
    if taken:
        print(
            f"ERROR: {' and '.join(taken)} already in use by another program; "
            "stop it or set LAKEHOUSE_THRIFT_PORT / LAKEHOUSE_CONNECT_PORT",
            file=sys.stderr,
        )
        return 1
    from lastfm_lakehouse.spark_session import java_major_version

    major = java_major_version()
    if major is None or major < 17:
        print(
            f"ERROR: Spark needs Java 17+ (found: {major or 'none'}); run `make java` or set JAVA_HOME",
            file=sys.stderr,
        )
        return 1
    config.log_file.parent.mkdir(parents=True, exist_ok=True)
    with config.log_file.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", SERVER_MODULE, "run"],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    config.pid_file.write_text(f"{process.pid}\n")
    print(f"starting server (pid {process.pid}), log {config.log_file}")
    return wait_until_up(config, process.pid)


def wait_until_up(config: ServerConfig, pid: int) -> int:
    started = time.monotonic()
    while time.monotonic() - started < START_TIMEOUT_SECONDS:
        if running_pid(config) is None:
            print(
                f"ERROR: the server exited during start-up; last lines of {config.log_file}:", file=sys.stderr
            )
            print(tail(config.log_file), file=sys.stderr)
            config.pid_file.unlink(missing_ok=True)
            return 1
        if all(port_open(*address) for address in config.ports.values()):
            print(f"server up in {time.monotonic() - started:.0f}s: {describe(config)}")
            return 0
        time.sleep(1)
    print(
        f"ERROR: server not answering after {START_TIMEOUT_SECONDS}s; see {config.log_file}", file=sys.stderr
    )
    return 1


def stop(config: ServerConfig) -> int:
    return service(config).stop()


def status(config: ServerConfig) -> int:
    pid = running_pid(config)
    states = {name: port_open(*address) for name, address in config.ports.items()}
    if pid is None:
        print(
            "server not running"
            + (" (but something else listens on its ports)" if any(states.values()) else "")
        )
        return 3
    answered = ", ".join(f"{name} {'up' if up else 'DOWN'}" for name, up in states.items())
    print(f"server running (pid {pid}): {answered}; {describe(config)}")
    return 0 if all(states.values()) else 1


def describe(config: ServerConfig) -> str:
    return (
        f"jdbc:hive2://{config.host}:{config.thrift_port}  sc://{CONNECT_HOST}:{config.connect_port}  "
        f"auth {config.auth}  tls {'on' if config.tls else 'off'}  log {config.log_file}"
    )


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


def print_cluster_properties(config: ServerConfig) -> int:
    """Write the standalone cluster's properties file (``spark_session.cluster_properties``) and say
    how its master and workers use it."""
    from lastfm_lakehouse.spark_session import cluster_properties

    path = cluster_properties(config.home)
    print(path)
    print(
        "start the standalone master and every worker with `--properties-file` this file; the server and "
        "builds on LAKEHOUSE_SPARK_MASTER=spark://... then authenticate and encrypt with its secret",
        file=sys.stderr,
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    args = commands.parse(
        "lastfm_lakehouse.serving.server",
        __doc__,
        ("start", "stop", "status", "run", "cluster-properties"),
        argv,
    )
    config = ServerConfig.from_env()
    action = {
        "start": start,
        "stop": stop,
        "status": status,
        "run": run,
        "cluster-properties": print_cluster_properties,
    }[args.command]
    return commands.run(lambda: action(config), (trust.TlsError,))


if __name__ == "__main__":
    raise SystemExit(main())
