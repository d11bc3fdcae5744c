"""Is a stream of bytes a whole parquet file? Decided while it streams, in bounded memory.

A parquet file starts and ends with the magic `PAR1`; just before the final magic sit the
footer (the file's metadata: schema, row groups, row counts) and its 4-byte length. Ingest
feeds every chunk here as it arrives: the start is checked as soon as it is seen, so an error
page is refused after its first bytes, and only the last `tail_bytes` are kept, from which the
footer is parsed at the end. Given a dataset, the footer's schema must also hold every column
the dataset requires (under any of its names, any case), so a file that is parquet but not a
trip file is refused before it replaces a good one.
Runs in Glue Python Shell (3.9); pyarrow is imported only at the footer parse.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass
from typing import Any

from pipeline.contract.datasets import Dataset
from pipeline.contract.errors import (
    DamagedFile,
    MissingColumn,
    NotParquet,
    PipelineError,
)
from pipeline.contract.normalise import check_distinct_columns

MAGIC = b"PAR1"
# The smallest parquet file: magic, an (empty) footer's 4-byte length, magic.
MIN_SIZE = 12
# TLC's footers are tens of KiB (a month has tens of row groups of ~20 columns); 8 MiB leaves
# a wide margin while keeping memory flat.
TAIL_BYTES = 8 * 1024 * 1024
# How much of the start is kept to say what a refused body is.
_HEAD_BYTES = 64
_SHOWN_CHARS = 16

# What common non-parquet bodies start with, lower-cased, and what to call them.
_KNOWN_STARTS: tuple[tuple[bytes, str], ...] = (
    (b"<!doctype html", "an HTML page"),
    (b"<html", "an HTML page"),
    (b"<?xml", "an XML document (an S3 or CloudFront error?)"),
    (b"<error", "an XML error document (S3 or CloudFront)"),
    (b"{", "JSON"),
    (b"\x1f\x8b", "gzip-compressed data"),
    (b"pk\x03\x04", "a zip archive"),
)


# Glue Python Shell 3.9 ships pyarrow only in its `analytics` library set; the jobs also pin it
# with --additional-python-modules (components.etl.PYTHON_SHELL_MODULES). Either missing (a job
# made with library-set none, or PyPI unreachable from the job's network) would otherwise fail
# at the end of a whole download.
# https://docs.aws.amazon.com/glue/latest/dg/add-job-python.html#python-shell-supported-library
PYARROW_NEEDED = (
    "give the Python Shell job --additional-python-modules with a pinned pyarrow (the stack "
    "does: components.etl.PYTHON_SHELL_MODULES) or library-set analytics, and let it reach PyPI"
)


def require_pyarrow() -> None:
    """Fail before any download when pyarrow, which reads the footer, cannot be imported."""
    try:
        import pyarrow.parquet  # noqa: F401 (pyarrow itself with it)
    except ImportError as error:
        raise PipelineError(
            f"ingest checks each file's parquet footer with pyarrow, which cannot be imported "
            f"here ({error}): {PYARROW_NEEDED}"
        ) from None


@dataclass(frozen=True)
class ParquetFacts:
    """What the footer says about a file that passed every check."""

    rows: int
    row_groups: int
    columns: int
    column_names: tuple[str, ...] = ()


def describe_start(head: bytes) -> str:
    """`starts with '<!DOCTYPE html>' — an HTML page, not parquet` (for error messages)."""
    if not head:
        return "is empty — not parquet"
    shown = head.split(b"\n", 1)[0][:_SHOWN_CHARS].decode("latin-1")
    lowered = head.lstrip().lower()
    kind = next((name for start, name in _KNOWN_STARTS if lowered.startswith(start)), None)
    if kind is None:
        return f"starts with {shown!r} instead of parquet's {MAGIC.decode()!r} magic — not parquet"
    return f"starts with {shown!r} — {kind}, not parquet"


class ParquetStreamCheck:
    """Feed chunks with `accept`, then call `finish` for the footer's facts; raises NotParquet.

    `where` names the source in messages. With `dataset`, `finish` also raises MissingColumn for
    a file without one of the dataset's required columns. Memory: at most `tail_bytes` plus one
    chunk.
    """

    def __init__(
        self, where: str, tail_bytes: int = TAIL_BYTES, dataset: Dataset | None = None
    ) -> None:
        if tail_bytes < MIN_SIZE:
            raise ValueError(f"tail_bytes must be at least {MIN_SIZE}, got {tail_bytes}")
        self.where = where
        self.tail_bytes = tail_bytes
        self.dataset = dataset
        self.reset()

    def reset(self) -> None:
        """Forget everything: the stream starts again from its first byte."""
        self.size = 0
        self._head = b""
        self._head_checked = False
        self._tail: collections.deque[bytes] = collections.deque()
        self._tail_size = 0

    @property
    def tail_size(self) -> int:
        return self._tail_size

    def accept(self, chunk: bytes) -> None:
        if not chunk:
            return
        self.size += len(chunk)
        if len(self._head) < _HEAD_BYTES:
            self._head += chunk[: _HEAD_BYTES - len(self._head)]
        if not self._head_checked and len(self._head) >= _HEAD_BYTES:
            self._check_head()
        self._tail.append(chunk)
        self._tail_size += len(chunk)
        # Drop whole chunks from the left while what remains still covers the window.
        while self._tail_size - len(self._tail[0]) >= self.tail_bytes:
            self._tail_size -= len(self._tail.popleft())

    def _check_head(self) -> None:
        self._head_checked = True
        if not self._head.startswith(MAGIC):
            raise NotParquet(f"{self.where} {describe_start(self._head)}")

    def finish(self) -> ParquetFacts:
        """Check the end and parse the footer of everything accepted so far."""
        self._check_head()
        if self.size < MIN_SIZE:
            raise NotParquet(
                f"{self.where} is only {self.size} bytes — a parquet file has at least {MIN_SIZE}"
            )
        tail = b"".join(self._tail)[-self.tail_bytes :]
        if not tail.endswith(MAGIC):
            raise NotParquet(
                f"{self.where} ends with {tail[-4:]!r}, not parquet's {MAGIC.decode()!r} magic"
                " — a truncated or damaged file"
            )
        footer_size = int.from_bytes(tail[-8:-4], "little")
        if footer_size + MIN_SIZE > self.size:
            raise NotParquet(
                f"{self.where} declares a {footer_size}-byte footer in a {self.size}-byte file"
                " — a truncated or damaged file"
            )
        if footer_size + 8 > len(tail):
            raise NotParquet(
                f"{self.where} has a {footer_size}-byte footer, more than the {self.tail_bytes}"
                " bytes kept to check it (raise tail_bytes if the file is genuine)"
            )
        facts = _read_footer(self.where, tail[-8 - footer_size :])
        check_distinct_columns(self.where, facts.column_names)
        if self.dataset is not None:
            check_required_columns(self.where, self.dataset, facts.column_names)
        return facts


def check_required_columns(where: str, dataset: Dataset, column_names: tuple[str, ...]) -> None:
    """Raise MissingColumn naming each required column of `dataset` absent from `column_names`.

    The same lookup transform makes (`Column.find_in`: any source name, any case), so what passes
    here is what transform can read.
    """
    missing = [c for c in dataset.columns if c.required and c.find_in(column_names) is None]
    if not missing:
        return
    looked_for = "; ".join(
        f"{column.name!r} (looked for {', '.join(column.sources)}, any case)" for column in missing
    )
    noun = "column" if len(missing) == 1 else "columns"
    raise MissingColumn(
        f"{where} lacks the required {dataset.name} {noun} {looked_for}; it has"
        f" {', '.join(column_names) or 'no columns'} — not a {dataset.name} trip file, refused"
    )


def _name_the_damage(
    parquet: Any, group: int, columns: list[str], expected: int, where: str
) -> None:
    """Read a failing row group column by column, to say which column is damaged (DamagedFile)."""
    import pyarrow as pa

    for name in columns:
        try:
            rows = parquet.read_row_group(group, columns=[name]).num_rows
        except (pa.ArrowException, OSError, ValueError) as error:
            raise DamagedFile(
                f"{where} is damaged: row group {group + 1} of {parquet.num_row_groups}, "
                f"column {name!r}, does not decode ({' '.join(str(error).split())}); "
                "refused, the published month is unchanged"
            ) from None
        if rows != expected:
            raise DamagedFile(
                f"{where} is damaged: row group {group + 1}, column {name!r}, holds {rows:,} "
                f"rows where its footer says {expected:,}; refused"
            )
    raise DamagedFile(
        f"{where} is damaged: row group {group + 1} of {parquet.num_row_groups} does not decode "
        "as a whole; refused, the published month is unchanged"
    )


def _read_footer(where: str, footer_and_length: bytes) -> ParquetFacts:
    """Parse the footer alone: wrapped in magic, it is the smallest file pyarrow will read."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        metadata = pq.read_metadata(pa.BufferReader(MAGIC + footer_and_length))
        # Top-level names, as Spark's `frame.columns` sees them (a leaf's name is not).
        names = tuple(metadata.schema.to_arrow_schema().names)
    except (pa.ArrowException, OSError, ValueError) as error:
        raise NotParquet(f"{where} has an unreadable parquet footer: {error}") from None
    return ParquetFacts(
        rows=metadata.num_rows,
        row_groups=metadata.num_row_groups,
        columns=metadata.num_columns,
        column_names=names,
    )


def check_decodes(file: Any, where: str, dataset: Dataset, facts: ParquetFacts) -> None:
    """Prove the whole file decodes: every row group of the dataset's required columns, each
    holding the rows its footer entry says, adding up to the footer's row count. Raises
    DamagedFile naming the row group and column that failed (a corrupt page, a bad
    compression block), before the file can become the month's raw file.

    One row group of a few columns is in memory at a time (TLC's groups are ~1M rows).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(file)
    except (pa.ArrowException, OSError, ValueError) as error:
        raise DamagedFile(f"{where} cannot be opened as parquet: {error}") from None
    names = parquet.schema_arrow.names
    columns = [c.find_in(names) for c in dataset.columns if c.required]
    wanted = [name for name in columns if name is not None]
    decoded = 0
    for group in range(parquet.metadata.num_row_groups):
        expected = parquet.metadata.row_group(group).num_rows
        try:  # all the columns at once: pyarrow decodes them in parallel
            rows = parquet.read_row_group(group, columns=wanted).num_rows
        except (pa.ArrowException, OSError, ValueError):
            rows = None
        if rows != expected:
            _name_the_damage(parquet, group, wanted, expected, where)
        decoded += expected
    if decoded != facts.rows:
        raise DamagedFile(
            f"{where} is damaged: its row groups hold {decoded:,} rows where its footer says "
            f"{facts.rows:,}; refused"
        )
