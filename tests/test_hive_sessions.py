"""HiveServer2 inside the server's JVM: what it does with Hive's own classes when sessions close."""

from __future__ import annotations

import threading
from typing import Any

from lastfm_lakehouse.serving.server import skip_hive_function_registry

# Far longer than Hive.get takes (milliseconds); only a thread that never returns reaches it.
STUCK_SECONDS = 120


def hive_get_on_a_new_thread(spark: Any) -> str:
    """``Hive.get(new HiveConf())`` on a fresh thread, as a Thrift worker thread closing a session
    does (``SessionState.close``): "ok", the error's first line, or "stuck"."""
    jvm = spark._jvm
    outcome: list[str] = []

    def call() -> None:
        try:
            jvm.org.apache.hadoop.hive.ql.metadata.Hive.get(jvm.org.apache.hadoop.hive.conf.HiveConf())
            outcome.append("ok")
        except Exception as exc:  # py4j's error, naming the Java one
            outcome.append(str(exc).splitlines()[0])

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    thread.join(STUCK_SECONDS)
    return outcome[0] if outcome else "stuck"


def test_hive_function_registry_never_fails_or_blocks_a_session_close(spark: Any) -> None:
    """Without ``skip_hive_function_registry`` the first ``Hive.get`` fails (NoClassDefFoundError:
    Hive's FunctionRegistry needs hive-llap-common, which Spark 4 does not ship) and every later one
    waits forever; the server calls it before any session exists."""
    skip_hive_function_registry(spark)
    assert skip_hive_function_registry(spark) is False, "marked once, then left as it is"
    assert [hive_get_on_a_new_thread(spark) for _ in range(3)] == ["ok", "ok", "ok"]


def persistence_manager_factory(spark: Any) -> int:
    """Identity of Hive's one DataNucleus factory (``ObjectStore.pmf``, static), 0 when none."""
    jvm = spark._jvm
    store = jvm.java.lang.Class.forName("org.apache.hadoop.hive.metastore.ObjectStore")
    field = store.getDeclaredField("pmf")
    field.setAccessible(True)
    return int(jvm.java.lang.System.identityHashCode(field.get(None)))


def test_thrift_sessions_share_the_metastores_datastore_settings(spark: Any) -> None:
    """A real Thrift server in this JVM and real PyHive sessions, one per query as Superset opens
    them: with ``share_metastore_settings`` no session rebuilds Hive's persistence-manager factory
    (without it, every session's metastore client, built from Spark's "execution Hive" conf, and the
    catalog's next call rebuilt the one factory Hive keeps, back and forth)."""
    from pyhive import hive

    from lastfm_lakehouse.serving.server import datastore_settings, share_metastore_settings

    from .test_server import free_port, wait_for_port

    port = free_port()
    # both places the server's Hive conf may be built from, whatever this JVM ran before
    for conf in (spark.conf, spark.sparkContext._jsc.hadoopConfiguration()):
        conf.set("hive.server2.thrift.port", str(port))
        conf.set("hive.server2.thrift.bind.host", "127.0.0.1")
    jvm = spark._jvm
    thrift = jvm.org.apache.spark.sql.hive.thriftserver.HiveThriftServer2.startWithContext(
        spark._jsparkSession.sqlContext()
    )
    try:
        port = int(thrift.getHiveConf().get("hive.server2.thrift.port"))  # the one it binds
        wait_for_port(port)  # the Thrift service binds on its own thread
        catalog = spark._jsparkSession.sharedState().externalCatalog().unwrapped().client().conf()
        # In a fresh JVM, as the server's, they differ (the execution conf names a Derby adapter the
        # catalog's lacks); after this process's dbt builds they may already agree.
        share_metastore_settings(spark, thrift)
        assert datastore_settings(thrift.getHiveConf()) == datastore_settings(catalog)
        assert share_metastore_settings(spark, thrift) == [], "nothing left to align"

        spark.sql("show databases").collect()  # the catalog's factory, as a served table's read makes
        factory = persistence_manager_factory(spark)
        for _ in range(3):
            connection = hive.connect(host="127.0.0.1", port=port, username="bi", database="default")
            cursor = connection.cursor()
            cursor.execute("select 1")
            assert cursor.fetchall() == [(1,)]
            connection.close()  # raises when the server fails to close the session
            spark.sql("show databases").collect()
        assert persistence_manager_factory(spark) == factory, "a session rebuilt the factory"
    finally:
        thrift.stop()
