"""Ingest into S3 (moto): multipart for large files, no object and no pending upload on refusal."""

from __future__ import annotations

import hashlib
import io
import json
import random
import tracemalloc
from datetime import datetime, timedelta
from pathlib import Path

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from pipeline.contract.datasets import YELLOW
from pipeline.contract.errors import NotParquet
from pipeline.contract.layout import RunKeys
from pipeline.contract.months import Month
from pipeline.dev import synthetic
from pipeline.jobs.context import StepContext
from pipeline.jobs.ingest import IngestOptions, ingest
from pipeline.storage import lake as lake_module
from pipeline.storage.lake import S3Lake

RAW_BUCKET, PROCESSED_BUCKET = "tlc-elt-raw-test", "tlc-elt-processed-test"
MONTH = Month(2024, 9)
RUN = RunKeys(YELLOW, MONTH, "yellow-2024-09-manual-20241101T120000Z")
KEY = RUN.raw_key
MIB = 1024 * 1024


def make_parquet(path: Path, rows: int, payload: int) -> bytes:
    rng = random.Random(rows)
    start = datetime(2024, 9, 1)
    table = pa.table(
        {
            "tpep_pickup_datetime": [start + timedelta(minutes=i) for i in range(rows)],
            "tpep_dropoff_datetime": [start + timedelta(minutes=i + 9) for i in range(rows)],
            "trip_distance": [1.5] * rows,
            "fare_amount": [10.0] * rows,
            "total_amount": [12.5] * rows,
            "n": list(range(rows)),
            "blob": [rng.randbytes(payload) for _ in range(rows)],
        }
    )
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="none", row_group_size=4)
    path.write_bytes(buffer.getvalue())
    return buffer.getvalue()


@pytest.fixture
def s3(monkeypatch):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=RAW_BUCKET)
        client.create_bucket(Bucket=PROCESSED_BUCKET)
        yield client


@pytest.fixture
def parts_sent(s3):
    """UploadPart calls that reached (moto's) S3, counted from botocore's own events."""
    sent: list[int] = []
    s3.meta.events.register("after-call.s3.UploadPart", lambda **_: sent.append(1))
    return sent


@pytest.fixture
def small_parts(monkeypatch):
    # S3's real minimum part size (moto enforces it too): files of ~11 MiB make 3 parts.
    monkeypatch.setattr(lake_module, "PART_SIZE", 5 * MIB)


def ctx(s3, source: Path, run_id: str = RUN.run_id) -> StepContext:
    lake = S3Lake(RAW_BUCKET, PROCESSED_BUCKET, s3=s3)
    return StepContext(dataset=YELLOW, month=MONTH, lake=lake, run_id=run_id, source=str(source))


def objects(s3) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=RAW_BUCKET).get("Contents", [])]


def pending_uploads(s3) -> list[dict]:
    return s3.list_multipart_uploads(Bucket=RAW_BUCKET).get("Uploads", [])


def test_large_file_goes_up_in_parts_with_its_record(s3, small_parts, parts_sent, tmp_path):
    data = make_parquet(tmp_path / "month.parquet", rows=11, payload=MIB)

    figures = ingest(ctx(s3, tmp_path / "month.parquet"))

    stored = s3.get_object(Bucket=RAW_BUCKET, Key=KEY)
    assert stored["Body"].read() == data
    assert stored["ETag"].endswith('-3"')  # S3's ETag of a 3-part multipart upload
    assert len(parts_sent) == 3
    assert pending_uploads(s3) == []
    record = json.loads(s3.get_object(Bucket=RAW_BUCKET, Key=RUN.ingest_record_key)["Body"].read())
    assert record == {
        "source": str((tmp_path / "month.parquet").resolve()),
        "bytes": len(data),
        "etag": None,
        "last_modified": figures["last_modified"],
        "rows": 11,
        "row_groups": 3,
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    assert figures["raw"] == f"s3://{RAW_BUCKET}/{KEY}"


def test_refusal_after_parts_were_sent_aborts_the_upload(s3, small_parts, parts_sent, tmp_path):
    data = make_parquet(tmp_path / "good.parquet", rows=11, payload=MIB)
    (tmp_path / "cut.parquet").write_bytes(data[:-100])  # starts right, ends wrong

    with pytest.raises(NotParquet, match="truncated"):
        ingest(ctx(s3, tmp_path / "cut.parquet"))

    assert len(parts_sent) == 2  # the refusal came after real parts were uploaded...
    assert pending_uploads(s3) == []  # ...and the upload was aborted, not left pending
    assert objects(s3) == []


def test_refusal_leaves_the_previous_month_file_and_record(s3, small_parts, tmp_path):
    good = make_parquet(tmp_path / "good.parquet", rows=11, payload=MIB)
    ingest(ctx(s3, tmp_path / "good.parquet"))
    (tmp_path / "page.parquet").write_bytes(b"<html><body>Service Unavailable</body></html>" * 10)

    with pytest.raises(NotParquet, match="an HTML page"):
        ingest(ctx(s3, tmp_path / "page.parquet", run_id="a-later-run"))

    assert s3.get_object(Bucket=RAW_BUCKET, Key=KEY)["Body"].read() == good
    assert sorted(objects(s3)) == sorted([KEY, RUN.ingest_record_key])
    assert pending_uploads(s3) == []


@pytest.fixture(scope="module")
def script(glue_script):
    return glue_script("ingest_raw")


def test_glue_script_ingests_into_the_raw_bucket(script, s3, tmp_path, capsys, sample5):
    argv = [
        "ingest_raw.py",
        "--JOB_ID", "j_1", "--job-bookmark-option", "job-bookmark-disable",  # Glue's own
        "--dataset", "yellow", "--year", "2024", "--month", "9",
        "--raw_bucket", RAW_BUCKET, "--processed_bucket", PROCESSED_BUCKET,
        "--run_id", RUN.run_id, "--source", str(sample5),
    ]  # fmt: skip

    figures = script.main(argv, s3=s3)

    assert s3.get_object(Bucket=RAW_BUCKET, Key=KEY)["Body"].read() == sample5.read_bytes()
    assert figures["rows"] == 5
    printed = capsys.readouterr().out.splitlines()
    assert "(100%)" in printed[-2]
    assert json.loads(printed[-1]) == figures  # the figures land in the job's log


class CountingS3:
    """Just enough of an S3 client for ingest; keeps the uploaded parts on disk (not in this
    process's memory, which the test measures) and serves ingest's ranged reads back from it."""

    def __init__(self, spool: Path) -> None:
        self.part_bytes = 0
        self.parts = 0
        self.completed = False
        self.spool = spool
        spool.write_bytes(b"")

    def head_object(self, *, Key: str, **_: object) -> dict:
        if not self.completed or not Key.endswith(".parquet"):
            raise _missing("HeadObject")
        return {"ContentLength": self.spool.stat().st_size}

    def get_object(self, *, Key: str, Range: str = "", **_: object) -> dict:
        if not (self.completed and Key.endswith(".parquet") and Range):
            raise _missing("GetObject")  # no month published yet
        first, last = (int(n) for n in Range.removeprefix("bytes=").split("-"))
        with self.spool.open("rb") as file:
            file.seek(first)
            return {"Body": io.BytesIO(file.read(last - first + 1))}

    def create_multipart_upload(self, **_: object) -> dict:
        return {"UploadId": "u-1"}

    def upload_part(self, *, Body: bytes, **_: object) -> dict:
        with self.spool.open("ab") as file:
            file.write(Body)
        self.part_bytes += len(Body)
        self.parts += 1
        return {"ETag": f'"e{self.parts}"'}

    def complete_multipart_upload(self, **_: object) -> dict:
        self.completed = True
        return {}

    def abort_multipart_upload(self, **_: object) -> dict:
        raise AssertionError("nothing was refused: no upload to abort")

    def put_object(self, **_: object) -> dict:  # the ingest record
        return {}

    def get_paginator(self, _name: str):
        class _Empty:
            def paginate(self, **_: object) -> list[dict]:
                return [{}]  # no record in place yet

        return _Empty()


def _missing(operation: str) -> ClientError:
    error = {"Error": {"Code": "NoSuchKey"}, "ResponseMetadata": {"HTTPStatusCode": 404}}
    return ClientError(error, operation)


def test_ingest_memory_stays_flat_as_the_file_grows(tmp_path):
    peaks = {}
    for mib in (8, 64):
        source = tmp_path / f"{mib}.parquet"
        size = synthetic.write_payload_file(source, YELLOW, mib)
        client = CountingS3(tmp_path / "spool")
        context = StepContext(
            dataset=YELLOW, month=MONTH, lake=S3Lake(RAW_BUCKET, PROCESSED_BUCKET, s3=client),
            run_id=f"run-{mib}", source=str(source),
        )  # fmt: skip
        tracemalloc.start()
        try:
            figures = ingest(context, IngestOptions(force=True))
            peaks[mib] = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        source.unlink()
        # The whole file went up, in parts, through the ingest under test.
        assert (figures["bytes"], client.part_bytes, client.completed) == (size, size, True)
        assert client.parts == -(-size // lake_module.PART_SIZE)

    # Bounded by a constant (one part buffered, the footer window, a chunk in flight; measured
    # ~24 MiB), not by the file: 8x the file, the same peak give or take a little.
    assert peaks[8] < 40 * MIB, peaks
    assert peaks[64] < 40 * MIB, peaks
    assert abs(peaks[64] - peaks[8]) < 4 * MIB, peaks
