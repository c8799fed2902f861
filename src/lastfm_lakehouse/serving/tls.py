"""TLS on the Thrift endpoint: the server's keystore and what clients trust.

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

Clients verify the certificate and the host name (``client_context``); nothing here turns
verification off.
"""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lastfm_lakehouse.serving import commands, credentials, jvm
from lastfm_lakehouse.settings import env_number, lakehouse_home

ALIAS = "lakehouse-thrift"
VALIDITY_DAYS = 825  # the longest validity clients such as browsers and macOS accept
TRUSTSTORE_PASSWORD = "lakehouse-public"
ON = ("on", "true", "1", "yes")


class TlsError(RuntimeError):
    """The keystore could not be made or read; the message says which file and why."""


def enabled() -> bool:
    """``LAKEHOUSE_SERVER_TLS`` asks for TLS on the Thrift port."""
    return os.environ.get("LAKEHOUSE_SERVER_TLS", "off").strip().lower() in ON


@dataclass(frozen=True)
class TlsFiles:
    keystore: Path
    keystore_password_file: Path
    certificate: Path
    truststore: Path

    @classmethod
    def from_env(cls, home: Path | None = None) -> TlsFiles:
        home = home or lakehouse_home()
        folder = home / "tls"
        keystore = os.environ.get("LAKEHOUSE_TLS_KEYSTORE", "").strip()
        password_file = os.environ.get("LAKEHOUSE_TLS_KEYSTORE_PASSWORD_FILE", "").strip()
        certificate = os.environ.get("LAKEHOUSE_TLS_CA", "").strip()
        return cls(
            keystore=Path(keystore) if keystore else folder / "server.p12",
            keystore_password_file=(
                Path(password_file)
                if password_file
                else credentials.secrets_dir(home) / credentials.KEYSTORE_PASSWORD
            ),
            certificate=Path(certificate) if certificate else folder / "server.pem",
            truststore=folder / "truststore.p12",
        )

    @property
    def admin_supplied(self) -> bool:
        return bool(os.environ.get("LAKEHOUSE_TLS_KEYSTORE", "").strip())

    def keystore_password(self) -> str:
        try:
            return self.keystore_password_file.read_text().strip()
        except FileNotFoundError:
            raise TlsError(
                f"no password for the keystore {self.keystore}: {self.keystore_password_file} is missing"
            ) from None


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


def client_context(files: TlsFiles | None = None) -> ssl.SSLContext:
    """A context that trusts the server's certificate (``LAKEHOUSE_TLS_CA`` or ``server.pem``) and
    checks the host name."""
    files = files or TlsFiles.from_env()
    if not files.certificate.is_file():
        raise TlsError(
            f"TLS is on but the certificate to trust is missing: {files.certificate} "
            "(run `make tls`, or set LAKEHOUSE_TLS_CA to the server's certificate or its CA, PEM)"
        )
    return ssl.create_default_context(cafile=str(files.certificate))


def hive_transport(
    host: str,
    port: int,
    username: str | None,
    password: str | None,
    auth: str | None,
    files: TlsFiles | None = None,
) -> Any:
    """A verified TLS Thrift transport with SASL PLAIN on top, for PyHive's
    ``hive.connect(thrift_transport=...)``: PyHive's own ``host=`` path has no TLS, and
    dbt-spark's ``use_ssl`` skips verification."""
    import thrift_sasl
    from pyhive.hive import get_installed_sasl
    from thrift.transport.TSSLSocket import TSSLSocket

    # A loopback address is verified against the certificate's "localhost" name.
    server_name = "localhost" if host in ("127.0.0.1", "::1") else host
    sock = TSSLSocket(host, port, ssl_context=client_context(files), server_hostname=server_name)
    user = username or "anonymous"
    secret = password if (auth or "NONE").upper() in ("LDAP", "CUSTOM") and password else "x"
    return thrift_sasl.TSaslClientTransport(
        lambda: get_installed_sasl(host=host, sasl_auth="PLAIN", username=user, password=secret),
        "PLAIN",
        sock,
    )


def handshake_failure(host: str, port: int, files: TlsFiles | None = None) -> str | None:
    """Why a TLS handshake with host:port fails (e.g. the certificate does not verify), or None.
    Thrift's socket reports any such failure as "could not connect": clients call this to say why."""
    try:
        with socket.create_connection((host, port), timeout=10) as plain:
            server_name = "localhost" if host in ("127.0.0.1", "::1") else host
            with client_context(files).wrap_socket(plain, server_hostname=server_name):
                return None
    except ssl.SSLError as exc:
        return f"TLS handshake with {host}:{port} failed: {exc}"
    except OSError:
        return None  # not a TLS problem (nothing listening, network): the caller's own error says it


def beeline_url(host: str, port: int, files: TlsFiles | None = None) -> str:
    """The JDBC URL for beeline and JDBC tools (the truststore holds only the public certificate)."""
    files = files or TlsFiles.from_env()
    return (
        f"jdbc:hive2://{host}:{port}/;ssl=true;sslTrustStore={files.truststore};"
        f"trustStorePassword={TRUSTSTORE_PASSWORD}"
    )


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
