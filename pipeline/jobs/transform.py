"""Transform one month: TLC's file (any schema era) -> the table contract, row rules, counts.

`run_step` is what the Glue job (`scripts/transform_trips.py`) and the local runner call. It does
the I/O around two pure DataFrame functions that tests call on small frames: `normalise` (every
era's names and types -> `dataset.table_columns`) and `apply_rules` (tags each row with the
first rule it fails, see `pipeline.contract.rules`).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from pipeline.contract import layout
from pipeline.contract.datasets import CODE_PREFIX, Column, ColumnType, Dataset
from pipeline.contract.errors import MissingColumn, MissingInput
from pipeline.contract.months import Month
from pipeline.contract.rules import REJECT_REASON, RULE_NAMES, Engine, reject_reason_sql
from pipeline.jobs.context import StepContext
from pipeline.jobs.spark_conf import configure

if TYPE_CHECKING:
    from pyspark.sql import Column as SparkColumn
    from pyspark.sql import DataFrame
    from pyspark.sql.types import DataType, StructType

# Part-file sizing, measured on a synthetic 3.5M-row month (yellow, 2024 era): Spark writes the
# loaded rows as ~25 bytes a row of snappy parquet. At most 4M rows (~100 MB) a file keeps every
# file inside the 64-128 MB range S3 reads handle well; at least 1M rows (~25 MB) keeps a small
# month from scattering into tiny files. In between, one file per task slot (Spark's default
# parallelism): a single file is written by a single task, which on 2 cores left one core idle in
# the longest stage (`make bench`, 3.5M rows, warm: one file 27% slower than four).
# Redshift COPY loads several files in parallel across slices, so it gains from them too.
ROWS_PER_PART_FILE = 4_000_000
MIN_ROWS_PER_PART_FILE = 1_000_000
# The loadable rows are counted while they are written, so their files are sized from the raw
# file's size: TLC's files hold about 16 bytes a row (yellow 2024-01: 47.6 MB, 2,964,624 rows).
# `maxRecordsPerFile` still caps every file at ROWS_PER_PART_FILE rows.
RAW_BYTES_PER_ROW = 16
# Snappy, not zstd: on the 200k-row demo month zstd was only ~3% smaller than Spark's snappy
# (4.7 vs 4.9 MB), while snappy is the codec every reader in the chain supports without question
# (Spark's default, DuckDB, Redshift COPY through Spectrum) and decodes fastest.
COMPRESSION = "snappy"
# VARCHAR(n) in Redshift: longer text would fail COPY, so transform truncates to n.
STRING_WIDTH = int(re.fullmatch(r"VARCHAR\((\d+)\)", ColumnType.STRING.redshift).group(1))


def spark_type(column_type: ColumnType) -> DataType:
    """The Spark type a contract type is written as (parquet int32, double, ts micros, ...)."""
    from pyspark.sql import types as T

    return {
        ColumnType.INTEGER: T.IntegerType(),
        ColumnType.DOUBLE: T.DoubleType(),
        # NTZ: TLC times are New York wall-clock values without a zone; never shift them.
        ColumnType.TIMESTAMP: T.TimestampNTZType(),
        ColumnType.STRING: T.StringType(),
        ColumnType.DATE: T.DateType(),
    }[column_type]


def contract_schema(dataset: Dataset) -> StructType:
    """The processed table's Spark schema, from `dataset.table_columns` (the only definition)."""
    from pyspark.sql import types as T

    return T.StructType(
        [T.StructField(name, spark_type(type_), True) for name, type_ in dataset.table_columns]
    )


def _sql(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _try_cast(name: str, sql_type: str) -> SparkColumn:
    """Text to `sql_type`, null where it does not parse, with or without ANSI mode."""
    from pyspark.sql import functions as F

    # try_cast is SQL-only in Spark 3.5 (Column.try_cast arrives in 4.0).
    return F.expr(f"try_cast(trim({_sql(name)}) AS {sql_type})")


def _decode(text: SparkColumn, codes: Mapping[str, int]) -> SparkColumn:
    """Codes the early eras wrote as words ('CASH', 'Credit', 'VTS') -> numbers, else null."""
    from pyspark.sql import functions as F

    key = F.upper(F.substring(text, 1, CODE_PREFIX))
    decoded = None
    for word, number in codes.items():
        decoded = (F.when if decoded is None else decoded.when)(key == word, F.lit(number))
    return decoded


def _timestamp(name: str, source_type: DataType) -> SparkColumn:
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    value = F.col(_sql(name))
    if isinstance(source_type, T.TimestampNTZType):
        return value
    if isinstance(source_type, (T.TimestampType, T.DateType)):
        # Zoned (INT96 / isAdjustedToUTC) values: the session zone is UTC (pipeline.local.spark), so
        # this keeps the wall clock TLC stored.
        return value.cast(T.TimestampNTZType())
    if isinstance(source_type, T.LongType):
        # TIMESTAMP(NANOS) read with spark.sql.legacy.parquet.nanosAsLong: nanoseconds since the
        # epoch (no TLC file stores times as plain integers). Integer division keeps them exact.
        micros = F.expr(f"{_sql(name)} div 1000")
        return F.timestamp_micros(micros).cast(T.TimestampNTZType())
    if isinstance(source_type, T.StringType):
        return _try_cast(name, "TIMESTAMP_NTZ")
    # A parquet null-type column (never written) reads as int32: no times in it.
    return F.lit(None).cast(T.TimestampNTZType())


def _convert(name: str, source_type: DataType, column: Column) -> SparkColumn:
    """One file column -> the contract column's type."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    if column.type is ColumnType.TIMESTAMP:
        return _timestamp(name, source_type)
    value = F.col(_sql(name))
    if column.type is ColumnType.STRING:
        return F.substring(F.trim(value.cast(T.StringType())), 1, STRING_WIDTH)
    if isinstance(source_type, T.StringType):
        # Through double: TLC text numbers include '1.0'; codes first, numeric text second.
        number = _try_cast(name, "DOUBLE")
        if column.codes:
            number = F.coalesce(_decode(F.trim(value), column.codes), number)
        return number.cast(spark_type(column.type))
    # int32/int64/double/null-typed: a plain cast (1.0 -> 1, 99.0 -> 99).
    return value.cast(spark_type(column.type))


def normalise(
    frame: DataFrame, dataset: Dataset, month: Month, *, source: str | None = None
) -> DataFrame:
    """Any era's file -> exactly `dataset.table_columns`, in order, with the contract types.

    Raises MissingColumn (naming the column, the file and the names looked for) when a required
    column is absent; an absent optional column becomes null. Lazy: reads no data.
    """
    from pyspark.sql import functions as F

    types = {f.name: f.dataType for f in frame.schema.fields}
    selected = []
    for column in dataset.columns:
        name = column.find_in(frame.columns)
        if name is None and column.required:
            where = source or ", ".join(frame.inputFiles()) or "the input"
            raise MissingColumn(
                f"{where} has no column for required {column.name!r}: looked for "
                f"{', '.join(column.sources)} (any case) among {', '.join(frame.columns)}"
            )
        if name is None:
            value = F.lit(None).cast(spark_type(column.type))
        else:
            value = _convert(name, types[name], column)
        selected.append(value.alias(column.name))
    selected.append(F.lit(month.first_day).alias(dataset.month_column))
    return frame.select(*selected)


def apply_rules(frame: DataFrame, dataset: Dataset, month: Month) -> DataFrame:
    """Add `reject_reason`: the first failing rule's name, null for a loadable row."""
    from pyspark.sql import functions as F

    reason = F.expr(reject_reason_sql(dataset, month, Engine.SPARK)).cast("string")
    return frame.withColumn(REJECT_REASON, reason)


@dataclass(frozen=True)
class TransformCounts:
    """The counts JSON at `layout.counts_key`: what the load checks its inserts against."""

    dataset: str
    month: str
    rows_in: int
    rows_loaded: int
    rows_quarantined: int
    rejected: dict[str, int]  # every rule, in rule order, 0 included
    part_files: list[str]  # lake keys in the processed zone

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)


def _observe_reasons(tagged: DataFrame) -> tuple[Any, DataFrame]:
    """`tagged` with the counts attached: read from the Observation once an action ran on it.

    The counts are taken while the processed parts are written (a DataFrame observation counts
    the rows flowing through it, all of them, before the loadable ones are filtered), so no
    separate counting job reads the rows again.
    """
    from pyspark.sql import Observation
    from pyspark.sql import functions as F

    reason = F.col(REJECT_REASON)
    metrics = [
        F.count(F.lit(1)).alias("rows_in"),
        F.count(F.when(reason.isNull(), 1)).alias("loaded"),
        *(F.count(F.when(reason == name, 1)).alias(name) for name in RULE_NAMES),
    ]
    observation = Observation()
    return observation, tagged.observe(observation, *metrics)


def _observed_counts(observation: Any) -> tuple[int, dict[str, int]]:
    """(loadable rows, rejections per rule) from the observation of a finished action."""
    values = observation.get
    rejected = {name: int(values[name]) for name in RULE_NAMES}
    loaded = int(values["loaded"])
    if loaded + sum(rejected.values()) != int(values["rows_in"]):  # rules.py is a closed set
        raise AssertionError(f"rows with an unknown reject reason: {values}")
    return loaded, rejected


@dataclass(frozen=True)
class TransformOptions:
    """How transform runs. The defaults are what ships; `make bench` passes the alternatives
    it measures (its tunings table), so nothing rewrites this module's settings."""

    cache: bool = True  # False: each write (and the counts) scans the source again
    cache_compressed: bool = False
    count_while_writing: bool = True  # False: a counting job runs before the writes
    rows_per_part_file: int = ROWS_PER_PART_FILE
    min_rows_per_part_file: int = MIN_ROWS_PER_PART_FILE
    compression: str = COMPRESSION


SHIPPED = TransformOptions()


def part_files_for(rows: int, cores: int, options: TransformOptions = SHIPPED) -> int:
    """How many part files `rows` rows are written as (see ROWS_PER_PART_FILE)."""
    fewest = math.ceil(rows / options.rows_per_part_file)
    most = math.ceil(rows / options.min_rows_per_part_file)
    return max(1, fewest, min(cores, most))


def _write(frame: DataFrame, uri: str, rows: int, options: TransformOptions) -> None:
    """Overwrite `uri` with `frame` as `part_files_for(rows, cores)` parquet files."""
    cores = frame.sparkSession.sparkContext.defaultParallelism
    (
        frame.coalesce(part_files_for(rows, cores, options))
        .write.mode("overwrite")
        .option("compression", options.compression)
        .option("maxRecordsPerFile", options.rows_per_part_file)
        .parquet(uri)
    )


def _part_keys(lake: Any, prefix: str) -> list[str]:
    return [obj.key for obj in lake.list(layout.PROCESSED, prefix) if layout.is_part_file(obj.key)]


_CACHE_COMPRESSION = "spark.sql.inMemoryColumnarStorage.compressed"


def _cache_once(spark: Any, tagged: DataFrame, options: TransformOptions) -> DataFrame:
    """Cache the tagged rows so both writes (and the counts, observed during the first) come
    from ONE scan of the source.

    Why not re-read instead: the counts must equal the rows written (load checks its inserts
    against them), and two scans could see two different raw files if ingest re-ran between
    them; on Glue a re-scan is also a second download of the month from S3. On local files a
    scan per write is faster (`make bench`, tunings table: -31%), so this is a choice of
    consistency over speed. MEMORY_AND_DISK, not MEMORY_ONLY: evicted blocks spill instead of
    being recomputed from the source. Uncompressed: the compressed cache cost 42% more to build
    than it saved (`make bench`), and a real month's uncompressed cache (~0.5 GB) fits a Glue
    G.1X worker's storage memory, spilling to disk if not.
    """
    from pyspark import StorageLevel

    if not options.cache:
        return tagged
    previous = spark.conf.get(_CACHE_COMPRESSION, "true")
    spark.conf.set(_CACHE_COMPRESSION, str(options.cache_compressed).lower())
    try:
        # The setting is read when the cache is declared (persist), not when it is filled.
        return tagged.persist(StorageLevel.MEMORY_AND_DISK)
    finally:
        spark.conf.set(_CACHE_COMPRESSION, previous)


def run_step(ctx: StepContext) -> dict[str, Any]:
    """The TransformTrips step, as shipped."""
    return transform_month(ctx, SHIPPED)


def transform_month(ctx: StepContext, options: TransformOptions) -> dict[str, Any]:
    """Raw file of (ctx.dataset, ctx.month) -> processed parts, quarantine parts, counts JSON."""
    from pyspark.sql import functions as F

    dataset, month, lake = ctx.dataset, ctx.month, ctx.lake
    spark = configure(ctx.spark)
    raw_key = layout.raw_key(dataset, month)
    source = lake.uri(layout.RAW, raw_key)
    if not lake.exists(layout.RAW, raw_key):
        raise MissingInput(f"{source} does not exist: ingest {dataset.name} {month} first")
    # Reads only the footer: a missing required column fails here, before any side effect.
    normalised = normalise(spark.read.parquet(source), dataset, month, source=source)
    # Old counts go before any part is replaced: a transform that fails from here on leaves no
    # counts, so the load refuses to run instead of checking new parts against old counts.
    lake.delete_prefix(layout.PROCESSED, layout.counts_key(dataset, month))

    raw_bytes = sum(obj.size for obj in lake.list(layout.RAW, raw_key) if obj.key == raw_key)
    tagged = _cache_once(spark, apply_rules(normalised, dataset, month), options)
    try:
        observation, observed = _observe_reasons(tagged)
        if not options.count_while_writing:
            observed.count()  # the alternative: a job of its own fills the cache and counts
        prefix = layout.processed_prefix(dataset, month)
        good = observed.filter(F.col(REJECT_REASON).isNull()).drop(REJECT_REASON)
        # The rows are counted during this write, so its files are sized from the raw file.
        _write(good, lake.uri(layout.PROCESSED, prefix), raw_bytes // RAW_BYTES_PER_ROW, options)
        loaded, rejected = _observed_counts(observation)
        quarantined = sum(rejected.values())
        ctx.report("rows written", loaded, loaded + quarantined)
        quarantine_prefix = layout.quarantine_prefix(dataset, month)
        if quarantined:
            bad = tagged.filter(F.col(REJECT_REASON).isNotNull())
            _write(bad, lake.uri(layout.PROCESSED, quarantine_prefix), quarantined, options)
        else:
            lake.delete_prefix(layout.PROCESSED, quarantine_prefix)
        ctx.report("rows written", loaded + quarantined, loaded + quarantined)
    finally:
        tagged.unpersist()

    counts = TransformCounts(
        dataset=dataset.name,
        month=str(month),
        rows_in=loaded + quarantined,
        rows_loaded=loaded,
        rows_quarantined=quarantined,
        rejected=rejected,
        part_files=_part_keys(lake, prefix),
    )
    lake.write_bytes(layout.PROCESSED, layout.counts_key(dataset, month), counts.to_json().encode())
    return {
        "rows_in": counts.rows_in,
        "rows_loaded": loaded,
        "rows_quarantined": quarantined,
        "rejected": rejected,
        "part_files": len(counts.part_files),
        "quarantine_files": len(_part_keys(lake, quarantine_prefix)),
    }
