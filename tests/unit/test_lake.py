"""The lake's guarantees: a writer's file appears whole on commit or not at all, in both lakes."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import ANY, Stubber

from pipeline.contract.errors import InvalidInput, MissingInput
from pipeline.contract.layout import PROCESSED, RAW
from pipeline.storage import lake as lake_module
from pipeline.storage.lake import LocalLake, S3Lake

KEY = "yellow/year=2024/month=09/yellow_tripdata_2024-09.parquet"


def _visible_files(root) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_local_writer_shows_nothing_until_commit(tmp_path):
    lake = LocalLake(tmp_path)
    writer = lake.open_writer(RAW, KEY)
    writer.write(b"PAR1")
    writer.write(b"rest")

    assert not lake.exists(RAW, KEY)
    writer.commit()
    assert lake.read_bytes(RAW, KEY) == b"PAR1rest"
    assert _visible_files(tmp_path) == [f"raw/{KEY}"]  # the temporary file is gone


def test_local_writer_replaces_previous_file_only_on_commit(tmp_path):
    lake = LocalLake(tmp_path)
    lake.write_bytes(RAW, KEY, b"old")
    writer = lake.open_writer(RAW, KEY)
    writer.write(b"new")

    assert lake.read_bytes(RAW, KEY) == b"old"
    writer.commit()
    assert lake.read_bytes(RAW, KEY) == b"new"


def test_local_abort_keeps_previous_file_and_leaves_no_temporary(tmp_path):
    lake = LocalLake(tmp_path)
    lake.write_bytes(RAW, KEY, b"old")
    writer = lake.open_writer(RAW, KEY)
    writer.write(b"half a file")
    writer.abort()
    writer.abort()  # twice is harmless

    assert lake.read_bytes(RAW, KEY) == b"old"
    assert _visible_files(tmp_path) == [f"raw/{KEY}"]


def test_local_abort_removes_the_folders_it_created_and_only_those(tmp_path):
    root = tmp_path / "lake"
    writer = LocalLake(root).open_writer(RAW, KEY)
    writer.write(b"PAR1 and then a refusal")
    writer.abort()
    assert list(tmp_path.iterdir()) == []  # not even the lake's root is left

    lake = LocalLake(root)
    lake.write_bytes(RAW, "yellow/year=2024/month=08/yellow_tripdata_2024-08.parquet", b"kept")
    writer = lake.open_writer(RAW, KEY)
    writer.abort()
    assert _visible_files(root) == ["raw/yellow/year=2024/month=08/yellow_tripdata_2024-08.parquet"]
    assert sorted(p.name for p in (root / "raw/yellow").iterdir()) == ["year=2024"]
    assert sorted(p.name for p in (root / "raw/yellow/year=2024").iterdir()) == ["month=08"]


def test_local_commit_keeps_the_folders_it_created(tmp_path):
    lake = LocalLake(tmp_path / "lake")
    writer = lake.open_writer(RAW, KEY)
    writer.write(b"data")
    writer.commit()
    writer.abort()  # after a commit: the file and its folders stay
    assert lake.read_bytes(RAW, KEY) == b"data"


def test_local_writer_refuses_use_after_commit_and_abort_after_commit_keeps_file(tmp_path):
    lake = LocalLake(tmp_path)
    writer = lake.open_writer(RAW, KEY)
    writer.write(b"data")
    writer.commit()

    with pytest.raises(ValueError, match="already committed"):
        writer.write(b"more")
    with pytest.raises(ValueError, match="already committed"):
        writer.commit()
    writer.abort()
    assert lake.read_bytes(RAW, KEY) == b"data"


def test_local_list_and_delete_prefix(tmp_path):
    lake = LocalLake(tmp_path)
    lake.write_bytes(PROCESSED, "yellow/year=2024/month=09/part-0.parquet", b"ab")
    lake.write_bytes(PROCESSED, "yellow/year=2024/month=09/_counts.json", b"{}")
    lake.write_bytes(PROCESSED, "yellow/year=2024/month=10/part-0.parquet", b"cde")

    listed = lake.list(PROCESSED, "yellow/year=2024/month=09/")
    assert [(o.key, o.size) for o in listed] == [
        ("yellow/year=2024/month=09/_counts.json", 2),
        ("yellow/year=2024/month=09/part-0.parquet", 2),
    ]
    # An exact key works as a prefix: ingest deletes its record this way.
    assert lake.delete_prefix(PROCESSED, "yellow/year=2024/month=09/_counts.json") == 1
    assert lake.delete_prefix(PROCESSED, "yellow/year=2024/month=09/") == 1
    assert [o.key for o in lake.list(PROCESSED, "yellow/")] == [
        "yellow/year=2024/month=10/part-0.parquet"
    ]
    assert lake.list(RAW, "green/") == []


def test_local_lake_errors_name_the_problem(tmp_path):
    lake = LocalLake(tmp_path)
    with pytest.raises(MissingInput, match="does not exist"):
        lake.read_bytes(RAW, KEY)
    with pytest.raises(InvalidInput, match="zone 'curated'"):
        lake.open_writer("curated", KEY)
    assert not (tmp_path / "curated").exists()


@pytest.fixture
def stubbed_s3():
    client = boto3.client(
        "s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def _expect_upload(stubber: Stubber, parts: int) -> None:
    stubber.add_response(
        "create_multipart_upload",
        {"Bucket": "raw", "Key": KEY, "UploadId": "u-1"},
        {"Bucket": "raw", "Key": KEY},
    )
    for number in range(1, parts + 1):
        stubber.add_response(
            "upload_part",
            {"ETag": f'"e{number}"'},
            {"Bucket": "raw", "Key": KEY, "UploadId": "u-1", "PartNumber": number, "Body": ANY},
        )


def test_multipart_writer_sends_full_parts_and_completes_in_order(stubbed_s3, monkeypatch):
    client, stubber = stubbed_s3
    monkeypatch.setattr(lake_module, "PART_SIZE", 10)
    _expect_upload(stubber, parts=3)
    stubber.add_response(
        "complete_multipart_upload",
        {"Bucket": "raw", "Key": KEY, "ETag": '"x-3"'},
        {
            "Bucket": "raw",
            "Key": KEY,
            "UploadId": "u-1",
            "MultipartUpload": {"Parts": [{"PartNumber": n, "ETag": f'"e{n}"'} for n in (1, 2, 3)]},
        },
    )
    writer = S3Lake("raw", "processed", s3=client).open_writer(RAW, KEY)
    for _ in range(5):
        writer.write(b"1234567")  # 35 bytes: parts of 14, 14, then the last 7 on commit
    writer.commit()
    writer.abort()  # after a commit: no call (the stubber would fail on an unexpected one)


def test_multipart_writer_aborts_the_upload_when_completion_fails(stubbed_s3, monkeypatch):
    client, stubber = stubbed_s3
    monkeypatch.setattr(lake_module, "PART_SIZE", 4)
    _expect_upload(stubber, parts=2)
    stubber.add_client_error("complete_multipart_upload", "InternalError", http_status_code=500)
    stubber.add_response(
        "abort_multipart_upload", {}, {"Bucket": "raw", "Key": KEY, "UploadId": "u-1"}
    )
    writer = S3Lake("raw", "processed", s3=client).open_writer(RAW, KEY)
    writer.write(b"PAR1")
    writer.write(b"tail")

    with pytest.raises(Exception, match="InternalError"):
        writer.commit()
    writer.abort()  # already aborted: no second call


def test_small_object_is_one_put_on_commit_and_nothing_on_abort(stubbed_s3):
    client, stubber = stubbed_s3
    stubber.add_response(
        "put_object", {"ETag": '"e"'}, {"Bucket": "raw", "Key": KEY, "Body": b"PAR1 small"}
    )
    lake = S3Lake("raw", "processed", s3=client)
    writer = lake.open_writer(RAW, KEY)
    writer.write(b"PAR1 ")
    writer.write(b"small")
    writer.commit()

    refused = lake.open_writer(RAW, KEY)
    refused.write(b"<!DOCTYPE html>")
    refused.abort()  # nothing was sent, so nothing to undo


def test_local_files_get_the_mode_a_plain_open_gives_them(tmp_path):
    # mkstemp's 0600 would make ingest's raw files unlike the parts the engines write (0644).
    import stat

    lake = LocalLake(tmp_path)
    lake.write_bytes(RAW, KEY, b"PAR1")
    mode = stat.S_IMODE(lake.path(RAW, KEY).stat().st_mode)
    assert mode == 0o666 & ~lake_module.current_umask()


def test_partial_writes_left_by_a_killed_run_are_removed_and_named(tmp_path):
    lake = LocalLake(tmp_path)
    lake.write_bytes(RAW, KEY, b"PAR1")
    left = lake.open_writer(RAW, KEY)  # never committed nor aborted: a killed download
    left.write(b"PAR1 half")
    (partial,) = tmp_path.rglob("*.part")

    assert lake.remove_partial_writes() == [partial]
    assert _visible_files(tmp_path) == [f"raw/{KEY}"]
    assert lake.read_bytes(RAW, KEY) == b"PAR1"
