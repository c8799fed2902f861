"""Names, paths and defaults, defined once.

Everything a reader needs to know about the contract between the Python code, the dbt project and
the Makefile lives here: file names of the raw dataset, environment variables that override
defaults, and the Spark sizing used on the 2-core / 24 GB machines this project targets.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# --- the raw dataset -------------------------------------------------------------------------
PLAYS_FILE = "usersha1-artmbid-artname-plays.tsv"
PROFILES_FILE = "usersha1-profile.tsv"
RAW_FILES = (PLAYS_FILE, PROFILES_FILE)
PLAYS_FIELDS = ("user_sha1", "artist_mbid", "artist_name", "plays")
PROFILE_FIELDS = ("user_sha1", "gender", "age", "country", "signup")
# Published line counts of the original files (see ../shared/data/lastfm360k-real/STATS.md).
FULL_PLAYS_LINES = 17_559_530
FULL_USERS = 359_347

# --- environment variables -------------------------------------------------------------------
ENV_LAKEHOUSE_HOME = "LAKEHOUSE_HOME"
ENV_RAW_DIR = "LASTFM_RAW_DIR"
ENV_TABLE_FORMAT = "LASTFM_TABLE_FORMAT"
ENV_SPARK_MASTER = "LAKEHOUSE_SPARK_MASTER"
ENV_DRIVER_MEMORY = "LAKEHOUSE_DRIVER_MEMORY"
ENV_SHUFFLE_PARTITIONS = "LAKEHOUSE_SHUFFLE_PARTITIONS"
ENV_DELTA_JARS_DIR = "LAKEHOUSE_DELTA_JARS_DIR"
ENV_METASTORE_URL = "LAKEHOUSE_METASTORE_URL"
ENV_METASTORE_USER = "LAKEHOUSE_METASTORE_USER"
ENV_METASTORE_PASSWORD = "LAKEHOUSE_METASTORE_PASSWORD"
ENV_JDBC_JARS = "LAKEHOUSE_JDBC_JARS"
ENV_SCHEDULER_MODE = "LAKEHOUSE_SCHEDULER_MODE"

# --- defaults --------------------------------------------------------------------------------
TABLE_FORMATS = ("parquet", "delta")
# Delta Lake (jars fetched by `make setup`: lastfm_lakehouse.delta_jars); parquet builds without them.
DEFAULT_TABLE_FORMAT = "delta"
DEFAULT_SPARK_MASTER = "local[*]"
# 24 GB machine: leave room for the Python driver, page cache and the OS.
DEFAULT_DRIVER_MEMORY = "12g"
# 2 cores: a handful of shuffle partitions; adaptive execution coalesces further.
DEFAULT_SHUFFLE_PARTITIONS = 8
# How Spark shares the cores between jobs that run at once (dbt's threads, BI sessions): FAIR, job
# by job, or FIFO (Spark's default: a big job holds the cores until its last stage is scheduled).
SCHEDULER_MODES = ("FAIR", "FIFO")
DEFAULT_SCHEDULER_MODE = "FAIR"
# Users in the dataset `make build` generates when no real files are present.
DEFAULT_GENERATED_USERS = 2_000
DEFAULT_GENERATOR_SEED = 360
# Debian's libpostgresql-jdbc-java puts the PostgreSQL JDBC driver here.
DEFAULT_JDBC_JARS = "/usr/share/java/postgresql.jar"


def repo_root() -> Path:
    """The checkout this package was installed from (editable install, see Makefile)."""
    return Path(__file__).resolve().parents[2]


def lakehouse_home() -> Path:
    """Warehouse, metastore and logs: ``$LAKEHOUSE_HOME`` or ``.lakehouse/`` at the repo root."""
    configured = os.environ.get(ENV_LAKEHOUSE_HOME, "").strip()
    return Path(configured).expanduser().resolve() if configured else repo_root() / ".lakehouse"


def default_raw_dir() -> Path:
    return repo_root() / "data" / "raw"


def generated_raw_dir() -> Path:
    return repo_root() / "data" / "generated"


@dataclass(frozen=True)
class SparkSettings:
    """How the embedded SparkSession is sized and where it keeps its state."""

    home: Path
    master: str = DEFAULT_SPARK_MASTER
    driver_memory: str = DEFAULT_DRIVER_MEMORY
    shuffle_partitions: int = DEFAULT_SHUFFLE_PARTITIONS
    table_format: str = DEFAULT_TABLE_FORMAT
    delta_jars_dir: Path | None = None
    # None: embedded Derby under ``home`` (one JVM at a time); else a JDBC URL (PostgreSQL).
    metastore_url: str | None = None
    metastore_user: str = "hive"
    metastore_password: str = "hive"
    jdbc_jars: str = DEFAULT_JDBC_JARS
    scheduler_mode: str = DEFAULT_SCHEDULER_MODE

    def __post_init__(self) -> None:
        if self.scheduler_mode not in SCHEDULER_MODES:
            raise ValueError(
                f"scheduler_mode must be one of {', '.join(SCHEDULER_MODES)}, got {self.scheduler_mode!r} "
                f"(set {ENV_SCHEDULER_MODE})"
            )
        if self.table_format not in TABLE_FORMATS:
            raise ValueError(
                f"table_format must be one of {', '.join(TABLE_FORMATS)}, got {self.table_format!r} "
                f"(set {ENV_TABLE_FORMAT} or the profile's table_format)"
            )
        if self.shuffle_partitions < 1:
            raise ValueError(f"shuffle_partitions must be >= 1, got {self.shuffle_partitions}")
        if self.delta_jars_dir is not None and not self.delta_jars_dir.is_dir():
            raise ValueError(f"{ENV_DELTA_JARS_DIR}={self.delta_jars_dir} is not a directory")

    @property
    def warehouse_dir(self) -> Path:
        return self.home / "warehouse"

    @property
    def metastore_dir(self) -> Path:
        return self.home / "metastore_db"

    @property
    def metastore_description(self) -> str:
        return self.metastore_url or f"embedded Derby at {self.metastore_dir}"

    @classmethod
    def from_env(cls, **overrides: object) -> SparkSettings:
        """Defaults, then environment variables, then explicit (non-empty) overrides."""
        jars = os.environ.get(ENV_DELTA_JARS_DIR, "").strip()
        values: dict[str, object] = {
            "home": lakehouse_home(),
            "master": os.environ.get(ENV_SPARK_MASTER, "").strip() or DEFAULT_SPARK_MASTER,
            "driver_memory": os.environ.get(ENV_DRIVER_MEMORY, "").strip() or DEFAULT_DRIVER_MEMORY,
            "shuffle_partitions": env_number(ENV_SHUFFLE_PARTITIONS, DEFAULT_SHUFFLE_PARTITIONS, int),
            "table_format": os.environ.get(ENV_TABLE_FORMAT, "").strip().lower() or DEFAULT_TABLE_FORMAT,
            "delta_jars_dir": Path(jars).expanduser().resolve() if jars else None,
            "metastore_url": os.environ.get(ENV_METASTORE_URL, "").strip() or None,
            "metastore_user": os.environ.get(ENV_METASTORE_USER, "").strip() or "hive",
            "metastore_password": os.environ.get(ENV_METASTORE_PASSWORD, "").strip() or "hive",
            "jdbc_jars": os.environ.get(ENV_JDBC_JARS, "").strip() or DEFAULT_JDBC_JARS,
            "scheduler_mode": os.environ.get(ENV_SCHEDULER_MODE, "").strip().upper()
            or DEFAULT_SCHEDULER_MODE,
        }
        values.update({key: value for key, value in overrides.items() if value not in (None, "")})
        for key in ("home", "delta_jars_dir"):
            if isinstance(values[key], str):
                values[key] = Path(str(values[key])).expanduser().resolve()
        values["shuffle_partitions"] = int(str(values["shuffle_partitions"]))
        return cls(**values)  # type: ignore[arg-type]


def env_number(name: str, default: int | float | str, kind: type[int] | type[float] = int) -> int | float:
    """The number in environment variable ``name`` (``default`` when unset or blank), or a ValueError
    that names the variable and its value (a bare ``int()`` said only "invalid literal")."""
    text = os.environ.get(name, "").strip() or str(default)
    try:
        return kind(text)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise ValueError(f"{name}={text!r} is not {what}") from None


# --- column names shared by the dbt models and the recommenders -------------------------------
USER_KEY = "user_key"
ARTIST_KEY = "artist_key"
RATING = "rating"
FACTORS = "factors"
SCORE = "score"
RANK = "rank"
