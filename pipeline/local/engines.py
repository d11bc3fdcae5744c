"""The local transform engines: DuckDB by default, Spark (the code Glue runs) one flag away.

The closed set is the contract's SQL dialects (`pipeline.contract.sql.Engine`): each engine runs
the same normalisation, rules and counts text (`pipeline.contract.normalise`), and writes the same
parts, quarantine and counts JSON. The step list stays the one definition
(`pipeline.contract.steps.STEPS`); only the TransformTrips step's code depends on the engine, and
this table names it. Neither module imported here imports pyspark: the Spark engine starts its
JVM (and imports pyspark) only when its step runs.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

from pipeline.contract.errors import InvalidInput
from pipeline.contract.sql import Engine
from pipeline.jobs import transform as spark_transform
from pipeline.jobs.context import StepContext
from pipeline.local import duckdb_transform
from pipeline.warehouse.duckdb import DuckDBSettings

Entry = Callable[[StepContext], "dict[str, Any]"]

DEFAULT_ENGINE = Engine.DUCKDB
ENGINE_NAMES: tuple[str, ...] = tuple(sorted(engine.value for engine in Engine))


def engine_named(name: Engine | str) -> Engine:
    """`--engine`'s value as an Engine; anything else is InvalidInput (before any side effect)."""
    try:
        return Engine(name)
    except ValueError:
        raise InvalidInput("--engine", name, f"one of {', '.join(ENGINE_NAMES)}") from None


# engine -> the TransformTrips step's code, given the DuckDB settings of the run.
TRANSFORMS: dict[Engine, Callable[[DuckDBSettings], Entry]] = {
    Engine.DUCKDB: lambda settings: functools.partial(duckdb_transform.run_step, settings=settings),
    Engine.SPARK: lambda settings: spark_transform.run_step,  # what Glue runs
}


def transform_entry(engine: Engine, settings: DuckDBSettings) -> Entry:
    return TRANSFORMS[engine](settings)
