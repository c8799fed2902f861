"""Delta Lake's JVM side: the two jars that match the installed ``delta-spark`` wheel, fetched once.

    python -m lastfm_lakehouse.delta_jars fetch|where   (``make setup`` runs ``fetch``)

The ``delta-spark`` wheel holds only Delta's Python API; its JVM code is on Maven Central as
``io.delta:delta-spark_<spark major.minor>_2.13`` (the name delta-spark's own
``configure_spark_with_delta_pip`` builds) and ``io.delta:delta-storage``, both at the wheel's
version. ``fetch`` copies exactly those two with Maven (``mvn dependency:copy``, which keeps its own
cache in ``~/.m2``) into a folder of the virtualenv, beside the wheel they must match, so that builds,
the server, the tests and CI start without the network afterwards. Spark's own resolution
(``spark.jars.packages``) would pull 33 jars (86 MB), some of them second copies of Spark's own
(Hadoop client, Parquet); the two jars are all Delta needs on Spark 4.2.

``LAKEHOUSE_DELTA_JARS_DIR`` points at another folder holding the two jars (a machine without
Maven Central: copy them there).
"""

from __future__ import annotations

import importlib.metadata
import subprocess
from dataclasses import dataclass
from pathlib import Path

from lastfm_lakehouse import maven
from lastfm_lakehouse.settings import ENV_DELTA_JARS_DIR, ENV_TABLE_FORMAT

SCALA = "2.13"
GROUP = "io.delta"


class DeltaJarsMissing(RuntimeError):
    """Delta's jars are not where they should be; the message says how to get them or do without."""


@dataclass(frozen=True)
class DeltaRelease:
    """The Delta release the installed wheel belongs to, for the installed Spark."""

    version: str
    spark_version: str

    @classmethod
    def installed(cls) -> DeltaRelease:
        return cls(importlib.metadata.version("delta-spark"), importlib.metadata.version("pyspark"))

    @property
    def spark_artifact(self) -> str:
        major_minor = ".".join(self.spark_version.split(".")[:2])
        return f"delta-spark_{major_minor}_{SCALA}"

    @property
    def artifacts(self) -> tuple[str, ...]:
        return (self.spark_artifact, "delta-storage")

    @property
    def coordinates(self) -> tuple[str, ...]:
        return tuple(f"{GROUP}:{artifact}:{self.version}" for artifact in self.artifacts)

    @property
    def jar_names(self) -> tuple[str, ...]:
        return tuple(f"{artifact}-{self.version}.jar" for artifact in self.artifacts)

    def default_dir(self) -> Path:
        """Beside the wheel they match: ``<virtualenv>/share/lastfm-lakehouse/delta-<version>``."""
        return maven.share_dir() / f"delta-{self.version}"


def fallback_hint() -> str:
    return f"or build on Parquet without Delta: {ENV_TABLE_FORMAT}=parquet"


def jars(configured_dir: Path | None, release: DeltaRelease | None = None) -> list[str]:
    """The Delta jars to put on Spark's class path: every ``*.jar`` of ``configured_dir``
    (``LAKEHOUSE_DELTA_JARS_DIR``), else the two of the installed release in its default folder."""
    release = release or DeltaRelease.installed()
    if configured_dir is not None:
        found = sorted(str(p) for p in configured_dir.glob("*.jar"))
        if not found:
            raise DeltaJarsMissing(
                f"no *.jar files in {ENV_DELTA_JARS_DIR}={configured_dir}: put "
                f"{' and '.join(release.jar_names)} there, {fallback_hint()}"
            )
        return found
    folder = release.default_dir()
    missing = [name for name in release.jar_names if not (folder / name).is_file()]
    if missing:
        raise DeltaJarsMissing(
            f"Delta Lake's jars for delta-spark {release.version} are not in {folder} (missing: "
            f"{', '.join(missing)}). Run `make setup` (fetches them from Maven Central with mvn), "
            f"or set {ENV_DELTA_JARS_DIR} to a folder holding them, {fallback_hint()}"
        )
    return [str(folder / name) for name in release.jar_names]


def fetch(release: DeltaRelease | None = None, destination: Path | None = None) -> Path:
    """The release's two jars in ``destination`` (its default folder), copied by Maven unless
    already there (``maven.copy``: a failed fetch leaves no folder that looks complete)."""
    release = release or DeltaRelease.installed()
    destination = destination or release.default_dir()
    if all((destination / name).is_file() for name in release.jar_names):
        return destination
    instead = f"copy {' and '.join(release.jar_names)} into {destination}, {fallback_hint()}"
    try:
        return maven.copy(release.coordinates, destination, instead)
    except maven.FetchFailed as exc:
        raise DeltaJarsMissing(str(exc)) from exc


def main(argv: list[str] | None = None) -> int:
    from lastfm_lakehouse import commands

    args = commands.parse("lastfm_lakehouse.delta_jars", __doc__, ("fetch", "where"), argv)
    release = DeltaRelease.installed()

    def act() -> int:
        if args.command == "where":
            print("\n".join(jars(None, release)))
            return 0
        folder = fetch(release)
        print(f"Delta Lake {release.version} for Spark {release.spark_version}: {folder}")
        return 0

    return commands.run(act, (DeltaJarsMissing, subprocess.TimeoutExpired))


if __name__ == "__main__":
    raise SystemExit(main())
