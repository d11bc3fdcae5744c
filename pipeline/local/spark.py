"""The local SparkSession: one per process, shared by every step and every Spark test.

On Glue the job's own session is used (`scripts/transform_trips.py`); the settings that the
transform's correctness depends on (`pipeline.jobs.spark_conf`) are applied to either.
"""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from typing import Any

from pipeline.jobs.spark_conf import REQUIRED_CONF, configure

LOG_CONFIG = Path(__file__).with_name("spark-log4j2.properties")

LOCAL_CONF = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "4",
    "spark.default.parallelism": "4",
    "spark.driver.memory": "4g",
    "spark.sql.adaptive.enabled": "true",
    "spark.driver.extraJavaOptions": (
        f"-XX:+UseParallelGC -Dlog4j2.configurationFile={LOG_CONFIG.as_uri()}"
    ),
}


def local_session(app_name: str = "tlc-elt") -> Any:
    """Start (or reuse) a `local[*]` SparkSession with UI off and few shuffle partitions."""
    from pipeline.local.java import ensure_java

    ensure_java()
    # Spark binds its driver to this address: loopback, since a local run talks to nothing else
    # (and Spark stops warning that the host name resolves to loopback).
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.master("local[*]").appName(app_name)
    for key, value in {**LOCAL_CONF, **REQUIRED_CONF}.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    restore_interrupts()
    return configure(spark)


def restore_interrupts() -> None:
    """Give Ctrl-C back to Python: SparkContext installs a SIGINT handler that calls the JVM
    from inside the py4j call it interrupts (a re-entrant read: 80 lines of py4j tracebacks and
    a Py4JError instead of a KeyboardInterrupt). Python's own handler raises KeyboardInterrupt
    at once; the JVM then ends with this process (it exits when its stdin, our pipe, closes)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.default_int_handler)


def end_jvm(spark: Any) -> None:
    """End the JVM this process started for `spark`, at once (after a Ctrl-C: the session's
    py4j connection is mid-call, so `spark.stop()` would wait on it). A session this process did
    not launch (a test's, Glue's) has no process here and is left alone."""
    process = getattr(getattr(spark.sparkContext, "_gateway", None), "proc", None)
    if process is not None and process.poll() is None:
        process.kill()
        process.wait()
