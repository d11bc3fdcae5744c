"""Every DuckDB connection of a local run is set the same way: UTC, no progress bar of its own, a
memory limit, and a spill folder inside the workdir (the transform's and the warehouse's)."""

from __future__ import annotations

from pipeline.local import duckdb_transform
from pipeline.local.runner import DUCKDB_TEMP, LocalPipeline
from pipeline.warehouse.duckdb import DEFAULT_MEMORY_LIMIT, DuckDBSettings


def _settings(connection) -> dict[str, str]:
    names = ("TimeZone", "enable_progress_bar", "memory_limit", "temp_directory")
    return {name: connection.execute(f"SELECT current_setting('{name}')").fetchone()[0]
            for name in names}  # fmt: skip


def test_a_connection_gets_the_zone_the_limit_and_the_spill_folder(tmp_path):
    connection = duckdb_transform.connect(DuckDBSettings("512MB", tmp_path / "spill"))
    try:
        found = _settings(connection)
    finally:
        connection.close()
    assert found["TimeZone"] == "UTC"
    assert found["enable_progress_bar"] is False
    assert found["memory_limit"] == "488.2 MiB"  # 512 MB, in DuckDB's spelling
    assert found["temp_directory"] == str(tmp_path / "spill")
    assert not (tmp_path / "spill").exists()  # DuckDB makes it only when it spills


def test_the_local_run_limits_both_of_its_duckdb_uses_and_spills_inside_the_workdir(tmp_path):
    default = LocalPipeline(tmp_path)
    assert default.duckdb_settings == DuckDBSettings(DEFAULT_MEMORY_LIMIT, tmp_path / DUCKDB_TEMP)
    pipeline = LocalPipeline(tmp_path, memory_limit="1GB")
    assert pipeline.warehouse.settings == pipeline.duckdb_settings
    assert pipeline.duckdb_settings.memory_limit == "1GB"
    connection = pipeline.warehouse._connect()
    try:
        found = _settings(connection)
    finally:
        connection.close()
    assert found["temp_directory"] == str(tmp_path / DUCKDB_TEMP)
    assert found["memory_limit"] == "953.6 MiB"  # 1 GB
