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
