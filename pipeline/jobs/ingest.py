"""Ingest: one month's file from its source into the run's candidate in the raw zone, checked.

The original downloaded whatever the URL returned straight into S3. Here the file streams
through three things at once: a parquet check (the start as soon as it arrives, the footer and
the dataset's required columns at the end), a sha256, and a lake writer whose output appears
only on commit, under the run's own keys (`RunKeys`): the published month's file is never
written. Once whole, the file is decoded row group by row group (the required columns), so a
CloudFront error page, a truncated body, an unreadable footer, a file lacking a required column,
two columns differing only in case, or corrupt pages in the middle never make a candidate (the
run's raw folder is removed). The ingest record (what the source said, the row count from the
footer, the hash) is written after the file it describes.

When the published month's source still has the same strong ETag (or, for a local file, the
same size and modification time), the download is skipped as "unchanged" unless `force` is set,
and the candidate gets a copy of the published file.
"""

from __future__ import annotations

import functools
import hashlib
import queue
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from pipeline.contract.errors import InvalidInput, NotParquet
from pipeline.contract.ingest_record import IngestRecord
from pipeline.contract.layout import RAW
from pipeline.contract.months import Month
from pipeline.jobs.context import StepContext
from pipeline.jobs.parquet_check import (
    TAIL_BYTES,
    ParquetStreamCheck,
    check_decodes,
    require_pyarrow,
)
from pipeline.jobs.published import published_run
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


def run_step(ctx: StepContext) -> dict[str, Any]:
    """The IngestRaw step (pipeline.contract.steps.STEPS): default options."""
    return ingest(ctx)


def ingest(ctx: StepContext, options: IngestOptions | None = None) -> dict[str, Any]:
    """Stream ctx.source (default: TLC's URL for the month) into the run's candidate in the raw
    zone; return the figures: the record's fields, `raw` (where the file is), `unchanged` and
    `attempts`. The published month's file is never touched: publish switches to this one.
    """
    options = options or IngestOptions()
    keys = ctx.keys  # a bad run id fails here, before anything is fetched
    require_pyarrow()  # the footer check needs it: say so now, not after the download
    published = published_run(ctx.lake, ctx.dataset, ctx.month)
    if published is not None and published.run_id == ctx.run_id:
        raise InvalidInput(
            "run id",
            ctx.run_id,
            f"a new run: {ctx.run_id} is {ctx.dataset.name} {ctx.month}'s "
            "published run, whose files a run may not write again",
        )
    source = open_source(
        ctx.source or ctx.dataset.source_url(ctx.month),
        policy=options.retry,
        chunk_size=options.chunk_size,
        sleep=options.sleep,
        month=ctx.month,
        today=options.today,
    )
    prior = None
    if published is not None and not options.force:
        prior = _record_in_place(ctx.lake, published, source.name)
    # The check knows the dataset: a parquet file without its required columns is refused too.
    check = ParquetStreamCheck(source.name, options.tail_bytes, ctx.dataset)
    receiver = _RawReceiver(ctx, keys.raw_key, check)
    try:
        fetch = source.stream(
            receiver,
            if_none_match=_strong(prior.etag) if prior else None,
            skip_if=functools.partial(_unchanged, prior) if prior else None,
        )
        if fetch.skipped and prior is not None and published is not None:
            receiver.abort()
            # The candidate holds the published file again: the run's keys are its own.
            ctx.lake.copy(RAW, published.raw_key, keys.raw_key)
            ctx.lake.write_bytes(RAW, keys.ingest_record_key, prior.to_json())
            return _figures(ctx, keys.raw_key, prior, unchanged=True, attempts=fetch.attempts)
        record = receiver.finish(fetch.info)
        receiver.commit()
        _check_whole_file(ctx, keys, source.name, receiver.facts)
    except BaseException:
        receiver.abort()
        ctx.lake.delete_prefix(RAW, keys.raw_prefix)  # the candidate only: nothing published
        raise
    ctx.lake.write_bytes(RAW, keys.ingest_record_key, record.to_json())
    return _figures(ctx, keys.raw_key, record, unchanged=False, attempts=fetch.attempts)


def _check_whole_file(ctx: StepContext, keys: Any, where: str, facts: Any) -> None:
    """Decode the candidate's every row group (DamagedFile): the footer alone vouches for
    nothing in between."""
    ctx.report("checking", 0, facts.rows)
    with ctx.lake.open_reader(RAW, keys.raw_key) as file:
        check_decodes(file, where, ctx.dataset, facts)
    ctx.report("checking", facts.rows, facts.rows)


def _figures(
    ctx: StepContext, key: str, record: IngestRecord, *, unchanged: bool, attempts: int
) -> dict[str, Any]:
    return {
        **asdict(record),
        "raw": ctx.lake.uri(RAW, key),
        "unchanged": unchanged,
        "attempts": attempts,
    }


def _record_in_place(lake: Any, published: Any, source: str) -> IngestRecord | None:
    """The published file's record, if it came from `source` and raw still has the file whole."""
    if not lake.exists(RAW, published.ingest_record_key):
        return None
    record = IngestRecord.from_json(lake.read_bytes(RAW, published.ingest_record_key))
    if record is None or record.source != source:
        return None
    key = published.raw_key
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


class _HashBeside:
    """The sha256 of the chunks, computed on a thread of its own while the writer writes: both
    release the GIL on large buffers, so the hash adds no wall time beside the write (a 20M-row
    HVFHV month's 825 MB: 0.5 s of hashing). At most `_AHEAD` chunks wait for it."""

    _AHEAD = 8

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self._chunks: queue.Queue[bytes | None] = queue.Queue(maxsize=self._AHEAD)
        self._thread = threading.Thread(target=self._run, name="ingest-sha256", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            chunk = self._chunks.get()
            if chunk is None:
                return
            self._hash.update(chunk)

    def update(self, chunk: bytes) -> None:
        self._chunks.put(chunk)

    def close(self) -> None:
        if self._thread.is_alive():
            self._chunks.put(None)
            self._thread.join()

    def hexdigest(self) -> str:
        self.close()
        return self._hash.hexdigest()


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
        self.facts: Any = None
        self._hash = _HashBeside()

    def expect(self, total: int | None) -> None:
        self.total = total
        self.ctx.report(PROGRESS, self.received, total)

    def accept(self, chunk: bytes) -> None:
        chunk = bytes(chunk)  # the hash reads it later: a buffer the source reuses must not change
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
        self._hash = _HashBeside()
        self.check.reset()

    def finish(self, info: SourceInfo) -> IngestRecord:
        if info.size is not None and self.received != info.size:
            raise NotParquet(
                f"{info.source} gave {self.received:,} bytes but announced {info.size:,}"
                " — a truncated file, refused"
            )
        facts = self.facts = self.check.finish()
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
        self._hash.close()
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.abort()
