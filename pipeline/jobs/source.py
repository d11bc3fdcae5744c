"""Where a month's file comes from: an http(s) URL (TLC's CloudFront by default) or a local file.

A source streams the file, chunk by chunk, into a `Sink` (ingest's writer, hash and parquet
check); nothing holds the whole file. HTTP transfers retry transient failures (connection
errors, timeouts, 408/429/5xx, a body cut short of its Content-Length) with exponential backoff
and jitter, honour Retry-After, and resume with a Range request when the server offers ranges
and a validator for If-Range; otherwise the sink restarts from byte 0. Proxies from the
environment (`http_proxy`, ...) are honoured except for loopback URLs, which never go through
one (the offline demo serves from 127.0.0.1). Standard library only (urllib): it runs in Glue
Python Shell 3.9.
"""

from __future__ import annotations

import http.client
import ipaddress
import logging
import random
import re
import socket
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Callable, Protocol

from pipeline.contract.errors import (
    InvalidInput,
    NotParquet,
    SourceBlocked,
    SourceNotPublished,
    SourceUnavailable,
)
from pipeline.contract.months import Month, current_month

# Reads of 1 MiB keep memory flat and progress smooth; a 450 MB month is ~450 reads.
CHUNK_SIZE = 1024 * 1024
USER_AGENT = "tlc-elt-ingest/0.1 (+https://github.com/primalrun/aws-serverless-elt redesign)"

# CloudFront answers 403 (not 404) for an object that does not exist: its S3 origin's
# AccessDenied XML, since the origin identity may not list the bucket ("If the requester does not
# have s3:ListBucket, Amazon S3 returns HTTP status code 403 ("access denied")":
# https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html). But a WAF, a proxy or
# CloudFront's geo/IP blocking answers 403 as well, with an HTML page or another body
# (https://docs.aws.amazon.com/waf/latest/developerguide/customizing-the-response-for-blocked-requests.html):
# those are SourceBlocked, not "not published".
NOT_PUBLISHED = frozenset({403, 404, 410})
# TLC publishes a month about two months after it ends; a month this many months before the
# current one must exist, so a missing-file answer for it is not "not published yet".
PUBLICATION_WINDOW_MONTHS = 6
# What an error message shows of a refusal's body and headers.
EXCERPT_BYTES = 300
_MISSING_CODES = (b"accessdenied", b"nosuchkey")
_SHOWN_HEADERS = ("Content-Type", "Server", "Via", "X-Cache", "X-Amz-Cf-Id", "X-Amzn-ErrorType")
RETRYABLE = frozenset({408, 425, 429})
log = logging.getLogger(__name__)
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://")
_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")


@dataclass(frozen=True)
class RetryPolicy:
    """How hard a transfer tries: `attempts` in a row that bring no new bytes, then it gives up."""

    attempts: int = 5
    base_delay: float = 2.0  # seconds before the first retry, doubling per failure
    max_delay: float = 60.0
    max_retry_after: float = 300.0  # a longer Retry-After is cut to this
    timeout: float = 60.0  # per connect and per read, not for the whole file

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise InvalidInput("retry attempts", self.attempts, "at least 1")
        for name in ("base_delay", "max_delay", "max_retry_after", "timeout"):
            if getattr(self, name) < 0:
                raise InvalidInput(f"retry {name}", getattr(self, name), "zero or more seconds")

    def delay(self, failures: int, retry_after: float | None = None) -> float:
        """Seconds to wait after the `failures`-th failure in a row (1, 2, ...)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_retry_after)
        backoff = min(self.max_delay, self.base_delay * 2 ** (failures - 1))
        # "Equal jitter": at least half the backoff, so retries spread out but never bunch at 0.
        return backoff / 2 + random.random() * backoff / 2  # noqa: S311 - not cryptographic


@dataclass(frozen=True)
class SourceInfo:
    """What the source says about the file before its body: size and validators."""

    source: str
    size: int | None
    etag: str | None
    last_modified: str | None
    resumable: bool = False
    # Do etag + last_modified pin down the exact bytes? A strong ETag does; so does a local
    # file's modification time to the microsecond. HTTP's Last-Modified alone (to the second)
    # does not: a file rewritten within the same second would look unchanged.
    versioned: bool = False

    @property
    def strong_etag(self) -> str | None:
        """The ETag if it identifies the exact bytes (a weak `W/"..."` one does not)."""
        if self.etag and not self.etag.startswith("W/"):
            return self.etag
        return None


@dataclass(frozen=True)
class Fetch:
    info: SourceInfo
    skipped: bool  # the source matched what ingest already has: no body was read
    attempts: int


class Sink(Protocol):
    received: int

    def expect(self, total: int | None) -> None: ...

    def accept(self, chunk: bytes) -> None: ...

    def restart(self) -> None: ...


SkipIf = Callable[[SourceInfo], bool]


class Source(Protocol):
    name: str

    def stream(
        self, sink: Sink, *, if_none_match: str | None = None, skip_if: SkipIf | None = None
    ) -> Fetch: ...


def open_source(
    source: str,
    *,
    policy: RetryPolicy | None = None,
    chunk_size: int = CHUNK_SIZE,
    sleep: Callable[[float], None] = time.sleep,
    month: Month | None = None,
    today: Month | None = None,
) -> Source:
    """An http(s) URL, a file:// URL or a local path -> its Source, checked before any transfer.

    `month` (the file's) tells an HTTP source whether a missing-file answer can mean "not
    published yet" (a recent month) or must mean something blocks the way (an old one).
    """
    if chunk_size < 1:
        raise InvalidInput("chunk size", chunk_size, "at least 1 byte")
    text = str(source).strip()
    scheme = _SCHEME.match(text)
    if scheme and scheme.group(1).lower() in ("http", "https"):
        recent = month is None or may_be_unpublished(month, today or current_month())
        return HttpSource(
            text, policy or RetryPolicy(), chunk_size, sleep, may_be_unpublished=recent
        )
    if scheme and scheme.group(1).lower() == "file":
        text = urllib.request.url2pathname(text[len("file://") :])
    elif scheme:
        raise InvalidInput("source", redacted_url(text), "an http(s) URL or a local file path")
    return LocalSource(local_file(source, text), chunk_size)


def local_file(source: str, text: str) -> Path:
    """The file a local `source` names, or InvalidInput saying what is there instead."""
    path = Path(text).expanduser()
    if path.is_dir():
        raise InvalidInput("source", source, "is a directory; give the month's parquet file in it")
    if not path.exists():
        raise InvalidInput("source", source, "no such file; give an http(s) URL or a file's path")
    if not path.is_file():
        raise InvalidInput("source", source, "not a regular file; give a parquet file's path")
    return path.resolve()


class LocalSource:
    """A file on this machine. Its validator is size + modification time (recorded to the µs)."""

    def __init__(self, path: Path, chunk_size: int = CHUNK_SIZE) -> None:
        self.path = path
        self.name = str(path)
        self.chunk_size = chunk_size

    def stream(
        self, sink: Sink, *, if_none_match: str | None = None, skip_if: SkipIf | None = None
    ) -> Fetch:
        stat = self.path.stat()
        modified = datetime.fromtimestamp(stat.st_mtime_ns / 1e9, tz=timezone.utc)
        # A whole-second time suggests a coarse filesystem clock: then it identifies nothing.
        exact = stat.st_mtime_ns % 1_000_000_000 != 0
        info = SourceInfo(self.name, stat.st_size, None, modified.isoformat(), versioned=exact)
        if skip_if is not None and skip_if(info):
            return Fetch(info, skipped=True, attempts=1)
        sink.expect(info.size)
        with self.path.open("rb") as file:
            for chunk in iter(lambda: file.read(self.chunk_size), b""):
                sink.accept(chunk)
        return Fetch(info, skipped=False, attempts=1)


class _Transient(Exception):
    """A failure worth retrying; `resume` False when the next attempt must start from byte 0."""

    def __init__(
        self, why: str, retry_after: float | None = None, *, truncated: bool = False
    ) -> None:
        super().__init__(why)
        self.retry_after = retry_after
        self.truncated = truncated


class HttpSource:
    """One URL, streamed with retries; see the module docstring for what is retried."""

    def __init__(
        self,
        url: str,
        policy: RetryPolicy | None = None,
        chunk_size: int = CHUNK_SIZE,
        sleep: Callable[[float], None] = time.sleep,
        *,
        may_be_unpublished: bool = True,
    ) -> None:
        scheme = _SCHEME.match(url)
        if scheme is None or scheme.group(1).lower() not in ("http", "https"):
            raise InvalidInput("source URL", redacted_url(url), "an http:// or https:// URL")
        self.url = url  # what is requested; only `name` is ever written or shown
        self.name = redacted_url(url)
        self.policy = policy or RetryPolicy()
        self.chunk_size = chunk_size
        self._sleep = sleep
        self.may_be_unpublished = may_be_unpublished
        # build_opener's default ProxyHandler takes proxies from the environment; a proxy
        # cannot reach this machine's loopback, so those URLs get a handler with none.
        handlers = [urllib.request.ProxyHandler({})] if is_loopback(url) else []
        self._opener = urllib.request.build_opener(*handlers)

    def stream(
        self, sink: Sink, *, if_none_match: str | None = None, skip_if: SkipIf | None = None
    ) -> Fetch:
        transfer = _HttpTransfer(self, sink, if_none_match, skip_if)
        failures, high_water = 0, 0
        while True:
            try:
                return transfer.attempt()
            except _Transient as problem:
                # A long download over a flaky link that keeps resuming further is making
                # progress, not failing: only resumed attempts that bring nothing new count.
                # Restarts keep nothing, so each one counts.
                if transfer.resuming and sink.received > high_water:
                    high_water, failures = sink.received, 0
                failures += 1
                if failures >= self.policy.attempts:
                    raise self._exhausted(problem, failures) from None
                delay = self.policy.delay(failures, problem.retry_after)
                log.warning("%s: %s; retrying in %.1fs", self.name, problem, delay)
                self._sleep(delay)

    def _exhausted(self, problem: _Transient, failures: int) -> Exception:
        if problem.truncated:
            return NotParquet(
                f"{self.name} {problem} on {failures} attempts in a row — a truncated file, refused"
            )
        return SourceUnavailable(
            f"{self.name} still failing after {failures} attempts in a row: {problem}"
        )

    def open(self, headers: dict[str, str]) -> Any:
        """The response, or a SourceInfo for a 304 (from its headers); typed errors otherwise."""
        # The scheme is http(s), checked in __init__.
        request = urllib.request.Request(self.url, headers=headers)  # noqa: S310
        try:
            return self._opener.open(request, timeout=self.policy.timeout)
        except urllib.error.HTTPError as error:
            try:
                return self._http_error(error)
            finally:
                error.close()
        except urllib.error.URLError as error:
            if isinstance(error.reason, socket.gaierror):
                raise self._unresolved(error.reason) from None
            if isinstance(error.reason, ssl.SSLCertVerificationError):
                raise SourceUnavailable(f"{self.name}: {error.reason}") from None
            raise _Transient(f"cannot connect: {error.reason}") from None
        except (OSError, http.client.HTTPException) as error:
            raise _Transient(f"no response: {error!r}") from None

    def _unresolved(self, reason: socket.gaierror) -> SourceUnavailable:
        """A name that does not resolve is not retried: offline, each try would wait out the
        resolver again (five tries, 20 s) for the same answer."""
        host = urllib.parse.urlsplit(self.url).hostname
        return SourceUnavailable(
            f"{self.name}: cannot resolve {host} ({reason.strerror or reason}): this machine "
            "seems offline, or its DNS is down. Without the network, give a local copy of the "
            "month's file: --source PATH (make local ... SOURCE=PATH)"
        )

    def _http_error(self, error: urllib.error.HTTPError) -> SourceInfo:
        code = error.code
        if code == 304:
            return _info(self.name, error.headers, size=None)
        if code in NOT_PUBLISHED:
            raise self._refused(code, error)
        if code in RETRYABLE or code >= 500:
            retry_after = _retry_after(error.headers.get("Retry-After"))
            raise _Transient(f"HTTP {code} {error.reason}", retry_after)
        raise SourceUnavailable(f"{self.name} answered HTTP {code} {error.reason}; not retried")

    def _refused(self, code: int, error: urllib.error.HTTPError) -> Exception:
        """403/404/410: a file not published yet, or something in the way (see NOT_PUBLISHED)."""
        try:
            body = error.read(EXCERPT_BYTES * 4) or b""
        except (OSError, http.client.HTTPException):
            body = b""
        seen = _refusal_details(code, error.headers, body)
        if is_missing_file_answer(code, body) and self.may_be_unpublished:
            return SourceNotPublished(
                f"{self.name} answered HTTP {code}: not published (yet). TLC publishes a month"
                " about two months after it ends; CloudFront answers 403 for a missing file."
            )
        if is_missing_file_answer(code, body):
            return SourceBlocked(
                f"{self.name} answered HTTP {code} as a missing file ({seen}), but TLC published "
                f"that month long ago (more than {PUBLICATION_WINDOW_MONTHS} months back): check "
                "the URL (dataset, month, --source), then whether a proxy or firewall rewrites "
                "the job's requests"
            )
        return SourceBlocked(
            f"{self.name} answered HTTP {code}, and not with S3's missing-file XML: something "
            f"between this job and TLC refused the request ({seen}). Check the job's egress "
            "(NAT gateway, proxy, firewall rules) and whether a WAF or CloudFront blocks its "
            "address; retrying will not help"
        )


def may_be_unpublished(month: Month, today: Month) -> bool:
    """Could TLC still be about to publish `month`? Only within PUBLICATION_WINDOW_MONTHS."""
    return month.plus(PUBLICATION_WINDOW_MONTHS) > today


def is_missing_file_answer(code: int, body: bytes) -> bool:
    """S3's (so CloudFront's S3 origin's) answer for a key that is not there: an XML `<Error>`
    whose code is AccessDenied or NoSuchKey (a bodiless 404 or 410 counts too)."""
    text = body.lstrip().lower()
    if not text:
        return code in (404, 410)
    is_error_xml = text.startswith(b"<?xml") or text.startswith(b"<error")
    return is_error_xml and b"<error" in text and any(c in text for c in _MISSING_CODES)


def _refusal_details(code: int, headers: Any, body: bytes) -> str:
    """`HTTP 403; Content-Type: text/html; Server: awselb/2.0; body starts '<html>...'`."""
    shown = [f"{name}: {headers.get(name)}" for name in _SHOWN_HEADERS if headers.get(name)]
    excerpt = " ".join(body[:EXCERPT_BYTES].decode("utf-8", "replace").split())
    shown.append(f"body starts {excerpt!r}" if excerpt else "empty body")
    return f"HTTP {code}; " + "; ".join(shown)


class _HttpTransfer:
    """The state one download keeps across attempts: what the server said, how far it got."""

    def __init__(
        self, source: HttpSource, sink: Sink, if_none_match: str | None, skip_if: SkipIf | None
    ) -> None:
        self.source, self.sink = source, sink
        self.if_none_match, self.skip_if = if_none_match, skip_if
        self.info: SourceInfo | None = None
        self.attempts = 0

    @property
    def resuming(self) -> bool:
        """Will the next attempt continue from the bytes received so far?"""
        return self.info is not None and self.info.resumable

    def _headers(self, resume_at: int) -> dict[str, str]:
        # identity: the bytes on disk must be the file's bytes, and sizes must compare.
        headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
        if self.info is None and self.if_none_match:
            headers["If-None-Match"] = self.if_none_match
        if resume_at and self.info is not None:
            headers["Range"] = f"bytes={resume_at}-"
            # If the file changed since, the server sends it whole (200) instead of the rest.
            headers["If-Range"] = self.info.strong_etag or self.info.last_modified or ""
        return headers

    def attempt(self) -> Fetch:
        self.attempts += 1
        resume_at = self.sink.received if self.resuming else 0
        if self.sink.received and not resume_at:
            self.sink.restart()
        opened = self.source.open(self._headers(resume_at))
        if isinstance(opened, SourceInfo):
            return Fetch(opened, skipped=True, attempts=self.attempts)
        with opened as response:
            if response.status == 206:
                info = self._check_range(response, resume_at)
            else:
                if self.sink.received:
                    self.sink.restart()  # the server ignored the range: a whole body follows
                info = self.info = _info(self.source.name, response.headers, _length(response))
                if self.skip_if is not None and self.skip_if(info):
                    return Fetch(info, skipped=True, attempts=self.attempts)
            self.sink.expect(info.size)
            self._read_body(response)
        if info.size is not None and self.sink.received < info.size:
            raise _Transient(
                f"sent {self.sink.received:,} of the {info.size:,} bytes its Content-Length"
                " announced",
                truncated=True,
            )
        return Fetch(info, skipped=False, attempts=self.attempts)

    def _check_range(self, response: Any, resume_at: int) -> SourceInfo:
        """The rest of the file we started, or a transient failure that restarts from byte 0."""
        info = self.info
        match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
        etag = response.headers.get("ETag")
        if (
            info is None
            or not resume_at
            or match is None
            or int(match.group(1)) != resume_at
            or (match.group(3) != "*" and int(match.group(3)) != info.size)
            or (etag is not None and info.etag is not None and etag != info.etag)
        ):
            self.info = None if info is None else replace(info, resumable=False)
            raise _Transient(f"unusable partial response ({response.headers.get('Content-Range')})")
        return info

    def _read_body(self, response: Any) -> None:
        while True:
            try:
                chunk = response.read(self.source.chunk_size)
            except (OSError, http.client.HTTPException) as error:
                raise _Transient(
                    f"connection lost after {self.sink.received:,} bytes: {error!r}"
                ) from None
            if not chunk:
                return
            # Outside the try: a failing lake write is not the source's transient failure.
            self.sink.accept(chunk)


def redacted_url(url: str) -> str:
    """`url` without its query, fragment and credentials: a presigned URL's signature (or a
    token) must never reach `_ingest.json`, a ledger, a log or an error message."""
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:  # an unreadable host or port: show only the scheme and the path
        parts = urllib.parse.urlsplit(url.split("?", 1)[0].split("#", 1)[0])
        return f"{parts.scheme}://?{parts.path}"
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    netloc = f"{host}:{port}" if port is not None else host
    hidden = "?…" if parts.query else ""
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", "")) + hidden


def is_loopback(url: str) -> bool:
    """Does `url` name this machine's loopback (localhost, 127.0.0.0/8, ::1)?"""
    try:
        host = (urllib.parse.urlsplit(url).hostname or "").rstrip(".").lower()
    except ValueError:  # e.g. an unclosed `[` in the host: not a loopback URL, urllib will say
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a name, not an address
        return False


def _length(response: Any) -> int | None:
    value = response.headers.get("Content-Length")
    return int(value) if value is not None and value.strip().isdigit() else None


def _info(url: str, headers: Any, size: int | None) -> SourceInfo:
    etag = headers.get("ETag")
    last_modified = headers.get("Last-Modified")
    strong = bool(etag and not etag.startswith("W/"))
    has_validator = strong or bool(last_modified)
    resumable = (
        headers.get("Accept-Ranges", "").strip().lower() == "bytes"
        and size is not None
        and has_validator
    )
    return SourceInfo(url, size, etag, last_modified, resumable, versioned=strong)


def _retry_after(value: str | None) -> float | None:
    """Retry-After is seconds (`120`) or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())
