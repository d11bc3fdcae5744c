"""AWS plumbing for the commands on a stack: clients, the clock, and one message per failed call.

Each command (`runs`, `verify`, `logs`) is a function of plain typed arguments, a `StackTarget`
(which stack, or names given as flags) and a `Runtime` (subprocess, AWS clients, clock, sleep),
returning a record that the command line renders; tests replace the runtime.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

from pipeline.contract.errors import PipelineError
from pipeline.ops.stack import Run
from pipeline.storage.aws import error_code, error_text

Progress = Callable[[str, int, "int | None"], None]


class AwsCallFailed(PipelineError):
    """An AWS call was refused or could not be made (credentials, region, permissions, names)."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code


def _boto3_client(service: str, region: str | None) -> Any:
    import boto3

    return boto3.client(service, region_name=region)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Runtime:
    """What the commands touch outside this process; tests replace any part of it."""

    run: Run = subprocess.run
    client: Callable[[str, str | None], Any] = _boto3_client
    now: Callable[[], datetime] = utc_now
    sleep: Callable[[float], None] = time.sleep

    def aws(self, service: str, region: str | None) -> Any:
        """A client for `service`; a missing region or a bad profile is a clear error here."""
        with aws_call(f"connecting to {service}"):
            return self.client(service, region)


_HINTS = {
    "StateMachineDoesNotExist": " (is the stack deployed, and is --region the stack's region?)",
    "ExecutionDoesNotExist": " (check the ARN and --region)",
    "AccessDeniedException": " (your AWS identity lacks this permission on the stack)",
    "ResourceNotFoundException": " (check the name and --region)",
    "ValidationException": " (check the names given as flags)",
}


@contextmanager
def aws_call(what: str) -> Iterator[None]:
    """Turn botocore's failures into one message saying what was being done and what to check."""
    try:
        yield
    except NoCredentialsError:
        raise AwsCallFailed(
            f"{what}: no AWS credentials found (set AWS_PROFILE, or run `aws sso login` / "
            f"`aws configure`)"
        ) from None
    except NoRegionError:
        raise AwsCallFailed(
            f"{what}: no AWS region: pass --region or set AWS_DEFAULT_REGION"
        ) from None
    except ClientError as error:
        code = error_code(error)
        raise AwsCallFailed(f"{what}: {error_text(error)}{_HINTS.get(code, '')}", code) from None
    except BotoCoreError as error:
        raise AwsCallFailed(f"{what}: {error}") from None
