"""``lakehouse``: a thin dbt adapter plugin on top of dbt-spark.

It adds what upstream dbt-spark lacks for open-source Spark: an embedded SparkSession configured
from the profile (warehouse, Derby metastore, sizing, Delta switch) and Python models that run in
that same session. Everything else is dbt-spark's (macros dispatch to ``spark__`` ones).
"""

from dbt.adapters.base import AdapterPlugin

from dbt.adapters.lakehouse.connections import LakehouseConnectionManager, LakehouseCredentials
from dbt.adapters.lakehouse.impl import LakehouseAdapter
from dbt.include import lakehouse

__all__ = ["LakehouseAdapter", "LakehouseConnectionManager", "LakehouseCredentials", "Plugin"]

Plugin = AdapterPlugin(
    adapter=LakehouseAdapter,  # type: ignore[arg-type]
    credentials=LakehouseCredentials,
    include_path=lakehouse.PACKAGE_PATH,
    dependencies=["spark"],
)
