"""Reading botocore's errors: one place that knows where a ClientError keeps its code.

botocore puts the service's error under `response["Error"]` (`Code`, `Message`); S3 answers a
missing key with `NoSuchKey` from GET and a bare `404` from HEAD.
https://boto3.amazonaws.com/v1/documentation/api/latest/guide/error-handling.html
"""

from __future__ import annotations

from typing import Any

# What S3 says for a key that is not there: GetObject's code, and HeadObject's bodiless status.
S3_MISSING = frozenset({"NoSuchKey", "404", "NotFound"})


def error_code(error: Any) -> str:
    """The service's error code of a botocore ClientError ("" when it carries none)."""
    return str(getattr(error, "response", {}).get("Error", {}).get("Code", ""))


def error_text(error: Any) -> str:
    """`Code: message` of a botocore ClientError, for one-line error messages."""
    info = getattr(error, "response", {}).get("Error", {})
    return f"{info.get('Code') or 'error'}: {info.get('Message') or error}"


def is_missing_key(error: Any) -> bool:
    return error_code(error) in S3_MISSING
