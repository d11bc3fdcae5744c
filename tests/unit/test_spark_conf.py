"""The local SparkSession's settings: what transform needs everywhere, quiet local logging."""

from __future__ import annotations

from pipeline.local import spark


def test_transform_settings_are_applied_locally_and_on_glue():
    assert spark.REQUIRED_CONF["spark.sql.session.timeZone"] == "UTC"
    assert spark.REQUIRED_CONF["spark.sql.legacy.parquet.nanosAsLong"] == "true"
    assert not set(spark.REQUIRED_CONF) & set(spark.LOCAL_CONF)  # local never overrides them


def test_local_logging_config_ships_with_the_package_and_is_used():
    assert spark.LOG_CONFIG.is_file()
    text = spark.LOG_CONFIG.read_text()
    assert "rootLogger.level = warn" in text
    assert (
        f"-Dlog4j2.configurationFile={spark.LOG_CONFIG.as_uri()}"
        in (spark.LOCAL_CONF["spark.driver.extraJavaOptions"])
    )
