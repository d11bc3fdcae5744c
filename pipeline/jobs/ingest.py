"""Ingest: one month's file from its source into the raw zone, checked, recorded, replaced whole.

The original downloaded whatever the URL returned straight into S3. Here the file streams
through three things at once: a parquet check (the start as soon as it arrives, the footer and
the dataset's required columns at the end), a sha256, and a lake writer whose output appears
only on commit. So a CloudFront error page, a truncated body, an unreadable footer or a file
lacking a required column never lands in raw, and a previous good file stays in place until a
new good one replaces it whole. The ingest record (what the source said, the row count from the
footer, the hash) is written after the file it describes.

Re-running a month whose source still has the same strong ETag (or, for a local file, the same
size and modification time) is skipped as "unchanged" unless `force` is set.
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from pipeline.contract.errors import NotParquet
from pipeline.contract.layout import RAW, ingest_record_key, raw_key
from pipeline.contract.months import Month
from pipeline.jobs.context import StepContext
from pipeline.jobs.parquet_check import TAIL_BYTES, ParquetStreamCheck, require_pyarrow
from pipeline.jobs.source import CHUNK_SIZE, RetryPolicy, SourceInfo, open_source

PROGRESS = "download"


@dataclass(frozen=True)
class IngestOptions:
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    force: bool = False  # download even when the source looks unchanged
    chunk_size: int = CHUNK_SIZE
    tail_bytes: int = TAIL_BYTES
    sleep: Callable[[float], None] = time.sleep
    # The current month, for "not published yet" against "blocked" (None: from the clock).
    today: Month | None = None


@dataclass(frozen=True)
class IngestRecord:
    """`layout.ingest_record_key`: what ingest saw and wrote, in the shared contract's keys."""

    source: str
    bytes: int
    etag: str | None
    last_modified: str | None
    rows: int
    row_groups: int
    sha256: str

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), indent=2).encode()

    @classmethod
    def from_json(cls, data: bytes) -> IngestRecord | None:
        """The record, or None if it is not one (then nothing is trusted from it)."""
        try:
            fields = json.loads(data)
            return cls(**{name: fields[name] for name in cls.__dataclass_fields__})
        except (ValueError, TypeError, KeyError):
            return None


def run_step(ctx: StepContext) -> dict[str, Any]:
    """The IngestRaw step (pipeline.contract.steps.STEPS): default options."""
    return ingest(ctx)


def ingest(ctx: StepContext, options: IngestOptions | None = None) -> dict[str, Any]:
    """Stream ctx.source (default: TLC's URL for the month) to the raw zone; return the figures:
    the record's fields, `raw` (where the file is), `unchanged` and `attempts`.
    """
    options = options or IngestOptions()
    require_pyarrow()  # the footer check needs it: say so now, not after the download
    source = open_source(
        ctx.source or ctx.dataset.source_url(ctx.month),
        policy=options.retry,
        chunk_size=options.chunk_size,
        sleep=options.sleep,
        month=ctx.month,
        today=options.today,
    )
    key = raw_key(ctx.dataset, ctx.month)
    record_key = ingest_record_key(ctx.dataset, ctx.month)
    prior = None if options.force else _record_in_place(ctx.lake, key, record_key, source.name)
    # The check knows the dataset: a parquet file without its required columns is refused too.
    check = ParquetStreamCheck(source.name, options.tail_bytes, ctx.dataset)
    receiver = _RawReceiver(ctx, key, check)
    try:
        fetch = source.stream(
            receiver,
            if_none_match=_strong(prior.etag) if prior else None,
            skip_if=functools.partial(_unchanged, prior) if prior else None,
        )
        if fetch.skipped and prior is not None:
            receiver.abort()
            return _figures(ctx, key, prior, unchanged=True, attempts=fetch.attempts)
        record = receiver.finish(fetch.info)
        # No record while the file changes: a crash before the new record is written must
        # never leave the old record vouching for the new file.
        ctx.lake.delete_prefix(RAW, record_key)
        receiver.commit()
    except BaseException:
        receiver.abort()
        raise
    ctx.lake.write_bytes(RAW, record_key, record.to_json())
    return _figures(ctx, key, record, unchanged=False, attempts=fetch.attempts)


def _figures(
    ctx: StepContext, key: str, record: IngestRecord, *, unchanged: bool, attempts: int
) -> dict[str, Any]:
    return {
        **asdict(record),
        "raw": ctx.lake.uri(RAW, key),
        "unchanged": unchanged,
        "attempts": attempts,
    }


def _record_in_place(lake: Any, key: str, record_key: str, source: str) -> IngestRecord | None:
    """The record of the file now in raw, if it came from `source` and raw still has it whole."""
    if not lake.exists(RAW, record_key):
        return None
    record = IngestRecord.from_json(lake.read_bytes(RAW, record_key))
    if record is None or record.source != source:
        return None
    sizes = [obj.size for obj in lake.list(RAW, key) if obj.key == key]
    return record if sizes == [record.bytes] else None


def _strong(etag: str | None) -> str | None:
    """Only a strong ETag may make the server answer 304: a weak one allows other bytes."""
    return etag if etag and not etag.startswith("W/") else None


def _unchanged(prior: IngestRecord, info: SourceInfo) -> bool:
    return (
        info.versioned
        and info.source == prior.source
        and info.size == prior.bytes
        and info.etag == prior.etag
        and info.last_modified == prior.last_modified
    )


class _RawReceiver:
    """The sink a source streams into: parquet check, then the lake writer and the hash.

    The writer opens on the first chunk, so a source that fails before sending any bytes
    (403, refused connection) leaves nothing behind, not even a temporary file.
    """

    def __init__(self, ctx: StepContext, key: str, check: ParquetStreamCheck) -> None:
        self.ctx, self.key, self.check = ctx, key, check
        self.received = 0
        self.total: int | None = None
        self._writer: Any = None
        self._hash = hashlib.sha256()

    def expect(self, total: int | None) -> None:
        self.total = total
        self.ctx.report(PROGRESS, self.received, total)

    def accept(self, chunk: bytes) -> None:
        self.check.accept(chunk)  # first: an error page is refused before it is written
        if self._writer is None:
            self._writer = self.ctx.lake.open_writer(RAW, self.key)
        self._writer.write(chunk)
        self._hash.update(chunk)
        self.received += len(chunk)
        self.ctx.report(PROGRESS, self.received, self.total)

    def restart(self) -> None:
        self.abort()
        self.received = 0
        self._hash = hashlib.sha256()
        self.check.reset()

    def finish(self, info: SourceInfo) -> IngestRecord:
        if info.size is not None and self.received != info.size:
            raise NotParquet(
                f"{info.source} gave {self.received:,} bytes but announced {info.size:,}"
                " — a truncated file, refused"
            )
        facts = self.check.finish()
        return IngestRecord(
            source=info.source,
            bytes=self.received,
            etag=info.etag,
            last_modified=info.last_modified,
            rows=facts.rows,
            row_groups=facts.row_groups,
            sha256=self._hash.hexdigest(),
        )

    def commit(self) -> None:
        if self._writer is None:
            raise NotParquet(f"nothing arrived for {self.key}")
        self._writer.commit()
        self._writer = None

    def abort(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.abort()
