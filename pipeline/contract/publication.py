"""A month's publication: the pointer that says which run is the month, and what publish keeps.

`layout.published_key` holds it (JSON, processed zone). Publish writes it after the warehouse
committed the month (with its ledger row), so every lake reader (`verify`, the next run's
audit and ingest, the local quarantine views) switches from the previous run to the new one at
once; in AWS the month's Glue partitions move in the same step. A month with no pointer but with
files in its month folder is a legacy month (published before runs existed).

Retention: the run a publication replaced stays PREVIOUS_RUN_DAYS days, so a month can be rolled
back to it; a candidate never published (refused, failed, or still running elsewhere) stays
UNPUBLISHED_RUN_DAYS days after its last write, so a person can look at what was refused. Publish
removes the month's other runs. Standard library only.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

PREVIOUS_RUN_DAYS = 30
UNPUBLISHED_RUN_DAYS = 7
LEGACY_RUN = "legacy"  # how a pointer names the files of a month published before runs


@dataclass(frozen=True)
class Superseded:
    run_id: str  # LEGACY_RUN for a legacy month's files
    superseded_at: str  # ISO 8601, UTC


@dataclass(frozen=True)
class Publication:
    dataset: str
    month: str
    run_id: str
    published_at: str  # ISO 8601, UTC
    engine: str
    forced: bool
    counts: dict[str, Any]  # the run's counts JSON, less its part keys
    source: str  # URL without its query string, or a path
    source_bytes: int
    source_sha256: str
    superseded: tuple[Superseded, ...] = field(default_factory=tuple)  # newest first

    def to_json(self) -> bytes:
        data = dataclasses.asdict(self)
        data["superseded"] = [dataclasses.asdict(s) for s in self.superseded]
        return json.dumps(data, indent=2).encode()

    @classmethod
    def from_json(cls, data: bytes | str) -> Publication:
        loaded = json.loads(data)
        names = {f.name for f in dataclasses.fields(cls)}
        values = {key: loaded[key] for key in names if key in loaded}
        values["superseded"] = tuple(Superseded(**s) for s in loaded.get("superseded", []))
        return cls(**values)

    @property
    def previous_run(self) -> str | None:
        """The run this publication replaced (what a rollback publishes again)."""
        return self.superseded[0].run_id if self.superseded else None


def superseded_after(
    previous: Publication | None, legacy: bool, run_id: str, now: datetime
) -> tuple[Superseded, ...]:
    """The superseded list of a new publication of `run_id` replacing `previous` (or the legacy
    files, when `legacy`); runs past their retention drop out (they are removed)."""
    stamp = now.isoformat(timespec="seconds")
    earlier = previous.superseded if previous is not None else ()
    replaced: list[Superseded] = []
    if previous is not None and previous.run_id != run_id:
        replaced.append(Superseded(previous.run_id, stamp))
    elif previous is None and legacy:
        replaced.append(Superseded(LEGACY_RUN, stamp))
    kept = [s for s in earlier if s.run_id != run_id and _within(s.superseded_at, now)]
    return tuple(replaced + kept)


def _within(stamp: str, now: datetime) -> bool:
    return now - datetime.fromisoformat(stamp) < timedelta(days=PREVIOUS_RUN_DAYS)


def runs_to_remove(runs: Mapping[str, float], publication: Publication, now: datetime) -> list[str]:
    """Which of a month's runs publish removes: `runs` maps each run id found in the lake to
    its newest write (POSIX seconds). Kept: the published run, the superseded runs within their
    retention, and runs written in the last UNPUBLISHED_RUN_DAYS days (refused, or running)."""
    keep = {publication.run_id, *(s.run_id for s in publication.superseded)}
    fresh = (now - timedelta(days=UNPUBLISHED_RUN_DAYS)).timestamp()
    return sorted(run for run, newest in runs.items() if run not in keep and newest < fresh)
