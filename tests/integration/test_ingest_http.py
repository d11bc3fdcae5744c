"""Ingest over real HTTP: a loopback server plays TLC's CloudFront, good days and bad.

The server (127.0.0.1, a free port, a thread) serves files with ETag / Last-Modified, optional
byte ranges, 304 for a matching If-None-Match, 403 for a missing file (as CloudFront does), and
scripted replies per path (a 500, a 429, an HTML page, a body cut short) consumed in order.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import threading
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.contract import datasets, layout
from pipeline.contract.datasets import YELLOW
from pipeline.contract.errors import (
    AmbiguousColumns,
    DamagedFile,
    InvalidInput,
    MissingColumn,
    NotParquet,
    SourceBlocked,
    SourceNotPublished,
    SourceUnavailable,
)
from pipeline.contract.layout import RAW, RunKeys
from pipeline.contract.months import Month
from pipeline.contract.publication import Publication
from pipeline.jobs.context import StepContext
from pipeline.jobs.ingest import IngestOptions, run_step
from pipeline.jobs.ingest import ingest as ingest_step
from pipeline.jobs.published import published_run
from pipeline.jobs.source import RetryPolicy
from pipeline.storage.lake import LocalLake

MONTH = Month(2024, 9)
PATH = f"/trip-data/{YELLOW.file_name(MONTH)}"
CHUNK = 64 * 1024
HTML = b"<!DOCTYPE html>\n<html><head><title>Error</title></head><body>Not here</body></html>\n"


def trip_columns(rows: int, drop: tuple[str, ...] = ()) -> dict[str, list]:
    """The columns yellow requires (2011+ names), less `drop`: what ingest asks of a file."""
    start = datetime(2024, 9, 1)
    columns = {
        "tpep_pickup_datetime": [start + timedelta(minutes=i) for i in range(rows)],
        "tpep_dropoff_datetime": [start + timedelta(minutes=i + 9) for i in range(rows)],
        "trip_distance": [1.5] * rows,
        "fare_amount": [10.0] * rows,
        "total_amount": [12.5] * rows,
    }
    return {name: values for name, values in columns.items() if name not in drop}


def make_parquet(rows: int, payload: int = 0, seed: int = 0, drop: tuple[str, ...] = ()) -> bytes:
    """A valid yellow parquet file; `payload` random bytes per row make it as large as needed."""
    rng = random.Random(seed)
    table = pa.table(
        {
            **trip_columns(rows, drop),
            "n": list(range(rows)),
            "blob": [rng.randbytes(payload) for _ in range(rows)],
        }
    )
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="none", row_group_size=max(1, rows // 4))
    return buffer.getvalue()


@dataclass
class Reply:
    status: int = 200
    body: bytes | None = None  # None: the path's file as usual (304, ranges), cut if cut_at
    headers: dict[str, str] = field(default_factory=dict)
    cut_at: int | None = None  # announce the whole length, send only this many bytes


@dataclass
class Origin:
    files: dict[str, bytes] = field(default_factory=dict)
    script: dict[str, list[Reply]] = field(default_factory=dict)
    etags: bool = True
    ranges: bool = False
    requests: list[dict[str, str]] = field(default_factory=list)

    def etag(self, path: str) -> str:
        return '"' + hashlib.md5(self.files[path]).hexdigest() + '"'  # noqa: S324 - as S3 does

    def file_headers(self, path: str) -> dict[str, str]:
        headers = {"Last-Modified": formatdate(1_700_000_000, usegmt=True)}
        if self.etags:
            headers["ETag"] = self.etag(path)
        if self.ranges:
            headers["Accept-Ranges"] = "bytes"
        return headers


class _Handler(BaseHTTPRequestHandler):
    server: Any

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        origin: Origin = self.server.origin
        origin.requests.append({"path": self.path, **dict(self.headers.items())})
        queue = origin.script.get(self.path)
        reply = queue.pop(0) if queue else Reply()
        if reply.body is not None:
            return self._send(reply.status, reply.body, reply.headers, reply.cut_at)
        body = origin.files.get(self.path)
        if body is None:
            return self._send(403, b"<?xml version='1.0'?><Error>AccessDenied</Error>", {})
        headers = origin.file_headers(self.path)
        if origin.etags and self.headers.get("If-None-Match") == headers["ETag"]:
            return self._send(304, b"", headers)
        wanted = self.headers.get("Range", "")
        if origin.ranges and wanted and self.headers.get("If-Range") == headers.get("ETag"):
            start = int(wanted.removeprefix("bytes=").rstrip("-"))
            headers["Content-Range"] = f"bytes {start}-{len(body) - 1}/{len(body)}"
            return self._send(206, body[start:], headers, reply.cut_at)
        return self._send(200, body, headers, reply.cut_at)

    def _send(self, status: int, body: bytes, headers: dict[str, str], cut_at=None) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        # HTTP/1.0: the connection closes after this, so a cut body ends early at the client.
        self.wfile.write(body if cut_at is None else body[:cut_at])


@pytest.fixture
def origin():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.origin = Origin()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    server.origin.base = f"http://127.0.0.1:{server.server_address[1]}"
    yield server.origin
    server.shutdown()
    server.server_close()
    thread.join()


class SpyLake(LocalLake):
    """A real LocalLake that notes the raw file's writers and writes, and can act mid-download."""

    def __init__(self, root) -> None:
        super().__init__(root)
        self.writes: list[int] = []
        self.writers = 0
        self.copies = 0
        self.copying = False
        self.on_write: Any = None

    def copy(self, zone: str, source_key: str, key: str) -> None:
        self.copies += 1
        self.copying = True
        try:
            super().copy(zone, source_key, key)
        finally:
            self.copying = False

    def open_writer(self, zone: str, key: str):
        writer = super().open_writer(zone, key)
        if zone != RAW or not key.endswith(YELLOW.file_name(MONTH)) or self.copying:
            return writer  # the ingest record, or a copy of the published file
        self.writers += 1
        spy = self

        class _Spy:
            def write(self, data: bytes) -> None:
                spy.writes.append(len(data))
                if spy.on_write is not None:
                    spy.on_write()
                writer.write(data)

            def commit(self) -> None:
                writer.commit()

            def abort(self) -> None:
                writer.abort()

        return _Spy()


@pytest.fixture
def lake(tmp_path):
    return SpyLake(tmp_path / "lake")


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def options(sleeps):
    policy = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.02, timeout=10)
    return IngestOptions(retry=policy, chunk_size=CHUNK, sleep=sleeps.append)


_RUNS = iter(range(1, 1000))


def context(lake, source, progress=None) -> StepContext:
    """A new run of the month (each ingest writes a candidate of its own)."""
    return StepContext(
        dataset=YELLOW, month=MONTH, lake=lake, run_id=f"run-{next(_RUNS)}", source=source,
        progress=progress,
    )  # fmt: skip


def ingest(ctx: StepContext, options: IngestOptions | None = None) -> dict[str, Any]:
    """Ingest, then publish the run as the later steps would when it passes (the pointer) and
    drop the run it replaced, so each test reads "the month's raw file" as readers do."""
    figures = ingest_step(ctx, options)
    before = published_run(ctx.lake, YELLOW, MONTH)
    pointer = Publication("yellow", str(MONTH), ctx.run_id, "2024-11-01T00:00:00+00:00",
                          "duckdb", False, {}, "", 0, "")  # fmt: skip
    ctx.lake.write_bytes("processed", layout.published_key(YELLOW, MONTH), pointer.to_json())
    if before is not None:
        ctx.lake.delete_prefix(RAW, before.raw_prefix)
    return figures


def published(lake) -> RunKeys:
    keys = published_run(lake, YELLOW, MONTH)
    assert keys is not None, "no published run"
    return keys


def raw_bytes(lake) -> bytes:
    return lake.read_bytes(RAW, published(lake).raw_key)


def record(lake) -> dict[str, Any]:
    return json.loads(lake.read_bytes(RAW, published(lake).ingest_record_key))


def leftovers(lake) -> list[str]:
    """Every file of the month's runs in the raw zone (temporary files included): a refused
    run leaves none, so only the published run's remain."""
    folder = lake.path(RAW, layout.runs_prefix(YELLOW, MONTH))
    return sorted(p.name for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []


def test_streams_in_chunks_and_records_what_arrived(origin, lake, options):
    data = make_parquet(rows=40, payload=50_000)  # ~2 MB, ~31 chunks
    origin.files[PATH] = data
    progress = []

    figures = ingest(
        context(lake, origin.base + PATH, progress=lambda *a: progress.append(a)), options
    )

    assert raw_bytes(lake) == data
    assert len(lake.writes) >= len(data) // CHUNK
    assert max(lake.writes) <= CHUNK  # never the whole file in one write
    downloads = [step for step in progress if step[0] == "download"]
    assert downloads[-1] == ("download", len(data), len(data))
    assert [done for _, done, _ in downloads] == sorted(done for _, done, _ in downloads)
    # then every row group is decoded before the candidate is accepted
    assert progress[-1] == ("checking", 40, 40)
    expected = {
        "source": origin.base + PATH,
        "bytes": len(data),
        "etag": origin.etag(PATH),
        "last_modified": "Tue, 14 Nov 2023 22:13:20 GMT",
        "rows": 40,
        "row_groups": 4,
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    assert record(lake) == expected
    raw = lake.uri(RAW, published(lake).raw_key)
    assert figures == {**expected, "raw": raw, "unchanged": False, "attempts": 1}
    assert leftovers(lake) == ["_ingest.json", YELLOW.file_name(MONTH)]


def test_default_source_is_tlc_url_for_the_month(origin, lake, monkeypatch):
    origin.files[PATH] = make_parquet(rows=3)
    monkeypatch.setattr(datasets, "TLC_BASE_URL", origin.base + "/trip-data")

    figures = run_step(context(lake, None))

    assert figures["source"] == origin.base + PATH
    assert figures["rows"] == 3


def test_retries_after_a_500_then_succeeds(origin, lake, options, sleeps):
    origin.files[PATH] = make_parquet(rows=8)
    origin.script[PATH] = [Reply(500, b"internal error", {"Content-Type": "text/plain"})]

    figures = ingest(context(lake, origin.base + PATH), options)

    assert figures["attempts"] == 2
    assert len(origin.requests) == 2
    assert len(sleeps) == 1
    assert 0.005 <= sleeps[0] <= 0.01
    assert raw_bytes(lake) == origin.files[PATH]


def test_429_waits_as_long_as_retry_after_says(origin, lake, options, sleeps):
    origin.files[PATH] = make_parquet(rows=8)
    origin.script[PATH] = [Reply(429, b"slow down", {"Retry-After": "7"})]

    figures = ingest(context(lake, origin.base + PATH), options)

    assert sleeps == [7.0]
    assert figures["rows"] == 8


def test_gives_up_after_the_configured_attempts(origin, lake, options, sleeps):
    origin.files[PATH] = make_parquet(rows=8)
    origin.script[PATH] = [Reply(503, b"busy") for _ in range(5)]

    with pytest.raises(SourceUnavailable, match="after 3 attempts in a row: HTTP 503") as failed:
        ingest(context(lake, origin.base + PATH), options)

    assert origin.base + PATH in str(failed.value)
    assert len(origin.requests) == 3
    assert len(sleeps) == 2
    assert leftovers(lake) == []


def test_403_for_a_recent_month_means_not_published_and_is_not_retried(origin, lake, options):
    url = origin.base + PATH  # no file at that path: CloudFront answers S3's 403 AccessDenied XML

    with pytest.raises(SourceNotPublished) as refused:
        ingest(context(lake, url), replace(options, today=MONTH.plus(2)))

    assert "not published" in str(refused.value)
    assert url in str(refused.value)
    assert len(origin.requests) == 1
    assert lake.writers == 0
    assert not (lake.root / RAW).exists()


# What a WAF (or a proxy, or CloudFront's own blocking) sends instead of the file.
WAF_PAGE = (
    b"<!DOCTYPE html><html><head><title>403 Forbidden</title></head><body><h1>403 Forbidden"
    b"</h1><p>Request blocked. We can't connect to the server for this app or website at this "
    b"time.</p><p>Generated by cloudfront (CloudFront)</p></body></html>"
)


def test_a_waf_page_is_blocked_not_unpublished_even_for_a_recent_month(origin, lake, options):
    url = origin.base + PATH
    origin.files[PATH] = make_parquet(rows=3)  # the file exists: the way to it is blocked
    headers = {"Content-Type": "text/html", "X-Cache": "Error from cloudfront"}
    origin.script[PATH] = [Reply(403, WAF_PAGE, headers)]

    with pytest.raises(SourceBlocked) as blocked:
        ingest(context(lake, url), replace(options, today=MONTH.plus(1)))

    message = str(blocked.value)
    assert message.startswith(f"{url} answered HTTP 403, and not with S3's missing-file XML")
    assert "(HTTP 403; Content-Type: text/html; " in message
    assert "; X-Cache: Error from cloudfront; " in message
    assert 'body starts "<!DOCTYPE html><html><head><title>403 Forbidden</title>' in message
    assert "egress (NAT gateway, proxy, firewall rules)" in message
    assert "WAF" in message
    assert len(origin.requests) == 1  # not retried
    assert not (lake.root / RAW).exists()


def test_a_missing_file_answer_for_a_month_published_long_ago_is_blocked(origin, lake, options):
    url = origin.base + PATH  # S3's AccessDenied XML, but for a month that must exist

    with pytest.raises(SourceBlocked) as blocked:
        ingest(context(lake, url), replace(options, today=MONTH.plus(12)))

    message = str(blocked.value)
    assert message.startswith(f"{url} answered HTTP 403 as a missing file (HTTP 403; ")
    assert "body starts \"<?xml version='1.0'?><Error>AccessDenied</Error>\"" in message
    assert "TLC published that month long ago (more than 6 months back)" in message
    assert "check the URL (dataset, month, --source)" in message
    assert len(origin.requests) == 1


def test_html_page_is_refused_and_the_previous_good_file_stays(origin, lake, options):
    good = make_parquet(rows=8)
    origin.files[PATH] = good
    ingest(context(lake, origin.base + PATH), options)
    before = record(lake)
    origin.script[PATH] = [Reply(200, HTML + b" " * 500_000, {"Content-Type": "text/html"})]

    with pytest.raises(NotParquet) as refused:
        ingest(context(lake, origin.base + PATH), replace(options, force=True))

    assert "starts with '<!DOCTYPE html>' — an HTML page, not parquet" in str(refused.value)
    assert origin.base + PATH in str(refused.value)
    assert raw_bytes(lake) == good
    assert record(lake) == before
    assert leftovers(lake) == ["_ingest.json", YELLOW.file_name(MONTH)]
    assert len(origin.requests) == 2  # refused, not retried
    assert lake.writers == 1  # refused on its first chunk: no writer was even opened for it


def _hashing_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "ingest-sha256"]


def test_the_hash_beside_the_write_ends_with_every_ingest(origin, lake, options):
    # The sha256 runs on a thread beside the write: a refused, a retried-then-good and a
    # skipped ingest each leave none behind, and the good one's hash is the file's.
    good = make_parquet(rows=8)
    origin.files[PATH] = good
    origin.script[PATH] = [Reply(500, b"busy")]
    figures = ingest(context(lake, origin.base + PATH), options)
    assert figures["sha256"] == hashlib.sha256(good).hexdigest()
    assert _hashing_threads() == []
    origin.script[PATH] = [Reply(200, HTML + b" " * 500_000, {"Content-Type": "text/html"})]
    with pytest.raises(NotParquet):
        ingest(context(lake, origin.base + PATH), replace(options, force=True))
    assert _hashing_threads() == []
    assert ingest(context(lake, origin.base + PATH), options)["unchanged"]
    assert _hashing_threads() == []


def test_parquet_without_a_required_column_is_refused_and_the_good_file_stays(
    origin, lake, options
):
    good = make_parquet(rows=8)
    origin.files[PATH] = good
    ingest(context(lake, origin.base + PATH), options)
    before = record(lake)
    # Valid parquet, the right size, a readable footer; it only lacks the fare (any spelling).
    origin.files[PATH] = make_parquet(rows=9, payload=20_000, drop=("fare_amount",))

    with pytest.raises(MissingColumn) as refused:
        ingest(context(lake, origin.base + PATH), options)

    message = str(refused.value)
    assert origin.base + PATH in message
    assert "'fare_amount' (looked for fare_amount, Fare_Amt, any case)" in message
    assert "total_amount" not in message.split("; it has")[0]  # only what is missing is named
    assert raw_bytes(lake) == good
    assert record(lake) == before
    assert leftovers(lake) == ["_ingest.json", YELLOW.file_name(MONTH)]
    assert len(origin.requests) == 2  # refused for its content, not retried


def test_required_columns_are_found_under_any_era_name_and_case(origin, lake, options):
    table = pa.table(trip_columns(6))
    # 2009's spellings, in another case: transform reads these, so ingest must accept them.
    renames = {
        "tpep_pickup_datetime": "TRIP_PICKUP_DATETIME",
        "tpep_dropoff_datetime": "trip_dropoff_datetime",
        "fare_amount": "Fare_Amt",
        "total_amount": "TOTAL_AMT",
    }
    table = table.rename_columns([renames.get(name, name) for name in table.column_names])
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    origin.files[PATH] = buffer.getvalue()

    figures = ingest(context(lake, origin.base + PATH), options)

    assert figures["rows"] == 6
    assert raw_bytes(lake) == buffer.getvalue()


def test_body_shorter_than_content_length_is_retried_then_refused(origin, lake, options):
    data = make_parquet(rows=20, payload=10_000)
    origin.files[PATH] = data
    origin.script[PATH] = [Reply(cut_at=len(data) // 2) for _ in range(3)]

    with pytest.raises(NotParquet, match="truncated file") as refused:
        ingest(context(lake, origin.base + PATH), options)

    assert f"{len(data) // 2:,} of the {len(data):,} bytes" in str(refused.value)
    assert len(origin.requests) == 3
    assert leftovers(lake) == []


def test_file_missing_its_end_is_refused_without_retry(origin, lake, options):
    data = make_parquet(rows=20, payload=1_000)
    origin.files[PATH] = data[:-100]  # served whole, Content-Length agrees: nothing to retry

    with pytest.raises(NotParquet, match="not parquet's 'PAR1' magic — a truncated"):
        ingest(context(lake, origin.base + PATH), options)

    assert len(origin.requests) == 1
    assert leftovers(lake) == []


def test_interrupted_download_resumes_with_a_range_request(origin, lake, options):
    data = make_parquet(rows=20, payload=20_000)
    origin.files[PATH] = data
    origin.ranges = True
    cut = 5 * CHUNK + 123
    origin.script[PATH] = [Reply(cut_at=cut)]

    figures = ingest(context(lake, origin.base + PATH), options)

    assert raw_bytes(lake) == data
    assert figures["sha256"] == hashlib.sha256(data).hexdigest()
    resumed = origin.requests[1]
    assert resumed["Range"] == f"bytes={cut}-"
    assert resumed["If-Range"] == origin.etag(PATH)
    assert sum(lake.writes) == len(data)
    assert lake.writers == 1


def test_a_download_that_keeps_resuming_further_is_not_given_up(origin, lake, options):
    data = make_parquet(rows=20, payload=20_000)
    origin.files[PATH] = data
    origin.ranges = True
    origin.script[PATH] = [Reply(cut_at=CHUNK) for _ in range(4)]  # more cuts than attempts

    figures = ingest(context(lake, origin.base + PATH), options)

    assert raw_bytes(lake) == data
    assert figures["attempts"] == 5
    assert [r.get("Range") for r in origin.requests] == [None] + [
        f"bytes={n * CHUNK}-" for n in range(1, 5)
    ]


def test_interrupted_download_restarts_when_the_server_has_no_ranges(origin, lake, options):
    data = make_parquet(rows=20, payload=20_000)
    origin.files[PATH] = data
    origin.script[PATH] = [Reply(cut_at=3 * CHUNK)]

    figures = ingest(context(lake, origin.base + PATH), options)

    assert raw_bytes(lake) == data
    assert figures["sha256"] == hashlib.sha256(data).hexdigest()
    assert "Range" not in origin.requests[1]
    assert lake.writers == 2
    assert sum(lake.writes) == 3 * CHUNK + len(data)


def test_file_changed_between_attempts_is_taken_whole_from_the_start(origin, lake, options):
    old, new = make_parquet(rows=20, payload=20_000), make_parquet(rows=21, payload=20_000, seed=1)
    origin.files[PATH] = old
    origin.ranges = True
    origin.script[PATH] = [Reply(cut_at=2 * CHUNK)]
    lake.on_write = lambda: origin.files.__setitem__(PATH, new)  # published anew mid-download

    figures = ingest(context(lake, origin.base + PATH), options)

    assert raw_bytes(lake) == new  # If-Range failed, so the server sent the new file whole
    assert figures["rows"] == 21
    assert figures["etag"] == origin.etag(PATH)


def test_local_path_source(lake, options, sample5):
    figures = ingest(context(lake, str(sample5)), options)

    assert raw_bytes(lake) == sample5.read_bytes()
    assert (figures["rows"], figures["row_groups"], figures["etag"]) == (5, 1, None)
    assert figures["source"] == str(sample5.resolve())
    assert record(lake)["sha256"] == hashlib.sha256(sample5.read_bytes()).hexdigest()


def test_reingest_replaces_the_month_whole_and_atomically(origin, lake, options):
    first, second = make_parquet(rows=10, payload=20_000), make_parquet(rows=12, payload=20_000)
    origin.files[PATH] = first
    ingest(context(lake, origin.base + PATH), options)
    origin.files[PATH] = second
    seen_during = set()
    lake.on_write = lambda: seen_during.add(raw_bytes(lake) == first)

    figures = ingest(context(lake, origin.base + PATH), options)

    assert seen_during == {True}  # readers saw the old whole file during the whole download
    assert raw_bytes(lake) == second
    assert record(lake)["sha256"] == hashlib.sha256(second).hexdigest()
    assert figures["rows"] == 12
    assert figures["unchanged"] is False
    assert leftovers(lake) == ["_ingest.json", YELLOW.file_name(MONTH)]


def test_unchanged_source_is_not_downloaded_again_unless_forced(origin, lake, options):
    data = make_parquet(rows=10, payload=20_000)
    origin.files[PATH] = data
    ingest(context(lake, origin.base + PATH), options)
    writers = lake.writers

    again = ingest(context(lake, origin.base + PATH), options)

    assert origin.requests[-1]["If-None-Match"] == origin.etag(PATH)
    assert again["unchanged"] is True
    assert again["rows"] == 10
    assert again["bytes"] == len(data)
    assert lake.writers == writers  # 304: nothing downloaded, the published file copied
    assert lake.copies == 1
    assert raw_bytes(lake) == data
    forced = ingest(context(lake, origin.base + PATH), replace(options, force=True))
    assert "If-None-Match" not in origin.requests[-1]
    assert forced["unchanged"] is False
    assert lake.writers == writers + 1


def test_unchanged_needs_the_raw_file_the_record_describes(origin, lake, options):
    origin.files[PATH] = make_parquet(rows=10)
    ingest(context(lake, origin.base + PATH), options)
    os.remove(lake.path(RAW, published(lake).raw_key))

    figures = ingest(context(lake, origin.base + PATH), options)

    assert figures["unchanged"] is False
    assert raw_bytes(lake) == origin.files[PATH]


def test_last_modified_alone_does_not_make_a_file_unchanged(origin, lake, options):
    origin.etags = False  # like http.server: Last-Modified to the second, no ETag
    origin.files[PATH] = make_parquet(rows=10)
    ingest(context(lake, origin.base + PATH), options)
    origin.files[PATH] = make_parquet(rows=10, seed=3)  # same size, same second

    figures = ingest(context(lake, origin.base + PATH), options)

    assert figures["unchanged"] is False
    assert raw_bytes(lake) == origin.files[PATH]


def test_unusable_source_is_refused_before_anything_is_written(lake, options):
    with pytest.raises(InvalidInput, match="invalid source"):
        ingest(context(lake, "s3://somewhere/else.parquet"), options)
    assert lake.writers == 0
    assert not lake.root.exists()


def _no_proxy_settings(monkeypatch) -> None:
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_a_proxy_in_the_environment_is_bypassed_for_loopback(
    origin, lake, options, monkeypatch, host
):
    _no_proxy_settings(monkeypatch)
    # Nothing listens there: a request sent to this proxy would be refused.
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    origin.files[PATH] = make_parquet(rows=8)
    url = origin.base.replace("127.0.0.1", host) + PATH

    figures = ingest(context(lake, url), options)

    assert figures["attempts"] == 1
    assert [r["path"] for r in origin.requests] == [PATH]  # came straight here, not via a proxy
    assert raw_bytes(lake) == origin.files[PATH]


def test_a_proxy_in_the_environment_is_still_used_for_other_hosts(
    origin, lake, options, monkeypatch
):
    _no_proxy_settings(monkeypatch)
    monkeypatch.setenv("http_proxy", origin.base)  # the loopback server plays the proxy
    url = f"http://tlc.example.invalid{PATH}"  # .invalid never resolves: only a proxy reaches it
    origin.files[url] = make_parquet(rows=8)  # a proxy is asked for the absolute URL

    figures = ingest(context(lake, url), options)

    assert [r["path"] for r in origin.requests] == [url]
    assert figures["source"] == url
    assert raw_bytes(lake) == origin.files[url]


def damaged_parquet(rows: int = 4000) -> bytes:
    """A snappy parquet file whose header and footer are intact but whose third row group's
    pickup pages are overwritten: what a bad disk or a broken re-publication gives."""
    table = pa.table(trip_columns(rows))
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="snappy", row_group_size=rows // 4)
    data = bytearray(buffer.getvalue())
    chunk = pq.ParquetFile(io.BytesIO(bytes(data))).metadata.row_group(2).column(0)
    start = chunk.data_page_offset
    data[start + 8 : start + chunk.total_compressed_size - 8] = b"\xff" * (
        chunk.total_compressed_size - 16
    )
    return bytes(data)


def test_a_damaged_file_is_refused_naming_what_is_damaged_and_nothing_changes(
    origin, lake, options
):
    good = make_parquet(rows=8)
    origin.files[PATH] = good
    ingest(context(lake, origin.base + PATH), options)
    before = record(lake)
    origin.files[PATH] = damaged_parquet()

    with pytest.raises(DamagedFile) as refused:
        ingest(context(lake, origin.base + PATH), options)

    message = str(refused.value)
    assert origin.base + PATH in message
    assert "row group 3 of 4, column 'tpep_pickup_datetime', does not decode" in message
    assert (raw_bytes(lake), record(lake)) == (good, before)
    assert leftovers(lake) == ["_ingest.json", YELLOW.file_name(MONTH)]  # no candidate left


def test_columns_differing_only_in_case_are_refused_before_they_replace_anything(
    origin, lake, options
):
    columns = {**trip_columns(5), "Airport_fee": [1.25] * 5, "airport_fee": [0.0] * 5}
    buffer = io.BytesIO()
    pq.write_table(pa.table(columns), buffer)
    origin.files[PATH] = buffer.getvalue()

    with pytest.raises(AmbiguousColumns, match="'Airport_fee' and 'airport_fee'"):
        ingest(context(lake, origin.base + PATH), options)

    assert leftovers(lake) == []


def test_a_run_may_not_write_the_published_run_again(origin, lake, options):
    origin.files[PATH] = make_parquet(rows=8)
    first = context(lake, origin.base + PATH)
    ingest(first, options)

    with pytest.raises(InvalidInput, match="published run"):
        ingest_step(replace(first), options)
    assert raw_bytes(lake) == origin.files[PATH]


def test_a_presigned_urls_query_never_reaches_the_record_the_logs_or_an_error(
    origin, lake, options, caplog
):
    signed = PATH + "?X-Amz-Credential=AKIAEXAMPLE&X-Amz-Signature=SECRET"
    data = make_parquet(rows=10)
    origin.files[signed] = data
    origin.script[signed] = [Reply(status=503, body=b"busy")]  # one retry: a logged warning

    with caplog.at_level("WARNING"):
        figures = ingest(context(lake, origin.base + signed), options)

    assert raw_bytes(lake) == data
    assert origin.requests[-1]["path"] == signed  # the signature is what was sent
    assert record(lake)["source"] == figures["source"] == origin.base + PATH + "?…"
    assert "retrying" in caplog.text
    written = json.dumps(figures) + json.dumps(record(lake)) + caplog.text
    assert "SECRET" not in written
    assert "AKIAEXAMPLE" not in written

    origin.script[signed] = [Reply(status=503, body=b"busy")] * 5
    with pytest.raises(SourceUnavailable) as failed:
        ingest(context(lake, origin.base + signed), replace(options, force=True))
    assert "SECRET" not in str(failed.value)
    assert f"{origin.base}{PATH}?…" in str(failed.value)
