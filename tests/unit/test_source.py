"""Choosing a source and the retry arithmetic (the transfers themselves: integration tests)."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from pipeline.contract.errors import InvalidInput, SourceUnavailable
from pipeline.jobs.source import (
    HttpSource,
    LocalSource,
    RetryPolicy,
    _retry_after,
    is_loopback,
    open_source,
    redacted_url,
)


def test_backoff_doubles_with_jitter_within_half_to_full_and_is_capped():
    policy = RetryPolicy(base_delay=2.0, max_delay=10.0)
    for failures, full in [(1, 2.0), (2, 4.0), (3, 8.0), (4, 10.0), (9, 10.0)]:
        delays = [policy.delay(failures) for _ in range(200)]
        assert all(full / 2 <= d <= full for d in delays), (failures, min(delays), max(delays))
        assert len(set(delays)) > 1  # jittered, so clients retrying together spread out


def test_retry_after_is_honoured_exactly_up_to_its_cap():
    policy = RetryPolicy(base_delay=0.001, max_retry_after=30.0)
    assert policy.delay(1, retry_after=7.0) == 7.0
    assert policy.delay(1, retry_after=600.0) == 30.0
    assert policy.delay(3, retry_after=0.0) == 0.0


def test_retry_after_header_as_seconds_or_http_date():
    assert _retry_after("120") == 120.0
    assert _retry_after(None) is None
    assert _retry_after("soon") is None
    later = datetime.now(UTC) + timedelta(seconds=90)
    assert 80 <= _retry_after(format_datetime(later, usegmt=True)) <= 90
    assert _retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past: go now


@pytest.mark.parametrize("bad", [{"attempts": 0}, {"base_delay": -1}, {"timeout": -5}])
def test_retry_policy_refuses_nonsense(bad):
    with pytest.raises(InvalidInput):
        RetryPolicy(**bad)


def test_http_urls_become_http_sources():
    source = open_source("https://d37ci6vzurychx.cloudfront.net/trip-data/x.parquet")
    assert isinstance(source, HttpSource)
    assert source.name == "https://d37ci6vzurychx.cloudfront.net/trip-data/x.parquet"


def test_paths_and_file_urls_become_local_sources_with_absolute_names(tmp_path, monkeypatch):
    file = tmp_path / "m.parquet"
    file.write_bytes(b"PAR1")
    monkeypatch.chdir(tmp_path)

    relative = open_source("m.parquet")
    from_url = open_source(file.as_uri())

    assert isinstance(relative, LocalSource)
    assert relative.name == from_url.name == str(file.resolve())


@pytest.mark.parametrize(
    ("source", "says"),
    [
        ("s3://bucket/key.parquet", "an http(s) URL or a local file path"),
        ("ftp://host/file.parquet", "an http(s) URL or a local file path"),
        ("/no/such/file.parquet", "no such file"),
    ],
)
def test_unusable_sources_are_refused_before_any_transfer(source, says):
    with pytest.raises(InvalidInput, match="invalid source") as refused:
        open_source(source)
    assert says in str(refused.value)


def test_a_directory_is_not_a_source_and_says_so(tmp_path):
    with pytest.raises(InvalidInput, match="is a directory; give the month's parquet file"):
        open_source(str(tmp_path))
    with pytest.raises(InvalidInput, match="is a directory"):
        open_source(tmp_path.as_uri())


def test_http_source_refuses_other_schemes_directly():
    with pytest.raises(InvalidInput, match="http:// or https://"):
        HttpSource("file:///etc/passwd")


def refused_port() -> int:
    """A loopback port nothing listens on: bound, then closed, so a connect is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class _Sink:
    received = 0

    def expect(self, total):
        raise AssertionError("a refused connection has no body to expect")

    def accept(self, chunk):
        raise AssertionError("a refused connection sends no bytes")

    def restart(self):
        raise AssertionError("nothing arrived, so nothing restarts")


def test_refused_connection_is_retried_with_backoff_then_unavailable_naming_the_url(
    monkeypatch,
):
    for name in ("http_proxy", "HTTP_PROXY", "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    url = f"http://127.0.0.1:{refused_port()}/trip-data/yellow_tripdata_2024-09.parquet"
    sleeps: list[float] = []
    source = HttpSource(
        url, RetryPolicy(attempts=4, base_delay=1.0, timeout=5), sleep=sleeps.append
    )
    tries = []
    real_open = source.open
    monkeypatch.setattr(
        source, "open", lambda headers: (tries.append(headers), real_open(headers))[1]
    )

    with pytest.raises(SourceUnavailable) as failed:
        source.stream(_Sink())

    message = str(failed.value)
    assert message.startswith(f"{url} still failing after 4 attempts in a row: cannot connect")
    assert "refused" in message.lower()
    assert len(tries) == 4
    assert len(sleeps) == 3  # one backoff between each pair of attempts
    for sleep, full in zip(sleeps, (1.0, 2.0, 4.0), strict=True):
        assert full / 2 <= sleep <= full  # doubling, with jitter


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("http://127.0.0.1:8000/x.parquet", True),
        ("http://127.45.6.7/x.parquet", True),
        ("http://localhost:8000/x.parquet", True),
        ("http://LocalHost./x.parquet", True),
        ("http://[::1]:8000/x.parquet", True),
        ("https://user:pw@127.0.0.1/x.parquet", True),
        ("https://d37ci6vzurychx.cloudfront.net/trip-data/x.parquet", False),
        ("http://128.0.0.1/x.parquet", False),
        ("http://10.0.0.1/x.parquet", False),
        ("http://[::2]/x.parquet", False),
        ("http://localhost.example.com/x.parquet", False),
        ("http://[::1/x.parquet", False),  # unparseable host: not loopback (urllib says why)
    ],
)
def test_which_urls_are_loopback(url, loopback):
    assert is_loopback(url) is loopback


def test_only_s3s_missing_key_xml_reads_as_a_missing_file():
    from pipeline.jobs.source import is_missing_file_answer

    cloudfront_s3 = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
        b"<Message>Access Denied</Message><RequestId>X</RequestId></Error>"
    )
    assert is_missing_file_answer(403, cloudfront_s3)
    assert is_missing_file_answer(404, b"<Error><Code>NoSuchKey</Code></Error>")
    assert is_missing_file_answer(404, b"")
    assert not is_missing_file_answer(403, b"")  # a bare 403 is no S3 answer
    assert not is_missing_file_answer(403, b"<html><body>AccessDenied by policy</body></html>")
    assert not is_missing_file_answer(403, b'{"message": "AccessDenied"}')
    skewed = b"<?xml version='1.0'?><Error><Code>RequestTimeTooSkewed</Code></Error>"
    assert not is_missing_file_answer(403, skewed)


def test_a_month_may_be_unpublished_only_within_the_window():
    from pipeline.contract.months import Month
    from pipeline.jobs.source import PUBLICATION_WINDOW_MONTHS, may_be_unpublished

    today = Month(2026, 12)
    assert may_be_unpublished(Month(2026, 10), today)
    assert may_be_unpublished(today.plus(-PUBLICATION_WINDOW_MONTHS + 1), today)
    assert not may_be_unpublished(today.plus(-PUBLICATION_WINDOW_MONTHS), today)
    assert not may_be_unpublished(Month(2024, 9), today)


def test_a_name_that_does_not_resolve_fails_at_once_saying_the_machine_seems_offline(
    monkeypatch,
):
    """Offline, a DNS failure is not retried (five tries took 20 s): one try, then the way out."""
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)

    def unresolved(host, *args, **kwargs):
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", unresolved)
    sleeps: list[float] = []
    url = "https://d37ci6vzurychx.cloudfront.net/trip-data/yellow_tripdata_2024-09.parquet"
    source = HttpSource(url, RetryPolicy(attempts=5), sleep=sleeps.append)

    with pytest.raises(SourceUnavailable) as failed:
        source.stream(_Sink())

    assert sleeps == []  # not retried
    message = str(failed.value)
    assert message.startswith(f"{url}: cannot resolve d37ci6vzurychx.cloudfront.net")
    assert "Temporary failure in name resolution" in message
    assert "this machine seems offline" in message
    assert "--source PATH (make local ... SOURCE=PATH)" in message


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://b.s3.amazonaws.com/k/f.parquet?X-Amz-Signature=abc", "https://b.s3.amazonaws.com/k/f.parquet?…"),
        ("https://user:secret@host:8443/f.parquet#part", "https://host:8443/f.parquet"),
        ("http://[::1]:8080/f.parquet?token=t", "http://[::1]:8080/f.parquet?…"),
        ("https://d37ci6vzurychx.cloudfront.net/trip-data/f.parquet", "https://d37ci6vzurychx.cloudfront.net/trip-data/f.parquet"),
    ],
)  # fmt: skip
def test_a_source_is_named_without_its_query_or_credentials(url, shown):
    assert redacted_url(url) == shown
    assert HttpSource(url).name == shown
    assert open_source(url).name == shown


def test_a_refused_scheme_does_not_echo_a_signature():
    with pytest.raises(InvalidInput) as refused:
        open_source("s3://bucket/key.parquet?X-Amz-Signature=SECRET")
    assert "SECRET" not in str(refused.value)
