"""Serving the marts to BI tools: the Spark Thrift + Connect server and the PostgreSQL metastore."""
