"""Run a compiled dbt Python model in the embedded SparkSession (upstream only targets Databricks)."""

from __future__ import annotations

import traceback
from typing import Any

from dbt.adapters.base import PythonJobHelper
from dbt_common.exceptions import DbtRuntimeError


class SessionPythonJobHelper(PythonJobHelper):
    """Executes the model's compiled code in this process, with ``spark`` bound to the shared session."""

    def __init__(self, parsed_model: dict, credentials: Any) -> None:
        self.parsed_model = parsed_model
        self.credentials = credentials
        self.name = f"{parsed_model['schema']}.{parsed_model['alias']}"

    def submit(self, compiled_code: str) -> None:
        from lastfm_lakehouse.spark_session import get_or_create

        spark = get_or_create(self.credentials.spark_settings())
        filename = f"<dbt python model {self.name}>"
        namespace: dict[str, Any] = {"spark": spark, "__name__": "__dbt_python_model__"}
        try:
            exec(compile(compiled_code, filename, "exec"), namespace)
        except Exception as exc:
            frames = traceback.format_exception(exc)
            raise DbtRuntimeError(
                f"Python model {self.name} failed: {type(exc).__name__}: {exc}\n" + "".join(frames)
            ) from exc
