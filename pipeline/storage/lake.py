"""The lake: the raw and processed zones, as S3 buckets in AWS or as folders on this machine.

Both implementations take the same keys (see `pipeline.contract.layout`) and give the same
guarantees: a file written with `open_writer` appears whole on `commit()` or not at all (S3: a
multipart upload completed only on commit; local: a temporary file renamed into place), so a failed
or refused ingest never leaves a partial object where readers look. Runs in Glue Python Shell:
Python 3.9, boto3 imported only by the S3 implementation.
"""

from __future__ import annotations

import builtins
import contextlib
import io
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from pipeline.contract.errors import InvalidInput, MissingInput
from pipeline.contract.layout import ZONES
from pipeline.storage.aws import is_missing_key

# A local write in progress: `.<name>.<random>.part` beside its target, renamed on commit.
PARTIAL_SUFFIX = ".part"
# What a file gets from open() before the umask, as DuckDB's and Spark's local writes do.
FILE_MODE = 0o666
# S3 multipart parts must be at least 5 MiB (but the last); 8 MiB keeps memory flat and calls few.
PART_SIZE = 8 * 1024 * 1024


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    modified: float = 0.0  # POSIX seconds of the last write (S3's LastModified, a file's mtime)


class Writer(Protocol):
    def write(self, data: bytes) -> None: ...

    def commit(self) -> None: ...

    def abort(self) -> None: ...


class Lake(Protocol):
    def uri(self, zone: str, key: str) -> str:
        """What Spark, DuckDB and Redshift COPY read: `s3://bucket/key` or a local path."""
        ...

    def exists(self, zone: str, key: str) -> bool: ...

    def read_bytes(self, zone: str, key: str) -> bytes: ...

    def write_bytes(self, zone: str, key: str, data: bytes) -> None: ...

    def list(self, zone: str, prefix: str) -> builtins.list[ObjectInfo]: ...

    def delete_prefix(self, zone: str, prefix: str) -> int: ...

    def open_writer(self, zone: str, key: str) -> Writer: ...

    def open_reader(self, zone: str, key: str) -> BinaryIO:
        """A seekable binary file of the object (pyarrow reads a parquet file's parts from it)."""
        ...

    def copy(self, zone: str, source_key: str, key: str) -> None:
        """Put a copy of `source_key` at `key`, whole (S3: a server-side copy)."""
        ...


def _check_zone(zone: str) -> None:
    if zone not in ZONES:
        raise InvalidInput("zone", zone, f"one of {', '.join(ZONES)}")


class LocalLake:
    """A folder per zone: `<root>/raw/<key>`, `<root>/processed/<key>`."""

    def __init__(self, root: os.PathLike | str) -> None:
        self.root = Path(root)

    def path(self, zone: str, key: str) -> Path:
        _check_zone(zone)
        return self.root / zone / key

    def uri(self, zone: str, key: str) -> str:
        return str(self.path(zone, key).resolve())

    def exists(self, zone: str, key: str) -> bool:
        return self.path(zone, key).is_file()

    def read_bytes(self, zone: str, key: str) -> bytes:
        path = self.path(zone, key)
        if not path.is_file():
            raise MissingInput(f"{path} does not exist")
        return path.read_bytes()

    def write_bytes(self, zone: str, key: str, data: bytes) -> None:
        writer = self.open_writer(zone, key)
        writer.write(data)
        writer.commit()

    def list(self, zone: str, prefix: str) -> builtins.list[ObjectInfo]:
        base = self.path(zone, "")
        start = self.path(zone, prefix)
        folder = start if prefix.endswith("/") or start.is_dir() else start.parent
        if not folder.is_dir():
            return []
        found = []
        for path in sorted(folder.rglob("*")):
            key = path.relative_to(base).as_posix()
            if path.is_file() and key.startswith(prefix) and not _is_partial(path):
                stat = path.stat()
                found.append(ObjectInfo(key, stat.st_size, stat.st_mtime))
        return found

    def delete_prefix(self, zone: str, prefix: str) -> int:
        objects = self.list(zone, prefix)
        for obj in objects:
            self.path(zone, obj.key).unlink()
        folder = self.path(zone, prefix)
        if prefix.endswith("/") and folder.is_dir():
            shutil.rmtree(folder)
        return len(objects)

    def open_writer(self, zone: str, key: str) -> Writer:
        return _LocalWriter(self.path(zone, key))

    def open_reader(self, zone: str, key: str) -> BinaryIO:
        path = self.path(zone, key)
        if not path.is_file():
            raise MissingInput(f"{path} does not exist")
        return path.open("rb")

    def copy(self, zone: str, source_key: str, key: str) -> None:
        source = self.path(zone, source_key)
        if not source.is_file():
            raise MissingInput(f"{source} does not exist")
        writer = self.open_writer(zone, key)
        try:
            with source.open("rb") as file:
                while chunk := file.read(PART_SIZE):
                    writer.write(chunk)
        except BaseException:
            writer.abort()
            raise
        writer.commit()

    def remove_partial_writes(self) -> list[Path]:
        """Remove the temporary files of writes that never ended (a killed download's `.part`);
        only while no one writes here: the local runner calls it holding the workdir's lock."""
        left = sorted(path for path in self.root.rglob(f".*{PARTIAL_SUFFIX}") if path.is_file())
        for path in left:
            path.unlink(missing_ok=True)
        return left


def _is_partial(path: Path) -> bool:
    """A writer's temporary file (`.<name>.<random>.part`), never an object of the lake."""
    return path.name.startswith(".") and path.name.endswith(PARTIAL_SUFFIX)


class _LocalWriter:
    """Writes to a hidden temporary file beside the target; `os.replace` puts it in place whole.

    The folders it had to create for that file are removed again on abort (those still empty),
    so a refused ingest into a fresh folder leaves nothing behind.
    """

    def __init__(self, target: Path) -> None:
        self._created = _make_folders(target.parent)
        self._target = target
        try:
            fd, name = tempfile.mkstemp(
                prefix=f".{target.name}.", suffix=PARTIAL_SUFFIX, dir=target.parent
            )
        except BaseException:
            _remove_empty(self._created)
            raise
        self._tmp = Path(name)
        self._file = os.fdopen(fd, "wb")
        self._done = False

    def write(self, data: bytes) -> None:
        if self._done:
            raise ValueError(f"writer for {self._target} is already committed or aborted")
        self._file.write(data)

    def commit(self) -> None:
        if self._done:
            raise ValueError(f"writer for {self._target} is already committed or aborted")
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            # mkstemp makes the file 0600; a lake file gets the mode any engine's writes get
            # (DuckDB, Spark: 0666 less the umask), whoever wrote it.
            os.chmod(self._tmp, FILE_MODE & ~current_umask())
            os.replace(self._tmp, self._target)
        except BaseException:
            self.abort()
            raise
        self._done = True
        self._created = []

    def abort(self) -> None:
        """Drop what was written; safe to call twice, and a no-op after a commit."""
        self._done = True
        # On a full disk the close's flush fails too: the temporary file must go all the same.
        with contextlib.suppress(OSError):
            self._file.close()
        self._tmp.unlink(missing_ok=True)
        created, self._created = self._created, []
        _remove_empty(created)


def current_umask() -> int:
    """The process's umask (reading it means setting it: it is set straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _make_folders(folder: Path) -> list[Path]:
    """Create `folder` and its missing parents; return those created, deepest first."""
    missing = []
    for path in (folder, *folder.parents):
        if path.is_dir():
            break
        missing.append(path)
    folder.mkdir(parents=True, exist_ok=True)
    return missing


def _remove_empty(folders: list[Path]) -> None:
    """Remove each folder (deepest first) while it is empty: another writer's file keeps it."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return


class S3Lake:
    """One bucket per zone, keys as in `pipeline.contract.layout`.

    Without a client, one is made for `region` (the stack's, which the Glue jobs are given;
    None falls back to the environment's, for a run by hand).
    """

    def __init__(
        self, raw_bucket: str, processed_bucket: str, s3: Any = None, region: str | None = None
    ) -> None:
        if s3 is None:
            import boto3
            from botocore.config import Config

            # "standard" retries throttling and 5xx with backoff; the legacy default does less.
            retries = Config(retries={"mode": "standard", "max_attempts": 5})
            s3 = boto3.client("s3", region_name=region, config=retries)
        self.s3 = s3
        self.buckets = {"raw": raw_bucket, "processed": processed_bucket}

    def bucket(self, zone: str) -> str:
        _check_zone(zone)
        return self.buckets[zone]

    def uri(self, zone: str, key: str) -> str:
        return f"s3://{self.bucket(zone)}/{key}"

    def exists(self, zone: str, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.s3.head_object(Bucket=self.bucket(zone), Key=key)
        except ClientError as error:
            if is_missing_key(error):
                return False
            raise
        return True

    def read_bytes(self, zone: str, key: str) -> bytes:
        from botocore.exceptions import ClientError

        try:
            return self.s3.get_object(Bucket=self.bucket(zone), Key=key)["Body"].read()
        except ClientError as error:
            if is_missing_key(error):
                raise MissingInput(f"{self.uri(zone, key)} does not exist") from None
            raise

    def write_bytes(self, zone: str, key: str, data: bytes) -> None:
        self.s3.put_object(Bucket=self.bucket(zone), Key=key, Body=data)

    def list(self, zone: str, prefix: str) -> builtins.list[ObjectInfo]:
        paginator = self.s3.get_paginator("list_objects_v2")
        found = []
        for page in paginator.paginate(Bucket=self.bucket(zone), Prefix=prefix):
            for obj in page.get("Contents", []):
                modified = obj["LastModified"].timestamp() if "LastModified" in obj else 0.0
                found.append(ObjectInfo(obj["Key"], obj["Size"], modified))
        return found

    def delete_prefix(self, zone: str, prefix: str) -> int:
        keys = [obj.key for obj in self.list(zone, prefix)]
        for start in range(0, len(keys), 1000):  # DeleteObjects takes at most 1000 keys
            batch = [{"Key": key} for key in keys[start : start + 1000]]
            self.s3.delete_objects(Bucket=self.bucket(zone), Delete={"Objects": batch})
        return len(keys)

    def open_writer(self, zone: str, key: str) -> Writer:
        return _MultipartWriter(self.s3, self.bucket(zone), key)

    def open_reader(self, zone: str, key: str) -> BinaryIO:
        from botocore.exceptions import ClientError

        try:
            size = self.s3.head_object(Bucket=self.bucket(zone), Key=key)["ContentLength"]
        except ClientError as error:
            if is_missing_key(error):
                raise MissingInput(f"{self.uri(zone, key)} does not exist") from None
            raise
        return io.BufferedReader(_S3RangeReader(self.s3, self.bucket(zone), key, size), PART_SIZE)

    def copy(self, zone: str, source_key: str, key: str) -> None:
        # CopyObject takes objects up to 5 GB in one request; TLC's largest month is under 1 GB.
        # https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html
        bucket = self.bucket(zone)
        self.s3.copy_object(
            Bucket=bucket, Key=key, CopySource={"Bucket": bucket, "Key": source_key}
        )


class _S3RangeReader(io.RawIOBase):
    """A seekable read-only file over one S3 object: each read is a ranged GET."""

    def __init__(self, s3: Any, bucket: str, key: str, size: int) -> None:
        self._s3, self._bucket, self._key, self._size = s3, bucket, key, size
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def readinto(self, buffer: Any) -> int:
        if self._position >= self._size or len(buffer) == 0:
            return 0
        last = min(self._size, self._position + len(buffer)) - 1
        body = self._s3.get_object(
            Bucket=self._bucket, Key=self._key, Range=f"bytes={self._position}-{last}"
        )["Body"].read()
        buffer[: len(body)] = body
        self._position += len(body)
        return len(body)


class _MultipartWriter:
    """Buffers at most one part; the object becomes visible only when the upload completes.

    A part goes out once PART_SIZE bytes are buffered (S3 allows any size of at least 5 MiB but
    the last), so memory stays near one part whatever the object's size.
    """

    def __init__(self, s3: Any, bucket: str, key: str) -> None:
        self._s3, self._bucket, self._key = s3, bucket, key
        self._chunks: list[bytes] = []
        self._buffered = 0
        self._parts: list[dict[str, Any]] = []
        self._upload_id: str | None = None
        self._done = False

    def write(self, data: bytes) -> None:
        if self._done:
            raise ValueError(f"writer for s3://{self._bucket}/{self._key} is already closed")
        # Own the bytes: a caller may reuse a bytearray or memoryview after the call.
        self._chunks.append(bytes(data))
        self._buffered += len(data)
        if self._buffered >= PART_SIZE:
            self._send_buffer()

    def _send_buffer(self) -> None:
        body = b"".join(self._chunks)
        self._chunks, self._buffered = [], 0
        if self._upload_id is None:
            started = self._s3.create_multipart_upload(Bucket=self._bucket, Key=self._key)
            self._upload_id = started["UploadId"]
        number = len(self._parts) + 1
        sent = self._s3.upload_part(
            Bucket=self._bucket, Key=self._key, UploadId=self._upload_id,
            PartNumber=number, Body=body,
        )  # fmt: skip
        self._parts.append({"PartNumber": number, "ETag": sent["ETag"]})

    def commit(self) -> None:
        if self._done:
            raise ValueError(f"writer for s3://{self._bucket}/{self._key} is already closed")
        try:
            if self._upload_id is None:
                # Small enough for one request: put_object is just as atomic.
                body = b"".join(self._chunks)
                self._s3.put_object(Bucket=self._bucket, Key=self._key, Body=body)
            else:
                if self._buffered:
                    self._send_buffer()
                self._s3.complete_multipart_upload(
                    Bucket=self._bucket, Key=self._key, UploadId=self._upload_id,
                    MultipartUpload={"Parts": self._parts},
                )  # fmt: skip
                self._upload_id = None
        except BaseException:
            # An upload left pending is invisible but billed until a lifecycle rule removes it.
            self.abort()
            raise
        self._done = True
        self._chunks, self._buffered = [], 0

    def abort(self) -> None:
        """Drop what was written; safe to call twice, and a no-op after a commit."""
        self._done = True
        self._chunks, self._buffered = [], 0
        if self._upload_id is not None:
            upload_id, self._upload_id = self._upload_id, None
            self._s3.abort_multipart_upload(Bucket=self._bucket, Key=self._key, UploadId=upload_id)
