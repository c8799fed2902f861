"""A private LDAP directory the server checks BI passwords against: Debian's OpenLDAP ``slapd``,
started and seeded by ``make directory`` as ``make metastore`` starts PostgreSQL.

    python -m lastfm_lakehouse.serving.directory up|down|status|password   (make directory / directory-stop)

``up`` installs ``slapd`` and ``ldap-utils`` when they are missing (apt-get, as root), writes a
``slapd.conf`` under ``$LAKEHOUSE_HOME/ldap`` (an mdb database for ``dc=lakehouse,dc=local``, users
under ``ou=people``), starts slapd on ``ldap://127.0.0.1:$LAKEHOUSE_LDAP_PORT`` (default 3389) and
creates three users and the groups that give them their roles on the server:

* ``$LAKEHOUSE_BI_USER`` (default ``bi``), in ``cn=lakehouse-readers,ou=groups``: BI tools and
  Superset, who may only read the published schemas;
* ``$LAKEHOUSE_BUILDER_USER`` (default ``dbt``), in ``cn=lakehouse-builders,ou=groups``: dbt's
  ``server`` target, who builds them;
* ``$LAKEHOUSE_ANALYST_USER`` (default ``analyst``), a reader who is in
  ``cn=lakehouse-sql-lab,ou=groups`` too: Superset gives them SQL Lab (``serving.roles``).

slapd runs the memberof overlay, so that a user's entry names their groups (``memberOf``), as
Superset's LDAP login reads them.

A password is ``$LAKEHOUSE_BI_PASSWORD`` / ``$LAKEHOUSE_BUILDER_PASSWORD`` /
``$LAKEHOUSE_ANALYST_PASSWORD`` when set, else generated
once and kept in ``$LAKEHOUSE_HOME/secrets/<user>.password`` (mode 600): ``password`` prints the BI
user's, nothing else does. The directory's admin password and the server's own entry
(``cn=lakehouse-server``, which may read the groups and nothing else) are generated and kept beside
them; passwords reach the LDAP tools through files, never on a command line, and the directory
stores only salted SHA-1 hashes.

The server (``LAKEHOUSE_SERVER_AUTH=ldap``) binds as ``uid=<user>,ou=people,dc=lakehouse,dc=local``
with the password a client sends (Spark's HiveServer2 LDAP provider), then reads the user's groups
as ``cn=lakehouse-server`` (``serving/jvm/src/main/java/lakehouse/DirectoryRoles.java``).
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from lastfm_lakehouse import commands
from lastfm_lakehouse.access import credentials
from lastfm_lakehouse.serving.roles import BUILDERS, GROUPS, PEOPLE, READERS, SERVER, SQL_LAB, SUFFIX
from lastfm_lakehouse.serving.server import port_open
from lastfm_lakehouse.settings import env_number, lakehouse_home

DEFAULT_BUILDER_USER = credentials.DEFAULT_BUILDER_USER
ADMIN = f"cn=admin,{SUFFIX}"
SCHEMAS = ("core", "cosine", "inetorgperson")
START_TIMEOUT_SECONDS = 30
LOOPBACK = "127.0.0.1"
# In slapd.conf since the directory keeps memberOf: a directory started without it is restarted.
MEMBEROF_MARK = "memberof overlay"


class DirectoryError(RuntimeError):
    """slapd could not be installed, configured or started; the message says why."""


@dataclass(frozen=True)
class Directory:
    home: Path
    port: int
    user: str
    builder: str = DEFAULT_BUILDER_USER
    analyst: str = credentials.DEFAULT_ANALYST_USER

    @classmethod
    def from_env(cls) -> Directory:
        return cls(
            home=lakehouse_home() / "ldap",
            port=int(env_number("LAKEHOUSE_LDAP_PORT", 3389)),
            user=credentials.bi_user(),
            builder=credentials.builder_user(),
            analyst=credentials.analyst_user(),
        )

    @property
    def groups(self) -> dict[str, tuple[str, ...]]:
        """Each group's members: the roles they give are in ``serving.roles``."""
        return {
            READERS: (self.user, self.analyst),
            BUILDERS: (self.builder,),
            SQL_LAB: (self.analyst,),
        }

    @property
    def url(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    # Files of the directory under the lakehouse home: one-line path properties, the same shape as
    # SparkSettings' and ServerConfig's.
    @property
    def lakehouse(self) -> Path:
        return self.home.parent

    @property
    def pid_file(self) -> Path:
        return self.home / "slapd.pid"

    @property
    def config(self) -> Path:
        return self.home / "slapd.conf"

    @property
    def log(self) -> Path:
        return self.home.parent / "logs" / "slapd.log"

    def user_dn(self, user: str) -> str:
        return f"uid={user},{PEOPLE}"


def ssha(password: str) -> str:
    """An OpenLDAP ``{SSHA}`` hash (salted SHA-1), as ``slappasswd`` writes it; computed here so the
    password never appears on a command line."""
    salt = os.urandom(8)
    digest = hashlib.sha1(password.encode() + salt).digest()  # SHA-1: the format OpenLDAP reads
    return "{SSHA}" + base64.b64encode(digest + salt).decode()


def ensure_packages() -> None:
    if (shutil.which("slapd") or Path("/usr/sbin/slapd").exists()) and shutil.which("ldapadd"):
        return
    if not (os.geteuid() == 0 and shutil.which("apt-get")):
        raise DirectoryError("install slapd and ldap-utils (apt-get, as root) for the LDAP directory")
    print("installing slapd ldap-utils with apt-get", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "slapd", "ldap-utils"], check=True, env=env)


def slapd_binary() -> str:
    return shutil.which("slapd") or "/usr/sbin/slapd"


def service(directory: Directory) -> commands.Service:
    return commands.Service("LDAP directory", directory.pid_file, "slapd")


def running_pid(directory: Directory) -> int | None:
    return service(directory).pid()


def write_config(directory: Directory, admin_hash: str) -> None:
    data = directory.home / "data"
    data.mkdir(parents=True, exist_ok=True)
    includes = "\n".join(f"include /etc/ldap/schema/{name}.schema" for name in SCHEMAS)
    directory.config.write_text(
        f"""{includes}
pidfile {directory.pid_file}
argsfile {directory.home / "slapd.args"}
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
database mdb
maxsize 104857600
suffix "{SUFFIX}"
rootdn "{ADMIN}"
rootpw {admin_hash}
directory {data}
# users may bind with their own password and read nothing else; nobody reads password hashes;
# the server's entry reads the groups alone
access to attrs=userPassword by self =xw by anonymous auth by * none
access to dn.subtree="{GROUPS}" by users read by * none
access to * by dn.exact="{SERVER}" none by users read by * none
# {MEMBEROF_MARK}: a user's entry names the groups they are in (memberOf), kept by slapd
overlay memberof
memberof-group-oc groupOfNames
memberof-member-ad member
memberof-memberof-ad memberOf
memberof-refint TRUE
"""
    )
    directory.config.chmod(0o600)


def read_config(directory: Directory) -> str:
    return directory.config.read_text() if directory.config.is_file() else ""


def ldap_tool(directory: Directory, tool: str, ldif: str = "", extra: list[str] | None = None) -> str:
    """Run an ldap-utils tool as the directory's admin (password from its file, never argv)."""
    credentials.secret(credentials.LDAP_ADMIN_PASSWORD, home=directory.lakehouse)  # created on first use
    admin = credentials.secrets_dir(directory.lakehouse) / credentials.LDAP_ADMIN_PASSWORD
    result = subprocess.run(
        [tool, "-x", "-H", directory.url, "-D", ADMIN, "-y", str(admin), *(extra or [])],
        input=ldif,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode not in (0, 68):  # 68: entry already exists
        raise DirectoryError(f"{tool} failed: {result.stderr.strip() or result.stdout.strip()}")
    return result.stdout


def seed(directory: Directory, passwords: dict[str, str], server_password: str) -> None:
    """The base entries, the users with their passwords (hashes replaced when they changed), the
    groups that give the BI user and the builder their roles, and the server's own entry."""
    ldap_tool(
        directory,
        "ldapadd",
        f"""dn: {SUFFIX}
objectClass: dcObject
objectClass: organization
dc: lakehouse
o: lastfm lakehouse

dn: {PEOPLE}
objectClass: organizationalUnit
ou: people

dn: {GROUPS}
objectClass: organizationalUnit
ou: groups

dn: {SERVER}
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: lakehouse-server
userPassword: {ssha(server_password)}
""",
        ["-c"],
    )
    for user, password in passwords.items():
        dn = directory.user_dn(user)
        ldap_tool(
            directory,
            "ldapadd",
            f"dn: {dn}\nobjectClass: inetOrgPerson\nuid: {user}\ncn: {user}\nsn: {user}\n"
            f"userPassword: {ssha(password)}\n",
            ["-c"],
        )
        set_password(directory, dn, password)
    set_password(directory, SERVER, server_password)
    for group, users in directory.groups.items():
        name = group.split(",")[0].removeprefix("cn=")
        members = "".join(f"member: {directory.user_dn(user)}\n" for user in dict.fromkeys(users))
        ldap_tool(
            directory, "ldapadd", f"dn: {group}\nobjectClass: groupOfNames\ncn: {name}\n{members}", ["-c"]
        )
        ldap_tool(directory, "ldapmodify", f"dn: {group}\nchangetype: modify\nreplace: member\n{members}")


def set_password(directory: Directory, dn: str, password: str) -> None:
    ldap_tool(
        directory,
        "ldapmodify",
        f"dn: {dn}\nchangetype: modify\nreplace: userPassword\nuserPassword: {ssha(password)}\n",
    )


def up(directory: Directory) -> None:
    ensure_packages()
    admin_password = credentials.secret(credentials.LDAP_ADMIN_PASSWORD, home=directory.lakehouse)
    passwords = {
        user: credentials.secret(
            credentials.password_file(user), os.environ.get(variable) or None, home=directory.lakehouse
        )
        for user, variable in (
            (directory.user, "LAKEHOUSE_BI_PASSWORD"),
            (directory.builder, "LAKEHOUSE_BUILDER_PASSWORD"),
            (directory.analyst, "LAKEHOUSE_ANALYST_PASSWORD"),
        )
    }
    server_password = credentials.secret(credentials.LDAP_SERVER_PASSWORD, home=directory.lakehouse)
    if running_pid(directory) is not None and MEMBEROF_MARK not in read_config(directory):
        print(
            "LDAP directory: its configuration changed (memberOf for Superset): restarting slapd", flush=True
        )
        down(directory)
    if running_pid(directory) is None:
        if port_open(LOOPBACK, directory.port):
            raise DirectoryError(
                f"127.0.0.1:{directory.port} is already in use by another program; "
                "set LAKEHOUSE_LDAP_PORT to a free port"
            )
        directory.home.mkdir(parents=True, exist_ok=True)
        write_config(directory, ssha(admin_password))
        directory.log.parent.mkdir(parents=True, exist_ok=True)
        with directory.log.open("ab") as log:
            # slapd forks into the background once it listens
            started = subprocess.run(
                [slapd_binary(), "-f", str(directory.config), "-h", f"{directory.url}/"],
                stdout=log,
                stderr=subprocess.STDOUT,
                check=False,
            )
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not port_open(LOOPBACK, directory.port):
            if started.returncode != 0 or time.monotonic() > deadline:
                raise DirectoryError(f"slapd did not start on {directory.url}; see {directory.log}")
            time.sleep(0.2)
    seed(directory, passwords, server_password)
    secrets = credentials.secrets_dir(directory.lakehouse)
    print(
        f"LDAP directory up on {directory.url}: reader {directory.user}, builder {directory.builder} "
        f"and SQL Lab analyst {directory.analyst} under {PEOPLE}, passwords in {secrets}/<user>.password",
        flush=True,
    )


def down(directory: Directory) -> None:
    service(directory).stop()


def main(argv: list[str] | None = None) -> int:
    args = commands.parse(
        "lastfm_lakehouse.serving.directory", __doc__, ("up", "down", "status", "password"), argv
    )
    directory = Directory.from_env()

    def act() -> int:
        if args.command == "up":
            up(directory)
        elif args.command == "down":
            down(directory)
        elif args.command == "status":
            pid = running_pid(directory)
            print(f"LDAP directory {'up (pid ' + str(pid) + ')' if pid else 'down'} on {directory.url}")
            return 0 if pid else 1
        else:
            print(credentials.secret(credentials.password_file(directory.user), home=directory.lakehouse))
        return 0

    return commands.run(act, (DirectoryError, subprocess.CalledProcessError))


if __name__ == "__main__":
    raise SystemExit(main())
