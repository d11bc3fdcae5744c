"""Transform one month on Spark: TLC's file (any era) -> the table contract, rules, flags, counts.

`run_step` is what the Glue job (`scripts/transform_trips.py`) calls, and the local runner on its
Spark engine (`--engine spark`; the default local engine is `pipeline.local.duckdb_transform`,
which writes the same parts, quarantine and counts from the same SQL). It does
the I/O around two pure DataFrame functions that tests call on small frames: `normalise` (every
era's names and types -> the contract's columns) and `apply_rules` (the flags, and the first
integrity rule each row fails). Both run the SQL text of `pipeline.contract.normalise`, which the
DuckDB engine runs too: the engines differ in I/O, never in what a row becomes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pipeline.contract import layout
from pipeline.contract.counts import (
    TransformCounts,
    aggregate_expressions,
    check_written,
    counts_from,
    needs_other_months,
    other_months_from,
    other_months_sql,
)
from pipeline.contract.datasets import Dataset
from pipeline.contract.errors import MissingInput
from pipeline.contract.months import Month
from pipeline.contract.normalise import Normalisation, normalisation, tagging
from pipeline.contract.rules import REJECT_REASON
from pipeline.contract.sql import Engine
from pipeline.contract.types import ColumnType, SourceType
from pipeline.jobs.context import StepContext
from pipeline.jobs.part_stats import part_statistics
from pipeline.jobs.spark_conf import configure

if TYPE_CHECKING:
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
ENGINE = Engine.SPARK


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
        ColumnType.BOOLEAN: T.BooleanType(),
    }[column_type]


def contract_schema(dataset: Dataset) -> StructType:
    """The processed table's Spark schema, from `dataset.table_columns` (the only definition)."""
    from pyspark.sql import types as T

    return T.StructType(
        [T.StructField(name, spark_type(type_), True) for name, type_ in dataset.table_columns]
    )


def source_type(data_type: DataType) -> SourceType:
    """What a Spark column of the file holds, in the contract's engine-neutral terms."""
    from pyspark.sql import types as T

    kinds = (
        ((T.ByteType, T.ShortType, T.IntegerType, T.LongType), SourceType.INTEGER),
        ((T.FloatType, T.DoubleType, T.DecimalType), SourceType.DOUBLE),
        ((T.StringType,), SourceType.STRING),
        ((T.TimestampNTZType,), SourceType.TIMESTAMP),
        ((T.TimestampType,), SourceType.TIMESTAMP_ZONED),
        ((T.DateType,), SourceType.DATE),
        ((T.BooleanType,), SourceType.BOOLEAN),
    )
    for spark_types, kind in kinds:
        if isinstance(data_type, spark_types):
            return kind
    return SourceType.OTHER


def plan_for(
    frame: DataFrame, dataset: Dataset, month: Month, *, source: str | None = None
) -> Normalisation:
    """The contract's normalisation of this file (reads its schema only)."""
    types = {field.name: source_type(field.dataType) for field in frame.schema.fields}
    where = source or ", ".join(frame.inputFiles()) or "the input"
    return normalisation(dataset, month, types, ENGINE, source=where)


def normalise(
    frame: DataFrame, dataset: Dataset, month: Month, *, source: str | None = None
) -> DataFrame:
    """Any era's file -> the contract's columns (the table's, less the flags), in order, with
    their types, then the hidden unmapped-value columns. Raises MissingColumn (naming the
    column, the file and the names looked for) when a required column is absent. Lazy."""
    plan = plan_for(frame, dataset, month, source=source)
    return frame.selectExpr(*plan.select_list(ENGINE))


def apply_rules(frame: DataFrame, dataset: Dataset, month: Month) -> DataFrame:
    """Add the flags and `reject_reason`: the first failing integrity rule, null when loadable."""
    return frame.selectExpr(*tagging(dataset, month, ENGINE))


def _observe_counts(tagged: DataFrame, dataset: Dataset, plan: Normalisation):
    """`tagged` with the counts and the profile attached: read from the Observation once an
    action ran on it.

    They are taken while the processed parts are written (a DataFrame observation aggregates
    the rows flowing through it, all of them, before the loadable ones are filtered), so no
    separate job reads the rows again. Metrics are named by position (`m0`, `m1`, ...): the
    keys hold column names and colons, which are no Spark identifiers.
    """
    from pyspark.sql import Observation
    from pyspark.sql import functions as F

    expressions = aggregate_expressions(dataset, plan, ENGINE)
    metrics = [F.expr(sql).alias(f"m{index}") for index, (_, sql) in enumerate(expressions)]
    observation = Observation()
    return (observation, [key for key, _ in expressions]), tagged.observe(observation, *metrics)


def _observed(observed: Any) -> dict[str, Any]:
    observation, keys = observed
    values = observation.get
    return {key: values[f"m{index}"] for index, key in enumerate(keys)}


@dataclass(frozen=True)
class TransformOptions:
    """How transform runs. The defaults are what ships; `make bench` passes the alternatives
    it measures (its tunings table), so nothing rewrites this module's settings."""

    # True: the tagged rows are cached, so the counts and both writes come from one scan.
    cache: bool = False
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


def part_keys(lake: Any, prefix: str) -> list[str]:
    return [obj.key for obj in lake.list(layout.PROCESSED, prefix) if layout.is_part_file(obj.key)]


def clear_candidate(lake: Any, keys: layout.RunKeys) -> None:
    """The run's own parts and quarantine from an earlier attempt of this run go before a
    transform writes (never anything published: that is another run's). Its counts are written
    last (`write_counts`): a transform that fails leaves none, so audit and publish refuse it."""
    for prefix in (keys.processed_prefix, keys.quarantine_prefix):
        lake.delete_prefix(layout.PROCESSED, prefix)


def write_counts(
    ctx: StepContext, values: dict[str, Any], plan: Normalisation, other_months: dict[str, int]
) -> TransformCounts:
    """Either engine's last act: the counts of its aggregates and of the parts it wrote (their
    footers give the profile's null counts and bounds), written beside the run's parts."""
    parts = part_keys(ctx.lake, ctx.keys.processed_prefix)
    footer = part_statistics(ctx.lake, parts, ctx.dataset)
    counts = counts_from(ctx.dataset, ctx.month, values, plan, parts, footer, other_months)
    ctx.lake.write_bytes(layout.PROCESSED, ctx.keys.counts_key, counts.to_json().encode())
    return counts


_CACHE_COMPRESSION = "spark.sql.inMemoryColumnarStorage.compressed"


def _maybe_cache(spark: Any, tagged: DataFrame, options: TransformOptions) -> DataFrame:
    """With `options.cache`, the tagged rows cached so both writes (and the counts) come from
    one scan of the source; as shipped, each write reads the source itself.

    Why no cache: building it cost more than a second read saves (`make bench`, tunings table:
    no cache -35% on a warm session, 3.7x the DuckDB engine instead of 6.1x), and a Glue
    worker's memory goes to the rows in flight, not to a copy of the month. The guarantee the
    cache gave, counts that describe exactly the rows written, holds without it: the loadable
    rows are counted while they are written (one job), and the quarantine write counts its own
    rows, which must equal `rows_quarantined` (`check_written`), so a raw file replaced between
    the two reads fails the month before any counts are written. MEMORY_AND_DISK when cached:
    evicted blocks spill instead of being recomputed from the source.
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


def hadoop_literal(path: str) -> str:
    """`path` as a Hadoop glob matching only itself: Spark globs every path it reads (a workdir
    named `w[1]` would read `w1`'s file); a backslash makes a glob character literal."""
    return "".join(f"\\{char}" if char in "[]*?{}\\" else char for char in path)


def _read_raw(spark: Any, source: str) -> DataFrame:
    """The raw file, its columns' names as they are: with Spark's default case-insensitive
    resolution a file with `Airport_fee` and `airport_fee` fails to read at all, where the
    contract must see both to refuse it (AmbiguousColumns), as on DuckDB."""
    previous = spark.conf.get(_CASE_SENSITIVE, "false")
    spark.conf.set(_CASE_SENSITIVE, "true")
    try:
        frame = spark.read.parquet(hadoop_literal(source))
        frame.schema  # noqa: B018 (resolves the schema while names are case-sensitive)
    finally:
        spark.conf.set(_CASE_SENSITIVE, previous)
    return frame


_CASE_SENSITIVE = "spark.sql.caseSensitive"


def transform_month(ctx: StepContext, options: TransformOptions) -> dict[str, Any]:
    """The run's raw file -> its processed parts, quarantine parts and counts JSON (all under
    the run's keys: nothing published is touched)."""
    from pyspark.sql import Observation
    from pyspark.sql import functions as F

    dataset, month, lake, keys = ctx.dataset, ctx.month, ctx.lake, ctx.keys
    spark = configure(ctx.spark)
    source = lake.uri(layout.RAW, keys.raw_key)
    if not lake.exists(layout.RAW, keys.raw_key):
        raise MissingInput(f"{source} does not exist: ingest {dataset.name} {month} first")
    # Reads only the footer: a missing required column fails here, before any write.
    frame = _read_raw(spark, source)
    plan = plan_for(frame, dataset, month, source=source)
    normalised = frame.selectExpr(*plan.select_list(ENGINE))
    clear_candidate(lake, keys)

    raw_bytes = sum(
        obj.size for obj in lake.list(layout.RAW, keys.raw_key) if obj.key == keys.raw_key
    )
    tagged = _maybe_cache(spark, apply_rules(normalised, dataset, month), options)
    try:
        observation, observed = _observe_counts(tagged, dataset, plan)
        if not options.count_while_writing:
            observed.count()  # the alternative: a job of its own fills the cache and counts
        table = [name for name, _ in dataset.table_columns]
        good = observed.filter(F.col(REJECT_REASON).isNull()).select(*table)
        # The rows are counted during this write, so its files are sized from the raw file.
        _write(good, lake.uri(layout.PROCESSED, keys.processed_prefix),
               raw_bytes // RAW_BYTES_PER_ROW, options)  # fmt: skip
        values = _observed(observation)
        loaded, rows_in = values["rows_loaded"], values["rows_in"]
        quarantined = rows_in - loaded
        ctx.report("rows written", loaded, rows_in)
        if quarantined:
            bad = tagged.filter(F.col(REJECT_REASON).isNotNull()).select(*table, REJECT_REASON)
            counted = Observation()
            uri = lake.uri(layout.PROCESSED, keys.quarantine_prefix)
            _write(bad.observe(counted, F.count(F.lit(1)).alias("rows")), uri, quarantined,
                   options)  # fmt: skip
            check_written(int(counted.get["rows"]), quarantined, "the quarantine", uri)
        others = {}
        if needs_other_months(values):
            tagged.createOrReplaceTempView("tagged")
            sql = other_months_sql(dataset, ENGINE, "tagged")
            others = other_months_from(tuple(r) for r in spark.sql(sql).collect())
        ctx.report("rows written", rows_in, rows_in)
    finally:
        tagged.unpersist()

    counts = write_counts(ctx, values, plan, others)
    return step_figures(counts, len(part_keys(lake, keys.quarantine_prefix)))


def step_figures(counts: TransformCounts, quarantine_files: int) -> dict[str, Any]:
    """The step's output (the job log, the state machine, the local run's summary): the counts
    less the part keys, with the schema drift named."""
    return {
        "rows_in": counts.rows_in,
        "rows_loaded": counts.rows_loaded,
        "rows_quarantined": counts.rows_quarantined,
        "rejected": counts.rejected,
        "flagged": counts.flagged,
        "rows_clean": counts.rows_clean,
        "unknown_columns": counts.unknown_columns,
        "unmapped_values": counts.unmapped_values,
        "part_files": len(counts.part_files),
        "quarantine_files": quarantine_files,
    }
