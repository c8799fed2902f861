"""Apache Superset on the lakehouse's marts: the dashboards as Superset export files
(``superset/``), the bundle that imports them (``bundle``), a REST client (``api``) and
``make dashboards`` (``superset_app``)."""
