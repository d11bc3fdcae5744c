"""A synthetic `ReportData`: months of every dataset as the warehouse would hold them, with
planted anomalies, for the report's tests, its browser test and its benchmark.

Volumes follow TLC's files (yellow ~3.2M trips a month, green ~58k, fhv ~1.3M, fhvhv ~19.5M),
with a seasonal swing. Each month's profile is built from the contract's profiled columns and its
warnings come from the real history checks (`pipeline.contract.profile.history_warnings`), so a
planted anomaly shows exactly as the audit would report it. `PLANTED` names what is planted
relative to the last month; tests look for each.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np

from pipeline.contract.datasets import DATASETS, Dataset
from pipeline.contract.months import Month
from pipeline.contract.profile import (
    ColumnProfile,
    MonthProfile,
    Stat,
    history_warnings,
    profiled_columns,
)
from pipeline.contract.rules import RULE_NAMES
from pipeline.contract.zones import read_zones
from pipeline.report.data import (
    BoroughRow,
    LedgerRow,
    MonthCounts,
    ProfileRow,
    RefusedRun,
    ReportData,
    RevenueRow,
)

TRIPS = {"yellow": 3_200_000, "green": 58_000, "fhv": 1_300_000, "fhvhv": 19_500_000}
REVENUE_COLUMN = {"yellow": "total_amount", "green": "total_amount", "fhvhv": "base_passenger_fare"}
PER_TRIP = {"total_amount": 27.5, "fare_amount": 18.9, "tip_amount": 3.3, "extra": 1.4,
            "mta_tax": 0.5, "tolls_amount": 0.6, "improvement_surcharge": 1.0,
            "congestion_surcharge": 2.3, "airport_fee": 0.15, "cbd_congestion_fee": 0.7,
            "ehail_fee": 0.0, "base_passenger_fare": 24.0, "tolls": 1.0, "bcf": 0.7,
            "sales_tax": 2.0, "tips": 1.1, "driver_pay": 18.5}  # fmt: skip
# Columns mostly null in real months (null share), the rest are complete or nearly so.
MOSTLY_NULL = {"ehail_fee": 1.0, "pickup_longitude": 1.0, "pickup_latitude": 1.0,
               "dropoff_longitude": 1.0, "dropoff_latitude": 1.0, "trip_type": 0.02,
               "on_scene_datetime": 0.28, "originating_base_num": 0.27, "sr_flag": 0.86,
               "affiliated_base_number": 0.02, "pickup_location_id": 0.0,
               "passenger_count": 0.03, "ratecode_id": 0.03, "store_and_fwd_flag": 0.03,
               "congestion_surcharge": 0.03, "airport_fee": 0.03}  # fmt: skip
# Relative to the last month (0 = the last). A missing last month means the schedule's month
# never arrived.
PLANTED = {
    "null_share_jump": ("yellow", -3, "passenger_count"),
    "forced": ("yellow", -1),
    "missing": ("green", (-8, -7, 0)),
    "refused": ("fhv", -5),
    "money_per_trip": ("fhvhv", -2, "base_passenger_fare"),
    "unknown_column": ("yellow", -6, "request_source"),
}


@dataclass
class _Month:
    dataset: Dataset
    month: Month
    rows: int
    quarantined: int
    offset: int  # months before the last (negative)


def _is(kind: str, dataset: str, offset: int, anomalies: bool) -> bool:
    if not anomalies:
        return False
    planted = PLANTED[kind]
    where = planted[1] if isinstance(planted[1], tuple) else (planted[1],)
    return planted[0] == dataset and offset in where


def _profile(m: _Month, rng: np.random.Generator, anomalies: bool) -> MonthProfile:
    name = m.dataset.name
    columns = []
    for column in profiled_columns(m.dataset):
        share = MOSTLY_NULL.get(column.name, 0.0)
        if column.name == "cbd_congestion_fee":
            share = 1.0 if m.month < Month(2025, 1) else 0.01
        if _is("null_share_jump", name, m.offset, anomalies) and column.name == "passenger_count":
            share = 0.62
        noise = rng.uniform(0.9, 1.1) if 0 < share < 1 else 1  # all-null stays all-null
        nulls = min(m.rows, round(m.rows * share * noise))
        total = None
        if Stat.SUM in column.stats and nulls < m.rows:
            per_trip = PER_TRIP.get(column.name, 1.0) * rng.uniform(0.97, 1.03)
            if (
                _is("money_per_trip", name, m.offset, anomalies)
                and column.name == "base_passenger_fare"
            ):
                per_trip /= 10
            total = round(per_trip * m.rows, 2)
        columns.append(ColumnProfile(column.name, nulls, sum=total))
    return MonthProfile(name, str(m.month), m.rows, tuple(columns))


UNKNOWN_COLUMN = {
    "rule": "new_columns", "severity": "warn", "column": "request_source",
    "message": "a new file column request_source (string) is loaded nowhere; the month before "
    "did not have it: add it to the dataset if it matters",
}  # fmt: skip


def _findings(m: _Month, profile: MonthProfile, history: list[MonthProfile], anomalies: bool):
    found = [warning.to_json() for warning in history_warnings(profile, history)]
    if _is("unknown_column", m.dataset.name, m.offset, anomalies):
        found.append(dict(UNKNOWN_COLUMN))
    if _is("forced", m.dataset.name, m.offset, anomalies):
        share = m.quarantined / (m.rows + m.quarantined)
        message = f"{share:.1%} of rows quarantined, above 5.0%; overridden by --force-publish"
        found.append({"rule": "quarantine_share", "severity": "refuse", "message": message})
    return found


def _published_at(month: Month, days: int = 5) -> datetime:
    arrival = month.plus(2)
    return datetime(arrival.year, arrival.month, min(28, days), 6, 30)


LAST_MONTH = Month(2025, 6)


def sample_report(
    months: int = 36,
    last: Month = LAST_MONTH,
    datasets: tuple[str, ...] = tuple(DATASETS),
    *,
    anomalies: bool = True,
    seed: int = 19,
) -> ReportData:
    """`months` months of each dataset up to `last` (each from its first month at the earliest)."""
    rng = np.random.default_rng(seed)
    ledger, refused, counts, profiles, revenue, boroughs = [], [], [], [], [], []
    for name in datasets:
        dataset, history = DATASETS[name], []
        for month in last.plus(1 - months).until(last):
            offset = (month.year - last.year) * 12 + month.month - last.month
            if month < dataset.first_month or _is("missing", name, offset, anomalies):
                continue
            season = 1 + 0.12 * math.sin((month.month - 3) / 12 * 2 * math.pi)
            rows = round(TRIPS[name] * season * rng.uniform(0.95, 1.05))
            quarantined = round(rows * (0.072 if _is("forced", name, offset, anomalies) else
                                        rng.uniform(0.0002, 0.0012)))  # fmt: skip
            m = _Month(dataset, month, rows, quarantined, offset)
            profile = _profile(m, rng, anomalies)
            findings = _findings(m, profile, history, anomalies)
            run_id = f"{name}-{month}-scheduled"
            if _is("refused", name, offset, anomalies):
                refused.append(RefusedRun(name, str(month), run_id, _published_at(month),
                    [{"rule": "other_month", "severity": "refuse",
                      "message": f"98.0% of pickups fall in {month.plus(-1)}, not {month}: the "
                                 "file of another month? Check --source"}]))  # fmt: skip
                continue
            history.append(profile)
            flagged = {flag.name: round(rows * rng.uniform(0.004, 0.02)) for flag in dataset.flags}
            clean = rows - round(sum(flagged.values()) * 0.8)
            rejected = dict.fromkeys(RULE_NAMES, 0)
            rejected[RULE_NAMES[0]] = round(quarantined * 0.7)
            rejected[RULE_NAMES[1]] = quarantined - rejected[RULE_NAMES[0]]
            ledger.append(LedgerRow(
                name, str(month), run_id, _published_at(month), "spark", dataset.source_url(month),
                rows * 12 + 1_000_000, rng.bytes(32).hex(), rows + quarantined, rows,
                quarantined, 0, _is("forced", name, offset, anomalies), findings,
            ))  # fmt: skip
            counts.append(
                MonthCounts(name, str(month), rows, quarantined, clean, flagged, rejected)
            )
            profiles += [ProfileRow(**row) for row in profile.table_rows(run_id)]
            money = REVENUE_COLUMN.get(name)
            revenue.append(RevenueRow(name, str(month), clean,
                                      profile.column(money).sum if money else None))  # fmt: skip
        if history:
            boroughs += _boroughs(name, history[-1].month, history[-1].rows)
    _republish(ledger)
    return ReportData(
        *map(tuple, (ledger, refused, counts, profiles, revenue, boroughs)),
        generated_at="2025-08-10 07:00 UTC",
    )


def _republish(ledger: list[LedgerRow]) -> None:
    """The oldest yellow month loaded again later (a re-run): a second publish replacing it."""
    first = next((row for row in ledger if row.dataset == "yellow"), None)
    if first is not None:
        ledger.append(replace(
            first, run_id=f"yellow-{first.source_month}-manual-20250801T0900Z",
            published_at="2025-08-01 09:00:00", rows_replaced=first.rows_loaded,
            rows_loaded=first.rows_loaded + 1_204, rows_in=first.rows_in + 1_204,
        ))  # fmt: skip


_BOROUGH_SHARE = {"Manhattan": 0.62, "Brooklyn": 0.13, "Queens": 0.16, "Bronx": 0.05,
                  "Staten Island": 0.01, "EWR": 0.005, "Unknown": 0.015}  # fmt: skip


def _boroughs(dataset: str, month: str, trips: int) -> list[BoroughRow]:
    names = sorted({zone.borough for zone in read_zones()})
    return [BoroughRow(dataset, month, name, round(trips * _BOROUGH_SHARE.get(name, 0.005)))
            for name in names]  # fmt: skip
