"""The server's own JVM code (``serving/jvm/``): compiled with the JDK's ``javac`` against pyspark's
jars at server start, into ``$LAKEHOUSE_HOME/jars/lakehouse-serving-<source hash>.jar``, and
reused while the sources do not change. Without a JDK the server runs without it and says so."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

SOURCES = Path(__file__).parent / "jvm"
CACHING_CATALOG = "lakehouse.CachingSessionCatalog"
EXTENSIONS = "lakehouse.LakehouseExtensions"


def jdk_tool(name: str) -> str | None:
    java_home = os.environ.get("JAVA_HOME", "").strip()
    candidate = Path(java_home) / "bin" / name if java_home else None
    return str(candidate) if candidate and candidate.is_file() else shutil.which(name)


def serving_jar(home: Path) -> tuple[Path | None, str]:
    """The compiled jar, or None and why not."""
    import pyspark

    sources = sorted(SOURCES.rglob("*.java"))
    digest = hashlib.sha256(b"".join(s.read_bytes() for s in sources)).hexdigest()[:12]
    jar = home / "jars" / f"lakehouse-serving-{digest}.jar"
    if jar.is_file():
        jar.touch()  # the newest jar is the one every session puts on its class path (spark_session)
        return jar, f"reused {jar}"
    javac, jar_tool = jdk_tool("javac"), jdk_tool("jar")
    if not javac or not jar_tool:
        return None, "no javac/jar (a JDK, e.g. openjdk-17-jdk-headless) to compile serving/jvm/"
    spark_jars = Path(pyspark.__file__).parent / "jars"
    with tempfile.TemporaryDirectory(prefix="lakehouse-jvm-") as build:
        compiled = subprocess.run(
            [javac, "--release", "17", "-nowarn", "-cp", f"{spark_jars}/*", "-d", build, *map(str, sources)],
            capture_output=True,
            text=True,
            check=False,
        )
        if compiled.returncode != 0:
            return None, f"javac failed: {(compiled.stderr or compiled.stdout).strip()[-1500:]}"
        jar.parent.mkdir(parents=True, exist_ok=True)
        partial = jar.with_suffix(".partial")
        packed = subprocess.run(
            [jar_tool, "cf", str(partial), "-C", build, "."], capture_output=True, text=True, check=False
        )
        if packed.returncode != 0:
            return None, f"jar failed: {packed.stderr.strip()[-800:]}"
        partial.replace(jar)
    return jar, f"compiled {jar}"
