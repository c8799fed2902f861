"""The platform layer that reaches the lakehouse: where secrets live (``credentials``), what a client
trusts (``trust``) and how Python clients connect to the server (``clients``). It imports only
``settings``; the dbt adapter, the serving code, the dashboards and the bench build on it, never the
reverse."""
