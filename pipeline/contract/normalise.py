"""From any era's TLC file to the contract table: the SQL every transform engine runs.

`normalisation` reads only the file's column names and their engine-neutral types
(`SourceType`) and returns SQL text: one expression per contract column (names matched in any
case, every era's types converted, text codes looked up), and, per column that converts text, a
condition that is true where a value was present but could not be understood, so nothing turns
into null without being counted. `tagging` adds the integrity rules' `reject_reason` and the
plausibility flags over the normalised columns; `count_expressions` are the aggregates the
month's counts come from. The Spark transform (`pipeline.jobs.transform`) and the DuckDB engine
run exactly this text, so they load the same rows. Standard library only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from pipeline.contract.datasets import CODE_PREFIX, Column, Dataset
from pipeline.contract.errors import AmbiguousColumns, MissingColumn
from pipeline.contract.months import Month
from pipeline.contract.rules import REJECT_REASON, RULE_NAMES, clean_sql, reject_reason_sql
from pipeline.contract.sql import Engine
from pipeline.contract.types import ColumnType, SourceType

# Hidden columns of the tagged rows: one per unmapped-value condition, dropped before writing.
UNMAPPED_PREFIX = "__unmapped__"
# VARCHAR(n) in Redshift: longer text would fail COPY, so the text columns are cut to n.
STRING_WIDTH = int(ColumnType.STRING.redshift[len("VARCHAR(") : -1])


@dataclass(frozen=True)
class Normalisation:
    """The SELECT list turning one file into the contract's columns, and what it reports."""

    columns: tuple[tuple[str, str], ...]  # (contract column, SQL), in table order
    unmapped: tuple[tuple[str, str], ...]  # (contract column, SQL boolean), text conversions
    unknown_columns: Mapping[str, str]  # file column -> SourceType value, in file order
    # contract column -> the file column it is read from (columns the file has)
    sources: Mapping[str, str] = field(default_factory=dict)

    def select_list(self, engine: Engine) -> list[str]:
        """`<sql> AS <column>` items: the contract columns, then the hidden unmapped flags."""
        items = [f"{sql} AS {engine.quote(name)}" for name, sql in self.columns]
        items += [f"{sql} AS {engine.quote(UNMAPPED_PREFIX + name)}" for name, sql in self.unmapped]
        return items


def _text(source: str, source_type: SourceType, engine: Engine) -> str:
    text = source if source_type is SourceType.STRING else engine.cast(source, ColumnType.STRING)
    return f"trim({text})"


def _lookup(text: str, codes: Mapping[str, int | str]) -> str:
    cases = " ".join(
        f"WHEN '{key}' THEN {value!r}" if isinstance(value, str) else f"WHEN '{key}' THEN {value}"
        for key, value in codes.items()
    )
    return f"CASE upper(substring({text}, 1, {CODE_PREFIX})) {cases} END"


def _timestamp(source: str, source_type: SourceType, engine: Engine) -> str:
    if source_type is SourceType.TIMESTAMP:
        return source
    if source_type in (SourceType.TIMESTAMP_ZONED, SourceType.DATE):
        # Zoned values: both engines run with the session zone UTC, which keeps TLC's wall clock.
        return engine.cast(source, ColumnType.TIMESTAMP)
    if source_type is SourceType.INTEGER:
        # No TLC file stores times as integers: this is TIMESTAMP(NANOS) read as a long, or a
        # null-typed column.
        return engine.epoch_nanos(source)
    if source_type is SourceType.STRING:
        return engine.try_cast(f"trim({source})", ColumnType.TIMESTAMP)
    return f"CAST(NULL AS {engine.type_name(ColumnType.TIMESTAMP)})"


def _number(column: Column, source: str, source_type: SourceType, engine: Engine) -> str:
    if source_type is SourceType.STRING:
        # Through double: TLC's text numbers include '1.0'; a code first, numeric text second.
        number = engine.try_cast(f"trim({source})", ColumnType.DOUBLE)
        if column.type is ColumnType.INTEGER:
            number = engine.to_integer(number)
        if column.codes:
            number = f"coalesce({_lookup(f'trim({source})', column.codes)}, {number})"
        return number
    if source_type is SourceType.BOOLEAN:
        return f"CASE WHEN {source} THEN 1 WHEN NOT {source} THEN 0 END"
    if source_type is SourceType.DOUBLE and column.type is ColumnType.INTEGER:
        return engine.to_integer(source)  # 1.0 -> 1, 99.0 -> 99
    if source_type in (SourceType.INTEGER, SourceType.DOUBLE):
        return engine.try_cast(source, column.type)
    return f"CAST(NULL AS {engine.type_name(column.type)})"


def _convert(column: Column, source: str, source_type: SourceType, engine: Engine) -> str:
    """One file column -> the contract column's type (always exactly that type)."""
    if column.type is ColumnType.TIMESTAMP:
        value = _timestamp(source, source_type, engine)
    elif column.type is ColumnType.STRING:
        text = _text(source, source_type, engine)
        value = _lookup(text, column.codes) if column.codes else text
        value = f"substring({value}, 1, {STRING_WIDTH})"
    else:
        value = _number(column, source, source_type, engine)
    return engine.cast(value, column.type)


def _converts_text(column: Column, source_type: SourceType) -> bool:
    """Whether values can be present in the file and still not be stored whole (so are counted):
    text that no code maps, text longer than the column, text that is not a number."""
    if column.type is ColumnType.STRING:
        return source_type is not SourceType.OTHER
    return source_type is SourceType.STRING


def _unmapped(
    column: Column, source: str, source_type: SourceType, converted: str, engine: Engine
) -> str:
    text = _text(source, source_type, engine)
    present = f"{source} IS NOT NULL AND {text} <> ''"
    if column.type is ColumnType.STRING and not column.codes:
        return f"coalesce({present} AND length({text}) > {STRING_WIDTH}, false)"
    return f"coalesce({present} AND {converted} IS NULL, false)"


def check_distinct_columns(where: str, column_names: tuple[str, ...]) -> None:
    """Raise AmbiguousColumns for names that differ only in case (`Airport_fee`, `airport_fee`):
    Spark resolves names without case and cannot read such a file, so no engine may; DuckDB
    would load the first and report the second as unknown. Neither is right for a month."""
    seen: dict[str, str] = {}
    clashes = []
    for name in column_names:
        other = seen.setdefault(name.lower(), name)
        if other != name:
            clashes.append(f"{other!r} and {name!r}")
    if clashes:
        raise AmbiguousColumns(
            f"{where} has columns whose names differ only in case: {', '.join(clashes)}; Spark "
            "(the engine Glue runs) matches names without case and cannot tell them apart, so "
            "the file is refused on every engine: ask the source for a corrected file"
        )


def normalisation(
    dataset: Dataset,
    month: Month,
    file_types: Mapping[str, SourceType],
    engine: Engine,
    *,
    source: str,
) -> Normalisation:
    """The file (`file_types`: its columns in order) -> `dataset.table_columns` less the flags.

    Raises MissingColumn, naming the column, the file and the names looked for, when a required
    column is absent; an absent optional column becomes null. Raises AmbiguousColumns for two
    columns whose names differ only in case (both engines, whatever ingest let through).
    """
    check_distinct_columns(source, tuple(file_types))
    columns, unmapped, sources = [], [], {}
    for column in dataset.columns:
        name = column.find_in(file_types)
        if name is None:
            if column.required:
                raise MissingColumn(
                    f"{source} has no column for required {column.name!r}: looked for "
                    f"{', '.join(column.sources)} (any case) among {', '.join(file_types)}"
                )
            columns.append((column.name, f"CAST(NULL AS {engine.type_name(column.type)})"))
            continue
        quoted, source_type = engine.quote(name), file_types[name]
        sources[column.name] = name
        converted = _convert(column, quoted, source_type, engine)
        columns.append((column.name, converted))
        if _converts_text(column, source_type):
            unmapped.append(
                (column.name, _unmapped(column, quoted, source_type, converted, engine))
            )
    columns.append((dataset.month_column, f"DATE '{month.first_day.isoformat()}'"))
    unknown = {
        name: kind.value for name, kind in file_types.items() if not dataset.known_source(name)
    }
    return Normalisation(tuple(columns), tuple(unmapped), unknown, sources)


def tagging(dataset: Dataset, month: Month, engine: Engine) -> list[str]:
    """Over the normalised rows: every column, each flag, and `reject_reason`."""
    flags = [f"{flag.broken(engine)} AS {engine.quote(flag.name)}" for flag in dataset.flags]
    reason = f"{reject_reason_sql(dataset, month, engine)} AS {engine.quote(REJECT_REASON)}"
    return ["*", *flags, reason]


def _rows_where(condition: str) -> str:
    return f"coalesce(sum(CASE WHEN {condition} THEN 1 ELSE 0 END), 0)"


def rows_expressions(dataset: Dataset, engine: Engine) -> list[tuple[str, str]]:
    """(key, aggregate SQL) of the rows' counts over any relation with the table's columns and
    `reject_reason`: the tagged rows, or the written parts with the quarantine's."""
    reason = engine.quote(REJECT_REASON)
    loaded = f"{reason} IS NULL"
    expressions = [("rows_in", "count(*)"), ("rows_loaded", _rows_where(loaded))]
    expressions += [
        (f"rejected:{name}", _rows_where(f"{reason} = '{name}'")) for name in RULE_NAMES
    ]
    expressions += [
        (f"flagged:{flag.name}", _rows_where(f"{loaded} AND {engine.quote(flag.name)}"))
        for flag in dataset.flags
    ]
    expressions.append(("rows_clean", _rows_where(f"{loaded} AND {clean_sql(dataset)}")))
    return expressions


def count_expressions(
    dataset: Dataset, plan: Normalisation, engine: Engine
) -> list[tuple[str, str]]:
    """(key, aggregate SQL) over the tagged rows: what `counts_from` assembles the counts of."""
    return [
        *rows_expressions(dataset, engine),
        *(
            (f"unmapped:{name}", _rows_where(engine.quote(UNMAPPED_PREFIX + name)))
            for name, _ in plan.unmapped
        ),
    ]


def unmapped_by_value(plan: Normalisation, engine: Engine, relation: str) -> tuple[list[str], str]:
    """The `unmapped:<column>` counts of `count_expressions` from the file's rows in `relation`
    (its own column names), each condition evaluated once per distinct value, not per row.

    Every condition is a function of one file column's value, so counting each column's
    distinct values (GROUPING SETS: one scan for all of them) and summing the counts of the
    values that fail gives the same numbers. In a set's rows the other columns are null, for
    which no condition holds. On a 20M-row HVFHV month (8 text columns) 0.5 s instead of the
    3.4 s the same conditions cost row by row (`docs/BENCHMARKS.md`). ([], "") when no column
    converts text."""
    if not plan.unmapped:
        return [], ""
    keys = [f"unmapped:{name}" for name, _ in plan.unmapped]
    columns = list(dict.fromkeys(engine.quote(plan.sources[name]) for name, _ in plan.unmapped))
    sums = ", ".join(
        f"coalesce(sum(CASE WHEN {condition} THEN n ELSE 0 END), 0)"
        for _, condition in plan.unmapped
    )
    sets = ", ".join(f"({column})" for column in columns)
    grouped = f"SELECT {', '.join(columns)}, count(*) AS n FROM {relation} GROUP BY GROUPING SETS"
    return keys, f"SELECT {sums} FROM ({grouped} ({sets})) AS by_value"
