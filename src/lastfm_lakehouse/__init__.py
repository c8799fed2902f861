"""Shared code for the Last.fm 360K dbt + Spark lakehouse, one subpackage per concern.

* ``settings`` (names, paths and defaults in one place), ``spark_session`` (the embedded
  SparkSession every entry point shares), ``cli`` (``make build``);
* ``data``: the raw files, country names, the synthetic generator and its dialects;
* ``recommenders``: the ``Recommender`` contract and ALS, user-kNN, MinHash LSH, most popular,
  with the top-N machinery they share (what the dbt Python models import);
* ``evaluation``: ranking metrics, the hold-out evaluation loop, ALS tuning;
* ``serving``: the Thrift + Spark Connect server, the PostgreSQL metastore, the LDAP directory
  and the secrets clients log in with;
* ``bench``: ``make bench`` and ``make bench-serve``.
"""

__version__ = "0.1.0"
