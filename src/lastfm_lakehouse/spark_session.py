"""The embedded SparkSession shared by dbt (through the ``lakehouse`` adapter), the CLI and the tests.

One JVM per process: Spark's ``getOrCreate`` hands every later caller the session created here, so
SQL models, Python models and the build summary all see the same Hive metastore and warehouse.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from lastfm_lakehouse.settings import SparkSettings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

LOG4J_CONFIG = Path(__file__).with_name("log4j2.properties")
DELTA_EXTENSION = "io.delta.sql.DeltaSparkSessionExtension"
# A cluster's shared secret and its master's and workers' properties, in the secrets folder.
CLUSTER_SECRET = "spark-cluster.secret"
CLUSTER_PROPERTIES = "spark-cluster.conf"
ENV_DRIVER_HOST = "LAKEHOUSE_DRIVER_HOST"
DELTA_CATALOG = "org.apache.spark.sql.delta.catalog.DeltaCatalog"
# Every query of a Delta table first reads its snapshot: the log's last checkpoint plus the JSON
# commits after it, spread over this many partitions (Delta's default 50: 50 tasks for a log of a
# few KB, the bulk of a data test's time on 2 cores; 1 measured ~15 % faster than 2 on 20 test
# queries over freshly written tables).
DELTA_TUNING = {
    "spark.databricks.delta.snapshotPartitions": "1",
    # Delta records a replaced table's new columns in the metastore too; Hive refuses a column whose
    # type differs from the old placeholder's ("types incompatible with the existing columns", an
    # ERROR per rebuilt table before Spark falls back to its own format). The columns that count
    # are in the Delta log.
    "spark.hadoop.hive.metastore.disallow.incompatible.col.type.changes": "false",
}


def java_major_version() -> int | None:
    """Major version of the ``java`` on PATH (or under JAVA_HOME), None when there is none."""
    import re
    import subprocess

    java_home = os.environ.get("JAVA_HOME")
    java = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
    if not java or not Path(java).exists():
        return None
    out = subprocess.run([java, "-version"], capture_output=True, text=True, check=False).stderr
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def delta_conf(settings: SparkSettings) -> dict[str, str]:
    """Spark conf of Delta Lake: its SQL extension and catalog, its two jars on the class path
    (``delta_jars``: fetched by ``make setup``; a clear error naming the Parquet fallback when they
    are missing) and the settings that keep its log replay cheap on small tables."""
    from lastfm_lakehouse.delta_jars import jars

    found = jars(settings.delta_jars_dir)
    return {
        "spark.sql.extensions": DELTA_EXTENSION,
        "spark.sql.catalog.spark_catalog": DELTA_CATALOG,
        # spark.jars ships them to executors (a cluster); the driver's own class path too, because
        # spark.jars reach the driver through a child class loader that HiveServer2's threads do
        # not use (the server's Thrift queries failed: NoClassDefFoundError, delta/stats/...)
        "spark.jars": ",".join(found),
        "spark.driver.extraClassPath": ":".join(found),
        **DELTA_TUNING,
        # VACUUM lists a table's files in a job of this many tasks (Spark's default 10,000): on 2
        # cores one table's vacuum took 21-46 s, 3-16 s with 2 tasks. As many as shuffle partitions.
        "spark.sql.sources.parallelPartitionDiscovery.parallelism": str(settings.shuffle_partitions),
    }


# FAIR between all jobs, not only between pools: Spark's implicit "default" pool is FIFO inside, so
# one big job would otherwise hold the cores until its last stage is scheduled and queue every
# other job behind it (a BI lookup on the server; a data test beside a full-size model in a build).
FAIR_SCHEDULER_XML = """<?xml version="1.0"?>
<allocations>
  <pool name="default">
    <schedulingMode>FAIR</schedulingMode>
    <weight>1</weight>
    <minShare>0</minShare>
  </pool>
</allocations>
"""


def scheduler_conf(home: Path, mode: str) -> dict[str, str]:
    """Spark's scheduler settings for ``mode`` (settings.SCHEDULER_MODES); FAIR writes its allocation
    file under ``home``."""
    if mode != "FAIR":
        return {"spark.scheduler.mode": mode}
    allocation = home / "fairscheduler.xml"
    allocation.parent.mkdir(parents=True, exist_ok=True)
    allocation.write_text(FAIR_SCHEDULER_XML)
    return {"spark.scheduler.mode": "FAIR", "spark.scheduler.allocation.file": str(allocation)}


def spark_conf(settings: SparkSettings) -> dict[str, str]:
    """Every Spark setting of the embedded lakehouse, as strings."""
    home = settings.home
    conf = {
        "spark.master": settings.master,
        "spark.app.name": "lastfm-lakehouse",
        "spark.driver.memory": settings.driver_memory,
        "spark.sql.shuffle.partitions": str(settings.shuffle_partitions),
        "spark.sql.adaptive.enabled": "true",
        # toPandas / createDataFrame(pandas) of millions of rows: Arrow batches, not pickled rows.
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.adaptive.coalescePartitions.enabled": "true",
        "spark.sql.warehouse.dir": str(settings.warehouse_dir),
        "spark.sql.catalogImplementation": "hive",
        "spark.sql.session.timeZone": "UTC",
        # Embedded Derby metastore under the lakehouse home (one JVM at a time) unless a
        # metastore URL (PostgreSQL, for a server and builds at the same time) is configured.
        "spark.hadoop.javax.jdo.option.ConnectionURL": (
            f"jdbc:derby:;databaseName={settings.metastore_dir};create=true"
        ),
        "spark.hadoop.datanucleus.schema.autoCreateAll": "true",
        "spark.hadoop.hive.metastore.schema.verification": "false",
        "spark.driver.extraJavaOptions": (
            f"-Dderby.system.home={home} -Dlog4j2.configurationFile={LOG4J_CONFIG.as_uri()}"
        ),
        "spark.local.dir": str(home / "tmp"),
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.ui.retainedExecutions": "200",
        "spark.eventLog.enabled": "false",
        **scheduler_conf(home, settings.scheduler_mode),
    }
    serving_jars = sorted(
        (home / "jars").glob("lakehouse-serving-*.jar"), key=lambda jar: jar.stat().st_mtime
    )
    if serving_jars:
        # A view created through the server may record its session catalog (the caching one,
        # serving.jvm): any session reading that view must be able to load the class.
        conf["spark.driver.extraClassPath"] = str(serving_jars[-1])
    if settings.metastore_url:
        conf.update(
            {
                "spark.hadoop.javax.jdo.option.ConnectionURL": settings.metastore_url,
                "spark.hadoop.javax.jdo.option.ConnectionDriverName": "org.postgresql.Driver",
                "spark.hadoop.javax.jdo.option.ConnectionUserName": settings.metastore_user,
                "spark.hadoop.javax.jdo.option.ConnectionPassword": settings.metastore_password,
                "spark.driver.extraClassPath": ":".join(
                    filter(None, [settings.jdbc_jars, conf.get("spark.driver.extraClassPath", "")])
                ),
            }
        )
    conf.update(cluster_conf(settings))
    if settings.table_format == "delta":
        delta = delta_conf(settings)
        class_path = [conf.get("spark.driver.extraClassPath", ""), delta.pop("spark.driver.extraClassPath")]
        conf.update(delta)
        conf["spark.driver.extraClassPath"] = ":".join(filter(None, class_path))
    return conf


def loopback_master(master: str) -> bool:
    """In-process, or a standalone cluster on this machine."""
    return master.startswith(("local", "spark://127.", "spark://localhost"))


def driver_host(master: str) -> str:
    """Where executors reach the driver: loopback for a cluster on this machine, else
    ``LAKEHOUSE_DRIVER_HOST`` or this machine's name."""
    if loopback_master(master):
        return "127.0.0.1"
    return os.environ.get(ENV_DRIVER_HOST, "").strip() or socket.gethostname()


def cluster_secret(home: Path) -> str:
    """The secret a standalone cluster and its drivers share (``spark.authenticate.secret``): kept in
    ``$LAKEHOUSE_HOME/secrets/spark-cluster.secret``, generated on first use; ``cluster_properties``
    hands it to the cluster's master and workers."""
    from lastfm_lakehouse.access.credentials import secret

    return secret(CLUSTER_SECRET, home=home)


def cluster_conf(settings: SparkSettings) -> dict[str, str]:
    """Nothing for an in-process master. On a cluster, the driver's RPC and block transfers are
    authenticated (``spark.authenticate``) and encrypted (AES-GCM), spills and shuffle files are
    encrypted on the executors' disks, and the Spark UI listens on loopback: Spark binds its UI to
    ``SPARK_LOCAL_IP`` or every address, so ``get_or_create`` sets SPARK_LOCAL_IP=127.0.0.1 and the
    RPC is given its own address (``spark.driver.host``). YARN and Kubernetes make each
    application's secret themselves; a standalone master (``spark://``) needs the one its master and
    workers were started with (``cluster_properties``)."""
    if settings.master.startswith("local"):
        return {}
    conf = {
        "spark.authenticate": "true",
        "spark.network.crypto.enabled": "true",
        "spark.io.encryption.enabled": "true",
        "spark.driver.host": driver_host(settings.master),
    }
    if settings.master.startswith("spark://"):
        conf["spark.authenticate.secret"] = cluster_secret(settings.home)
    return conf


def cluster_properties(home: Path) -> Path:
    """A properties file for a standalone cluster's master and workers (``spark-class
    org.apache.spark.deploy.master.Master --properties-file <it>``, the same for each worker): the
    shared secret and RPC encryption its drivers use (``cluster_conf``). In the secrets folder, mode
    600: the secret is on no command line."""
    from lastfm_lakehouse.access.credentials import secret, secrets_dir

    lines = [
        "# Written by `lastfm-lakehouse cluster-properties`: give it to the standalone master and to",
        "# every worker with --properties-file. It holds the cluster's shared secret: keep it private.",
        "spark.authenticate true",
        f"spark.authenticate.secret {cluster_secret(home)}",
        "spark.network.crypto.enabled true",
    ]
    secret(CLUSTER_PROPERTIES, "\n".join(lines), home)
    return secrets_dir(home) / CLUSTER_PROPERTIES


def get_or_create(
    settings: SparkSettings | None = None, extra_conf: dict[str, str] | None = None
) -> SparkSession:
    """The process's SparkSession, created with ``settings`` (from the environment) if none exists."""
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    settings = settings or SparkSettings.from_env()
    if settings.metastore_url and not all(Path(jar).is_file() for jar in settings.jdbc_jars.split(":")):
        raise RuntimeError(
            f"metastore {settings.metastore_url} needs the PostgreSQL JDBC driver at {settings.jdbc_jars} "
            "(make metastore installs libpostgresql-jdbc-java; LAKEHOUSE_JDBC_JARS points elsewhere)"
        )
    if settings.master.startswith("local"):
        major = java_major_version()
        if major is None:
            raise RuntimeError(
                "Java was not found: Spark needs Java 17+. Run `make setup` (installs "
                "openjdk-17-jdk-headless when root) or set JAVA_HOME."
            )
        if major < 17:
            raise RuntimeError(f"Java {major} found; Spark 4 needs Java 17+ (set JAVA_HOME).")
    # Bind to loopback: an embedded session or a cluster on this machine needs no network (and skips
    # the hostname warning); on a cluster elsewhere this keeps the Spark UI on loopback, its RPC
    # having an address of its own (spark.driver.host, cluster_conf).
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    if loopback_master(settings.master):
        # Python UDF workers must run this interpreter (the virtualenv with this package), not the
        # first python3 on PATH, which is what PySpark starts when PYSPARK_PYTHON is unset.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    # Spark parallelises with one task per core: native BLAS (OpenBLAS in the JVM for ALS, numpy in
    # the Python workers) must not start its own threads on top of that (oversubscription).
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    for sub in ("warehouse", "tmp"):
        (settings.home / sub).mkdir(parents=True, exist_ok=True)
    conf = {**spark_conf(settings), **(extra_conf or {})}
    launch_jvm(conf)
    builder = SparkSession.builder.enableHiveSupport()
    for key, value in conf.items():
        builder = builder.config(key, value)
    log.info("starting Spark (master %s) with the lakehouse at %s", settings.master, settings.home)
    session = builder.getOrCreate()
    return session


# Spark conf keys whose values are secrets (Spark's own spark.redaction.regex, plus "credential").
SECRET_KEY = re.compile(r"(?i)secret|password|token|access[.]?key|credential")


def launch_jvm(conf: dict[str, str]) -> None:
    """Start the driver JVM with every setting of ``conf`` but its secrets.

    PySpark starts the JVM with ``spark-submit --conf key=value`` for each setting it is given, so
    every setting is on the process's command line (``/proc/<pid>/cmdline``, ``ps``) and becomes a
    JVM system property (which SQL's ``java_method`` could read). Started here first, without the
    secrets, the JVM gets them afterwards in the SparkConf the session is built from, in memory
    alone. Hand-written because PySpark offers no other way in (``--properties-file`` would still
    turn them into system properties)."""
    from pyspark import SparkConf, SparkContext

    public = SparkConf(loadDefaults=False)
    public.setAll([(key, value) for key, value in conf.items() if not SECRET_KEY.search(key)])
    SparkContext._ensure_initialized(conf=public)
