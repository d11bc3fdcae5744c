"""The ingest record: `RunKeys.ingest_record_key`, what ingest saw and wrote (JSON, raw zone).

Written by ingest after the file it describes; read by the next ingest (is the source
unchanged?) and by publish (the ledger's source, bytes and sha256). Standard library only.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class IngestRecord:
    """`layout.ingest_record_key`: what ingest saw and wrote, in the shared contract's keys."""

    source: str
    bytes: int
    etag: str | None
    last_modified: str | None
    rows: int
    row_groups: int
    sha256: str

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), indent=2).encode()

    @classmethod
    def from_json(cls, data: bytes) -> IngestRecord | None:
        """The record, or None if it is not one (then nothing is trusted from it)."""
        try:
            fields = json.loads(data)
            return cls(**{name: fields[name] for name in cls.__dataclass_fields__})
        except (ValueError, TypeError, KeyError):
            return None
