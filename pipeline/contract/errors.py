"""Typed errors: every failure a user can cause or meet names the bad value and what would be valid.

The command line prints `PipelineError`s as one message with no traceback; anything else is a bug.
"""

from __future__ import annotations


class PipelineError(Exception):
    """A failure with a message meant for the person running the pipeline."""


class InvalidInput(PipelineError, ValueError):
    """A value given by the user (month, dataset, config, source) is not acceptable.

    Raised before any side effect.
    """

    def __init__(self, what: str, value: object, valid: str) -> None:
        self.what = what
        self.value = value
        self.valid = valid
        super().__init__(f"invalid {what} {value!r}: {valid}")


class SourceNotPublished(PipelineError):
    """The source answered as a missing file (CloudFront/S3's 403 AccessDenied or 404 XML) for a
    month recent enough that TLC may not have published it yet."""


class SourceBlocked(PipelineError):
    """The source refused the request, but not as a file TLC has yet to publish: a page that is
    not S3's error XML (a WAF, a proxy, CloudFront blocking the caller), or a missing-file answer
    for a month TLC published long ago. Retrying does not help; the network path needs a look."""


class SourceUnavailable(PipelineError):
    """The source kept failing with transient errors after every retry."""


class NotParquet(PipelineError):
    """What arrived is not a complete parquet file (an error page, a truncated body)."""


class MissingColumn(PipelineError):
    """A month's file lacks a column the dataset requires."""


class CountMismatch(PipelineError):
    """The rows loaded differ from the rows transform wrote; the load was rolled back."""


class WriteMismatch(PipelineError):
    """A transform's write produced other rows than the month's counts (the raw file changed
    between two reads of it); no counts were written, so the load refuses to run."""


class StatementFailed(PipelineError):
    """A warehouse statement failed, was aborted, or did not finish before its deadline."""


class MissingInput(PipelineError):
    """A step's input (the raw file, transform's output) is not where the layout says."""


class DamagedFile(PipelineError):
    """The file's footer is readable but its data is not (a corrupt page, a bad compression
    block, fewer rows than the footer says): refused before it could become the raw file."""


class AmbiguousColumns(PipelineError):
    """The file has two columns whose names differ only in case: the engines that match names
    without case (Spark, the engine Glue runs) cannot tell them apart, so the file is refused."""


class WarehouseBusy(PipelineError):
    """Another process holds the warehouse open (a DuckDB shell, a notebook): a run needs it
    alone, so it stops before any side effect."""


class MonthRefused(PipelineError):
    """The audit refused the candidate: nothing was published, the published month is intact.

    `result` is the `pipeline.contract.audit.AuditResult` with the findings."""

    def __init__(self, result: object, lines: list[str]) -> None:
        self.result = result
        self.lines = lines
        super().__init__("\n".join(lines))
