"""Shared code for the Last.fm 360K dbt + Spark lakehouse.

Modules are named for what they do: ``settings`` (names, paths and defaults in one place),
``spark_session`` (the embedded SparkSession every entry point shares), ``raw_data`` (finding and
checking the two raw files), ``generate`` (the synthetic dataset), ``cli`` (``make build``).
"""

__version__ = "0.1.0"
