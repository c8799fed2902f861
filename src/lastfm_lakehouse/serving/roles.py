"""Who may do what on the server: roles from LDAP groups, enforced by the server's SQL extension
(``serving/jvm/src/main/java/lakehouse/Authorization.java``) on every Thrift statement.

* **reader** (``$LAKEHOUSE_LDAP_READER_GROUP``, default ``cn=lakehouse-readers,ou=groups,...``):
  BI tools and Superset. ``SELECT``, ``SHOW``, ``DESCRIBE``, ``USE`` and ``EXPLAIN`` on the published
  schemas (``$LAKEHOUSE_PUBLISHED_SCHEMAS``, comma-separated, ``x_*`` for every schema beginning
  ``x_``; default ``$LAKEHOUSE_SCHEMA`` and dbt's custom schemas beside it, ``$LAKEHOUSE_SCHEMA_*``),
  nothing else.
* **builder** (``$LAKEHOUSE_LDAP_BUILDER_GROUP``, default ``cn=lakehouse-builders,ou=groups,...``):
  dbt's ``server`` target. Everything.

A user in neither group, or who logs in with a DN for a name, may run nothing.

Superset (``dashboards.superset_app``) logs people in against the same directory and gives them its
roles by group: readers get the read-only ``Lakehouse Reader`` role (dashboards and charts, nothing
to edit, no SQL Lab), members of ``$LAKEHOUSE_LDAP_SQL_LAB_GROUP`` (default
``cn=lakehouse-sql-lab,ou=groups,...``) SQL Lab besides, and members of
``$LAKEHOUSE_LDAP_DASHBOARD_ADMIN_GROUP`` (default ``cn=lakehouse-dashboard-admins,ou=groups,...``)
Superset's ``Admin``. It reads a user's groups from the ``memberOf`` attribute of their entry
(Active Directory has it; ``make directory``'s slapd runs the memberof overlay for it). The defaults fit the
directory ``make directory`` runs (``serving.directory``); every name can point at a company
directory instead: ``LAKEHOUSE_LDAP_URL``, ``LAKEHOUSE_LDAP_BASE_DN`` (where users are, as
``uid=<user>,<base>``), ``LAKEHOUSE_LDAP_GROUP_BASE``, ``LAKEHOUSE_LDAP_GROUP_FILTER`` (``{0}``: the
user's DN), and the server's own account, ``LAKEHOUSE_LDAP_BIND_DN`` with its password in the file
``LAKEHOUSE_LDAP_BIND_PASSWORD_FILE`` (default ``$LAKEHOUSE_HOME/secrets/ldap-server.password``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from lastfm_lakehouse.access import credentials
from lastfm_lakehouse.settings import env_number, lakehouse_home

# The directory `make directory` runs.
SUFFIX = "dc=lakehouse,dc=local"
PEOPLE = f"ou=people,{SUFFIX}"
GROUPS = f"ou=groups,{SUFFIX}"
READERS = f"cn=lakehouse-readers,{GROUPS}"
BUILDERS = f"cn=lakehouse-builders,{GROUPS}"
SQL_LAB = f"cn=lakehouse-sql-lab,{GROUPS}"
DASHBOARD_ADMINS = f"cn=lakehouse-dashboard-admins,{GROUPS}"
# The server's own entry: reads the groups (to find a user's role), nothing else.
SERVER = f"cn=lakehouse-server,{SUFFIX}"
MEMBER_FILTER = "(&(objectClass=groupOfNames)(member={0}))"


@dataclass(frozen=True)
class Roles:
    url: str
    people: str
    group_base: str
    group_filter: str
    readers: str
    builders: str
    bind_dn: str
    bind_password_file: str
    published: tuple[str, ...]
    sql_lab: str = SQL_LAB
    dashboard_admins: str = DASHBOARD_ADMINS

    @classmethod
    def from_env(cls) -> Roles:
        project = os.environ.get("LAKEHOUSE_SCHEMA", "lastfm")
        # the project's schema and dbt's custom schemas beside it (<schema>_seeds, ...)
        schemas = os.environ.get("LAKEHOUSE_PUBLISHED_SCHEMAS", "") or f"{project},{project}_*"
        password_file = credentials.secrets_dir(lakehouse_home()) / credentials.LDAP_SERVER_PASSWORD
        return cls(
            url=ldap_url(),
            people=os.environ.get("LAKEHOUSE_LDAP_BASE_DN", PEOPLE),
            group_base=os.environ.get("LAKEHOUSE_LDAP_GROUP_BASE", GROUPS),
            group_filter=os.environ.get("LAKEHOUSE_LDAP_GROUP_FILTER", MEMBER_FILTER),
            readers=os.environ.get("LAKEHOUSE_LDAP_READER_GROUP", READERS),
            builders=os.environ.get("LAKEHOUSE_LDAP_BUILDER_GROUP", BUILDERS),
            bind_dn=os.environ.get("LAKEHOUSE_LDAP_BIND_DN", SERVER),
            bind_password_file=os.environ.get("LAKEHOUSE_LDAP_BIND_PASSWORD_FILE", str(password_file)),
            published=tuple(s.strip() for s in schemas.split(",") if s.strip()),
            sql_lab=os.environ.get("LAKEHOUSE_LDAP_SQL_LAB_GROUP", SQL_LAB),
            dashboard_admins=os.environ.get("LAKEHOUSE_LDAP_DASHBOARD_ADMIN_GROUP", DASHBOARD_ADMINS),
        )


def ldap_url() -> str:
    """The directory's URL: the one ``make directory`` runs, or a company directory."""
    port = int(env_number("LAKEHOUSE_LDAP_PORT", 3389))
    return os.environ.get("LAKEHOUSE_LDAP_URL", f"ldap://127.0.0.1:{port}")


def enforce(gateway: Any, thrift: Any, roles: Roles, max_open_results: int) -> str:
    """Switch the roles on for ``thrift``'s sessions (a started HiveThriftServer2), readers having at
    most ``max_open_results`` statements open at once; what they are."""
    directory = gateway.lakehouse.DirectoryRoles(
        roles.url,
        roles.bind_dn,
        roles.bind_password_file,
        f"uid=%s,{roles.people}",
        roles.group_base,
        roles.group_filter,
        roles.readers,
        roles.builders,
    )
    gateway.lakehouse.Authorization.enforce(thrift, ",".join(roles.published), directory, max_open_results)
    return (
        f"readers ({roles.readers}) may read {', '.join(roles.published)}, {max_open_results} statements "
        f"open at once; builders ({roles.builders}) "
        f"may build; groups read from {roles.url} as {roles.bind_dn}"
    )
