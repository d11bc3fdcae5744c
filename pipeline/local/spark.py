"""The local SparkSession: one per process, shared by every step and every Spark test.

On Glue the job's own session is used (`scripts/transform_trips.py`); the settings that the
transform's correctness depends on (`pipeline.jobs.spark_conf`) are applied to either.
"""

from __future__ import annotations

import os
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
    return configure(spark)
