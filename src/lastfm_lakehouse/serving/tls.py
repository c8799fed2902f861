"""TLS on the Thrift endpoint: the server's keystore (what clients trust is ``access.trust``).

    python -m lastfm_lakehouse.serving.tls create|show     (make tls)

With ``LAKEHOUSE_SERVER_TLS=on`` the server speaks TLS only on its Thrift port (HiveServer2's
``hive.server2.use.SSL``); a plain-text client is refused. The keystore is either the admin's
(``LAKEHOUSE_TLS_KEYSTORE``, a PKCS#12 or JKS file, with its password in the file
``LAKEHOUSE_TLS_KEYSTORE_PASSWORD_FILE``, and the certificate clients should trust, PEM, in
``LAKEHOUSE_TLS_CA``) or one ``create`` makes with the JDK's ``keytool`` under
``$LAKEHOUSE_HOME/tls/``:

* ``server.p12``: a self-signed RSA key and certificate for ``localhost``, ``127.0.0.1`` and this
  host's names (mode 600; its password is ``$LAKEHOUSE_HOME/secrets/keystore.password``);
* ``server.pem``: that certificate alone, for Python clients (PyHive, dbt);
* ``truststore.p12``: the same certificate as a Java truststore, for beeline and JDBC tools
  (``;ssl=true;sslTrustStore=...;trustStorePassword=...``). It holds nothing secret: its password
  (``TRUSTSTORE_PASSWORD``) only satisfies the format.

What clients trust and how they verify it (``TlsFiles``, ``client_context``) is in
``lastfm_lakehouse.access.trust``; nothing turns verification off.
"""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

from lastfm_lakehouse import commands
from lastfm_lakehouse.access import credentials
from lastfm_lakehouse.access.trust import TRUSTSTORE_PASSWORD, TlsError, TlsFiles, beeline_url
from lastfm_lakehouse.serving import jvm
from lastfm_lakehouse.settings import env_number

ALIAS = "lakehouse-thrift"
VALIDITY_DAYS = 825  # the longest validity clients such as browsers and macOS accept


def host_names(bind_host: str) -> list[str]:
    """Subject alternative names: loopback, this machine's names and the address the server binds."""
    names = ["dns:localhost", "ip:127.0.0.1"]
    for name in {socket.gethostname(), socket.getfqdn()}:
        if name and name != "localhost":
            names.append(f"dns:{name}")
    if bind_host not in ("0.0.0.0", "127.0.0.1", "localhost", "::", "::1", ""):
        kind = "ip" if bind_host.replace(".", "").isdigit() or ":" in bind_host else "dns"
        names.append(f"{kind}:{bind_host}")
    return list(dict.fromkeys(names))


def keytool() -> str:
    found = jvm.jdk_tool("keytool")
    if not found:
        raise TlsError("keytool (from the JDK) is not on PATH: run `make java` or set JAVA_HOME")
    return found


def run_keytool(args: list[str], password_files: dict[str, Path]) -> None:
    """Passwords reach keytool through ``:file`` options, never on its command line."""
    for option, path in password_files.items():
        args += [f"{option}:file", str(path)]
    result = subprocess.run([keytool(), *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise TlsError(f"keytool {args[0]} failed: {(result.stderr or result.stdout).strip()[-800:]}")


def create(files: TlsFiles, bind_host: str = "127.0.0.1", force: bool = False) -> bool:
    """Make the self-signed keystore, certificate and truststore unless they exist (or ``force``).
    True when it made them."""
    if files.admin_supplied:
        missing = [
            p for p in (files.keystore, files.keystore_password_file, files.certificate) if not p.is_file()
        ]
        if missing:
            raise TlsError(
                "LAKEHOUSE_TLS_KEYSTORE is set but these files are missing: "
                + ", ".join(str(p) for p in missing)
                + " (LAKEHOUSE_TLS_KEYSTORE_PASSWORD_FILE and LAKEHOUSE_TLS_CA name the last two)"
            )
        return False
    if not force and all(p.is_file() for p in (files.keystore, files.certificate, files.truststore)):
        return False
    folder = files.keystore.parent
    folder.mkdir(parents=True, exist_ok=True)  # readable: clients anywhere need the certificate
    for path in (files.keystore, files.certificate, files.truststore):
        path.unlink(missing_ok=True)
    home = files.keystore_password_file.parent.parent
    credentials.secret(files.keystore_password_file.name, os.urandom(18).hex(), home=home)
    store = {"-storepass": files.keystore_password_file}
    private = os.umask(0o077)  # the keystore is born readable by its owner alone
    try:
        run_keytool(
            [
                "-genkeypair",
                "-alias", ALIAS,
                "-keyalg", "RSA",
                "-keysize", "2048",
                "-validity", str(VALIDITY_DAYS),
                "-dname", "CN=localhost, OU=lastfm-lakehouse",
                "-ext", "SAN=" + ",".join(host_names(bind_host)),
                "-storetype", "PKCS12",
                "-keystore", str(files.keystore),
            ],
            {**store, "-keypass": files.keystore_password_file},
        )  # fmt: skip
    finally:
        os.umask(private)
    files.keystore.chmod(0o600)
    run_keytool(
        [
            "-exportcert",
            "-rfc",
            "-alias",
            ALIAS,
            "-keystore",
            str(files.keystore),
            "-file",
            str(files.certificate),
        ],
        store,
    )
    public = folder / ".truststore.password"
    public.write_text(TRUSTSTORE_PASSWORD)
    try:
        run_keytool(
            [
                "-importcert", "-noprompt",
                "-alias", ALIAS,
                "-file", str(files.certificate),
                "-storetype", "PKCS12",
                "-keystore", str(files.truststore),
            ],
            {"-storepass": public},
        )  # fmt: skip
    finally:
        public.unlink(missing_ok=True)
    return True


def server_conf(files: TlsFiles) -> dict[str, str]:
    """HiveServer2's TLS settings (Spark redacts ``*password*`` values in its UI and logs)."""
    if not files.keystore.is_file():
        raise TlsError(
            f"LAKEHOUSE_SERVER_TLS is on but there is no keystore at {files.keystore}: run `make tls`"
        )
    return {
        "spark.hadoop.hive.server2.use.SSL": "true",
        "spark.hadoop.hive.server2.keystore.path": str(files.keystore),
        "spark.hadoop.hive.server2.keystore.password": files.keystore_password(),
    }


def main(argv: list[str] | None = None) -> int:
    args = commands.parse(
        "lastfm_lakehouse.serving.tls",
        __doc__,
        ("create", "show"),
        argv,
        lambda parser: parser.add_argument(
            "--force", action="store_true", help="replace an existing generated keystore"
        ),
    )
    files = TlsFiles.from_env()

    def act() -> int:
        if args.command == "create":
            made = create(files, os.environ.get("LAKEHOUSE_SERVER_HOST", "127.0.0.1"), force=args.force)
            print(("created" if made else "kept") + f" the Thrift keystore {files.keystore}")
        print(f"clients trust {files.certificate} (PEM) or {files.truststore} (Java truststore)")
        port = int(env_number("LAKEHOUSE_THRIFT_PORT", 10000))
        print(f"beeline -u '{beeline_url('localhost', port, files)}'")
        return 0

    return commands.run(act, (TlsError,))


if __name__ == "__main__":
    raise SystemExit(main())
