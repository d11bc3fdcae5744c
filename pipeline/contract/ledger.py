"""The ledger: `tlc_elt_loads`, one row per publish, in every warehouse (DuckDB and Redshift).

Publish writes the row in the month's own transaction, so a month is in the table exactly when
its ledger row is. `rows_replaced` is what the month held before; `findings` is the audit's
findings as JSON text (`pipeline.contract.audit.findings_json`); `forced` says the month was
published despite a refusal. `run_id` is the Step Functions execution name, or a local run's id:
a run publishes once, so a repeated publish of the same run is recognised and changes nothing.
Standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.contract.types import ColumnType

TABLE = "tlc_elt_loads"
# findings can be long (a finding per unknown column); Redshift's VARCHAR holds up to 65535 bytes.
FINDINGS_WIDTH = 65535

COLUMNS: tuple[tuple[str, ColumnType], ...] = (
    ("dataset", ColumnType.STRING),
    ("source_month", ColumnType.DATE),
    ("run_id", ColumnType.TEXT),  # an execution name has up to 80 characters
    ("published_at", ColumnType.TIMESTAMP),
    ("engine", ColumnType.STRING),
    ("source", ColumnType.TEXT),  # a URL or a path: any length
    ("source_bytes", ColumnType.BIGINT),
    ("source_sha256", ColumnType.STRING),
    ("rows_in", ColumnType.BIGINT),
    ("rows_loaded", ColumnType.BIGINT),
    ("rows_quarantined", ColumnType.BIGINT),
    ("rows_replaced", ColumnType.BIGINT),
    ("forced", ColumnType.BOOLEAN),
    ("findings", ColumnType.TEXT),
)
NAMES = tuple(name for name, _ in COLUMNS)


@dataclass(frozen=True)
class LedgerRow:
    """A publish, less `rows_replaced` (counted by the publishing transaction itself)."""

    dataset: str
    source_month: str  # YYYY-MM-01
    run_id: str
    published_at: str  # ISO 8601, UTC, without the zone
    engine: str
    source: str
    source_bytes: int
    source_sha256: str
    rows_in: int
    rows_loaded: int
    rows_quarantined: int
    forced: bool
    findings: str


def strip_query(source: str) -> str:
    """A source URL without its query string or fragment (a presigned URL's signature)."""
    for mark in ("?", "#"):
        source = source.split(mark, 1)[0]
    return source
