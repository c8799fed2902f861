"""Run a compiled dbt Python model in the embedded SparkSession (upstream only targets Databricks)."""

from __future__ import annotations

import threading
import traceback
from typing import Any

from dbt.adapters.base import PythonJobHelper
from dbt_common.exceptions import DbtRuntimeError

# pyspark.ml's modules import each other circularly; dbt threads importing them at the same time
# fail with "partially initialized module". Models import them after this lock-guarded first import.
_PYSPARK_ML_IMPORT = threading.Lock()


def _import_pyspark_ml() -> None:
    with _PYSPARK_ML_IMPORT:
        import pyspark.ml.feature
        import pyspark.ml.recommendation  # noqa: F401


class SessionPythonJobHelper(PythonJobHelper):
    """Executes the model's compiled code in this process, with ``spark`` bound to the shared session."""

    def __init__(self, parsed_model: dict, credentials: Any) -> None:
        self.parsed_model = parsed_model
        self.credentials = credentials
        self.name = f"{parsed_model['schema']}.{parsed_model['alias']}"

    def session(self) -> Any:
        from lastfm_lakehouse.spark_session import get_or_create

        return get_or_create(self.credentials.spark_settings())

    def submit(self, compiled_code: str) -> None:
        from lastfm_lakehouse import progress
        from lastfm_lakehouse.materialised import held_for

        _import_pyspark_ml()
        spark = self.session()
        filename = f"<dbt python model {self.name}>"
        namespace: dict[str, Any] = {"spark": spark, "__name__": "__dbt_python_model__"}
        try:
            # the compiled code ends with dbt's write: what the model materialised is kept until then
            with held_for(self.name), progress.model_scope(self.name, spark):
                exec(compile(compiled_code, filename, "exec"), namespace)
        except Exception as exc:
            frames = traceback.format_exception(exc)
            raise DbtRuntimeError(
                f"Python model {self.name} failed: {type(exc).__name__}: {exc}\n" + "".join(frames)
            ) from exc


class ConnectPythonJobHelper(SessionPythonJobHelper):
    """Executes the model's code here with ``spark`` a Spark Connect session to the server, so the
    DataFrame work runs on the server (and its cluster), next to the SQL models sent over Thrift."""

    def session(self) -> Any:
        from pyspark.sql import SparkSession

        from lastfm_lakehouse.access import credentials

        url = self.credentials.connect_url
        if not url:
            raise DbtRuntimeError(
                f"Python model {self.name}: the profile sets no connect_url (sc://host:15002)"
            )
        shown = url  # the token never reaches an error message or a log
        url = credentials.with_token(url, credentials.connect_token(self.credentials.spark_settings().home))
        try:
            session = SparkSession.builder.remote(url).getOrCreate()
        except Exception as exc:
            message = str(exc).replace(url, shown)
            raise DbtRuntimeError(
                f"Python model {self.name}: no Spark Connect at {shown}: {message}"
            ) from exc
        # dbt runs models in worker threads and Connect's active session is thread-local;
        # pyspark.ml on Connect looks it up, so make it active in this thread.
        type(session)._set_default_and_active_session(session)
        # The server turns adaptive execution off for BI lookups; builds want it.
        session.conf.set("spark.sql.adaptive.enabled", "true")
        return session
