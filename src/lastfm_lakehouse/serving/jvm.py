"""The server's own JVM code, a Java source tree in Maven's layout (``serving/jvm/src/main/java``,
its JUnit tests in ``serving/jvm/src/test/java``), compiled with the JDK's ``javac`` against the
jars of the installed pyspark.

    python -m lastfm_lakehouse.serving.jvm test     (``make setup`` runs it: fetches JUnit, compiles
                                                     the sources and their tests, runs the tests)

The server compiles the main sources at start into ``$LAKEHOUSE_HOME/jars/lakehouse-serving-<source
hash>.jar`` and reuses it while the sources do not change; without a JDK it runs without them and
says so. Compiled with ``javac``, not with a Maven build: the code must link against exactly the
Spark jars the server runs (pyspark's), which a ``pom.xml`` would fetch again from Maven Central as a
second copy of Spark and its dependencies (hundreds of MB). Maven fetches only JUnit's console
launcher (``lastfm_lakehouse.maven``); the tests run through Spark's own ``spark-class``, which puts
Spark's jars and the JVM options Spark needs on Java 17 on the command line.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from lastfm_lakehouse import maven

TREE = Path(__file__).parent / "jvm" / "src"
SOURCES = TREE / "main" / "java"
TEST_SOURCES = TREE / "test" / "java"
CACHING_CATALOG = "lakehouse.CachingSessionCatalog"
EXTENSIONS = "lakehouse.LakehouseExtensions"
JUNIT_VERSION = "6.1.3"
JUNIT = f"org.junit.platform:junit-platform-console-standalone:{JUNIT_VERSION}"
JUNIT_JAR = f"junit-platform-console-standalone-{JUNIT_VERSION}.jar"
TEST_TIMEOUT_SECONDS = 600


class JvmBuildFailed(RuntimeError):
    """No JDK, javac refused the sources, JUnit could not be fetched, or a unit test failed."""


def jdk_tool(name: str) -> str | None:
    java_home = os.environ.get("JAVA_HOME", "").strip()
    candidate = Path(java_home) / "bin" / name if java_home else None
    return str(candidate) if candidate and candidate.is_file() else shutil.which(name)


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent


def compile_sources(roots: list[Path], out: Path, class_path: list[str]) -> None:
    """Every ``*.java`` under ``roots`` compiled into ``out`` (Java 17 bytecode)."""
    javac = jdk_tool("javac")
    if not javac:
        raise JvmBuildFailed("no javac (a JDK, e.g. openjdk-17-jdk-headless) to compile serving/jvm/")
    sources = [str(path) for root in roots for path in sorted(root.rglob("*.java"))]
    compiled = subprocess.run(
        [javac, "--release", "17", "-nowarn", "-cp", ":".join(class_path), "-d", str(out), *sources],
        capture_output=True,
        text=True,
        check=False,
    )
    if compiled.returncode != 0:
        raise JvmBuildFailed(f"javac failed: {(compiled.stderr or compiled.stdout).strip()[-1500:]}")


def serving_jar(home: Path) -> tuple[Path | None, str]:
    """The compiled jar, or None and why not."""
    sources = sorted(SOURCES.rglob("*.java"))
    digest = hashlib.sha256(b"".join(s.read_bytes() for s in sources)).hexdigest()[:12]
    jar = home / "jars" / f"lakehouse-serving-{digest}.jar"
    if jar.is_file():
        jar.touch()  # the newest jar is the one every session puts on its class path (spark_session)
        return jar, f"reused {jar}"
    jar_tool = jdk_tool("jar")
    if not jar_tool:
        return None, "no jar tool (a JDK, e.g. openjdk-17-jdk-headless) to package serving/jvm/"
    with tempfile.TemporaryDirectory(prefix="lakehouse-jvm-") as build:
        try:
            compile_sources([SOURCES], Path(build), [f"{spark_home() / 'jars'}/*"])
        except JvmBuildFailed as exc:
            return None, str(exc)
        jar.parent.mkdir(parents=True, exist_ok=True)
        partial = jar.with_suffix(".partial")
        packed = subprocess.run(
            [jar_tool, "cf", str(partial), "-C", build, "."], capture_output=True, text=True, check=False
        )
        if packed.returncode != 0:
            return None, f"jar failed: {packed.stderr.strip()[-800:]}"
        partial.replace(jar)
    return jar, f"compiled {jar}"


def junit_jar() -> Path:
    """JUnit's console launcher, fetched once from Maven Central into the virtualenv."""
    folder = maven.share_dir() / f"junit-{JUNIT_VERSION}"
    if not (folder / JUNIT_JAR).is_file():
        try:
            maven.copy((JUNIT,), folder, f"or copy {JUNIT_JAR} into {folder}")
        except maven.FetchFailed as exc:
            raise JvmBuildFailed(str(exc)) from exc
    return folder / JUNIT_JAR


def unit_tests() -> tuple[int, str]:
    """Compile the sources and their tests, and run the tests: (tests that succeeded, JUnit's
    report). A failed test, or a run that found no test, raises JvmBuildFailed with the report."""
    junit = junit_jar()
    with tempfile.TemporaryDirectory(prefix="lakehouse-jvm-tests-") as build:
        classes = Path(build) / "classes"
        compile_sources([SOURCES, TEST_SOURCES], classes, [f"{spark_home() / 'jars'}/*", str(junit)])
        ran = subprocess.run(
            [
                str(spark_home() / "bin" / "spark-class"),
                "org.junit.platform.console.ConsoleLauncher",
                "execute",
                "--disable-banner",
                "--disable-ansi-colors",
                "--details=tree",
                f"--scan-class-path={classes}",
            ],
            # spark-class: Spark's jars and module options; these two after them on the class path
            env={**os.environ, "SPARK_DIST_CLASSPATH": f"{classes}:{junit}"},
            capture_output=True,
            text=True,
            timeout=TEST_TIMEOUT_SECONDS,
            check=False,
            cwd=build,
        )
    report = ran.stdout.strip()
    succeeded = re.search(r"\[\s*(\d+) tests successful\s*\]", report)
    if ran.returncode != 0 or not succeeded or int(succeeded.group(1)) == 0:
        raise JvmBuildFailed(
            f"the server's JVM unit tests failed (exit {ran.returncode}):\n{report[-6000:]}\n"
            f"{ran.stderr.strip()[-2000:]}"
        )
    return int(succeeded.group(1)), report


def main(argv: list[str] | None = None) -> int:
    from lastfm_lakehouse import commands

    commands.parse("lastfm_lakehouse.serving.jvm", __doc__, ("test",), argv)

    def act() -> int:
        passed, report = unit_tests()
        print(report)
        print(f"the server's JVM code: {passed} unit tests passed")
        return 0

    return commands.run(act, (JvmBuildFailed,))


if __name__ == "__main__":
    raise SystemExit(main())
