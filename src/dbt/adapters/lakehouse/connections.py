"""Credentials and connections of the ``lakehouse`` adapter (dbt-spark plus an embedded session)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from dbt.adapters.contracts.connection import Connection, ConnectionState
from dbt.adapters.events.logging import AdapterLogger
from dbt.adapters.exceptions import FailedToConnectError
from dbt.adapters.spark.connections import (
    PyhiveConnectionWrapper,
    SparkConnectionManager,
    SparkConnectionMethod,
    SparkCredentials,
)
from dbt_common.exceptions import DbtRuntimeError

from lastfm_lakehouse.settings import SparkSettings, renamed_env_in_use, renamed_env_message

logger = AdapterLogger("Lakehouse")


@dataclass
class LakehouseCredentials(SparkCredentials):
    """dbt-spark's credentials plus how to build the embedded session (``method: session``).

    Empty values fall back to the environment, then to ``lastfm_lakehouse.settings`` defaults.
    """

    lakehouse_home: str | None = None
    master: str | None = None
    driver_memory: str | None = None
    shuffle_partitions: int | None = None
    table_format: str | None = None
    delta_jars_dir: str | None = None
    # Spark Connect endpoint for Python models when dbt talks to a server (method thrift).
    connect_url: str | None = None

    @classmethod
    def __pre_deserialize__(cls, data: Any) -> Any:
        data = super().__pre_deserialize__(data)
        if data.get("method") == SparkConnectionMethod.SESSION and not data.get("host"):
            data["host"] = "embedded"
        return data

    @property
    def type(self) -> str:
        return "lakehouse"

    def spark_settings(self) -> SparkSettings:
        try:
            return SparkSettings.from_env(
                home=self.lakehouse_home,
                master=self.master,
                driver_memory=self.driver_memory,
                shuffle_partitions=self.shuffle_partitions,
                table_format=(self.table_format or "").lower(),
                delta_jars_dir=self.delta_jars_dir,
            )
        except ValueError as exc:
            raise DbtRuntimeError(f"lakehouse profile: {exc}") from exc

    def _connection_keys(self) -> tuple[str, ...]:
        return (*super()._connection_keys(), "method", "master", "table_format", "lakehouse_home")


class LakehouseConnectionManager(SparkConnectionManager):
    TYPE = "lakehouse"

    @classmethod
    def open(cls, connection: Connection) -> Connection:
        creds = connection.credentials
        retired = renamed_env_in_use() if connection.state != "open" else []
        if retired:  # the profile and the project read the new names: the old ones would be ignored
            raise DbtRuntimeError("; ".join(renamed_env_message(old) for old in retired))
        if (
            connection.state != "open"
            and creds.method == SparkConnectionMethod.THRIFT
            and (creds.auth or "").upper() == "LDAP"
            and not creds.password
        ):
            from lastfm_lakehouse.access import credentials

            password = credentials.password_of(creds.user, creds.spark_settings().home)
            if password is None:
                raise DbtRuntimeError(
                    f"the server wants a password for {creds.user}: set DBT_ENV_SECRET_LAKEHOUSE_PASSWORD "
                    "or run `make directory`, which keeps it in $LAKEHOUSE_HOME/secrets/"
                )
            creds.password = password
        if connection.state != "open" and creds.method == SparkConnectionMethod.THRIFT and creds.use_ssl:
            return cls.open_verified_tls(connection)
        if connection.state != "open" and creds.method == SparkConnectionMethod.SESSION:
            from lastfm_lakehouse.spark_session import get_or_create

            try:
                get_or_create(creds.spark_settings())
            except (RuntimeError, ValueError) as exc:
                raise DbtRuntimeError(f"could not start the embedded Spark session: {exc}") from exc
        return super().open(connection)

    @classmethod
    def open_verified_tls(cls, connection: Connection) -> Connection:
        """``use_ssl`` with the server's certificate and host name verified (``access.clients``):
        dbt-spark's own TLS transport accepts any certificate (``ssl.CERT_NONE``)."""
        from lastfm_lakehouse.access import clients, trust

        creds = connection.credentials
        login = {"username": creds.user, "password": creds.password, "auth": creds.auth}
        failure: Exception | None = None
        for attempt in range(1 + creds.connect_retries):
            try:
                handle = clients.hive_connection(
                    creds.host,
                    creds.port,
                    login,
                    use_tls=True,
                    home=creds.spark_settings().home,
                    configuration=creds.server_side_parameters,
                )
            except trust.TlsError as exc:  # a certificate that does not verify will not on a retry
                raise FailedToConnectError(f"lakehouse profile, use_ssl: {exc}") from exc
            except Exception as exc:  # SASL failures can be transient under load: retried
                failure = exc
                logger.debug(
                    f"TLS connection attempt {attempt + 1} to {creds.host}:{creds.port} failed: {exc}"
                )
                time.sleep(creds.connect_timeout)
                continue
            connection.handle = PyhiveConnectionWrapper(
                handle,
                poll_interval=creds.poll_interval,
                query_timeout=creds.query_timeout,
                query_retries=creds.query_retries,
            )
            connection.state = ConnectionState.OPEN
            return connection
        raise FailedToConnectError(
            f"could not open a verified TLS connection to {creds.host}:{creds.port} "
            f"({1 + creds.connect_retries} attempts): {failure}"
        )
