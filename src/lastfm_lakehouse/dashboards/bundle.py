"""The checked-in Superset export (``superset/``: databases, datasets, charts, dashboards as YAML)
turned into the zip Superset's import API takes, with the database pointed at this lakehouse's
Thrift server."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from urllib.parse import quote

import yaml

EXPORT_DIR = Path(__file__).parent / "superset"
BUNDLE_ROOT = "lakehouse_dashboards"
DATABASE_FILE = "databases/lakehouse.yaml"


# What Superset's exports write in place of a database password. An import keeps the password it is
# given (or already has) only when the URL holds this mask: a URL without one sets it to none.
PASSWORD_MASK = "X" * 10


def sqlalchemy_uri(host: str, port: int, schema: str, user: str | None = None, ldap: bool = False) -> str:
    """PyHive's ``hive://`` URL for the Thrift server (Superset's "Apache Spark SQL" engine). With
    LDAP the password is masked in it: Superset keeps it encrypted, given at import."""
    credentials = f"{quote(user, safe='')}{':' + PASSWORD_MASK if ldap else ''}@" if user else ""
    query = "?auth=LDAP" if ldap else ""
    return f"hive://{credentials}{host}:{port}/{schema}{query}"


def export_files(export_dir: Path = EXPORT_DIR) -> dict[str, str]:
    """Every YAML file of the export, by its path inside the bundle."""
    files = {
        path.relative_to(export_dir).as_posix(): path.read_text()
        for path in sorted(export_dir.rglob("*.yaml"))
    }
    if "metadata.yaml" not in files or DATABASE_FILE not in files:
        raise FileNotFoundError(f"{export_dir} is not a Superset export: no metadata.yaml or {DATABASE_FILE}")
    return files


def build(uri: str, export_dir: Path = EXPORT_DIR) -> bytes:
    """The zip to POST to /api/v1/assets/import/, its database's URL set to ``uri``."""
    files = export_files(export_dir)
    database = yaml.safe_load(files[DATABASE_FILE])
    database["sqlalchemy_uri"] = uri
    files[DATABASE_FILE] = yaml.safe_dump(database, sort_keys=False)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(f"{BUNDLE_ROOT}/{name}", text)
    return buffer.getvalue()


def dashboards(export_dir: Path = EXPORT_DIR) -> dict[str, dict]:
    """The dashboards of the export by slug."""
    found = {}
    for path in sorted((export_dir / "dashboards").glob("*.yaml")):
        config = yaml.safe_load(path.read_text())
        found[config["slug"]] = config
    return found


def database_name(export_dir: Path = EXPORT_DIR) -> str:
    """The name the export gives the lakehouse's database in Superset."""
    return yaml.safe_load((export_dir / DATABASE_FILE).read_text())["database_name"]
