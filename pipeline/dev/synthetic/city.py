"""The city every synthetic trip model shares: TLC's zones, their boroughs, when people travel.

Approximations (plausible, not measured): the hour-of-day and weekday cycles, each zone's fixed
popularity. Copied from TLC: the 265 zone ids and their boroughs (taxi_zone_lookup.csv).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import numpy as np

from pipeline.contract.months import Month

US_PER_SECOND = 1_000_000
SECONDS_PER_DAY = 86_400

# The borough of zone id i+1 (TLC's taxi_zone_lookup.csv, ids 1..265): M Manhattan, Q Queens,
# K Brooklyn, X Bronx, S Staten Island, E Newark airport, U unknown / outside NYC.
ZONE_BOROUGHS = (
    "EQXMSSQQQQKMMKQQKXQXKKSMKKQQKQXXKKKKKQKKMMMSMXXMKMXKQKKQQXXXKKKQKKKMXQKKQMMKKXMKXQQSKQMMKM"
    "KQQXQQKQSMQQMMMKMKSSKKMMSMQSXMQQKQMXMMQQQQKQQXMQQMMMMMQQXMKKMMMKKSQMXQMMMMKMXXXMQSQXQSKKQQ"
    "KXXXXMSKKKQQQMKQQQXXQMQSQSQXMKMXXSQQKQQXSKQMKQKKMMMMMMXMMMMXXXMMSMXXMXSQQXKKKQXQMMMUU"
)
BOROUGHS = np.array(list(ZONE_BOROUGHS))
ZONE_IDS = np.arange(1, len(ZONE_BOROUGHS) + 1)
NEWARK, JFK, LAGUARDIA = 1, 132, 138
# Share of trips starting in each hour of the day (NYC's evening peak, quiet 4-5 am).
HOURLY_SHARE = np.array([
    2.9, 2.0, 1.4, 0.9, 0.7, 0.9, 2.0, 3.4, 4.3, 4.4, 4.5, 4.8,
    5.1, 5.2, 5.6, 5.9, 5.9, 6.6, 7.1, 6.5, 5.8, 5.6, 5.0, 3.9,
])  # fmt: skip
WEEKDAY_SHARE = (1.0, 1.0, 1.05, 1.1, 1.1, 1.0, 0.8)  # Monday..Sunday


def epoch_us(day: date) -> int:
    return (day - date(1970, 1, 1)).days * SECONDS_PER_DAY * US_PER_SECOND


def zone_weights(boroughs: Mapping[str, float], airports: Mapping[int, float]) -> np.ndarray:
    """Pickup probability per zone id (index 0 = id 1): borough share x fixed zone popularity,
    with the airports' own shares."""
    popularity = np.random.default_rng(265).lognormal(0.0, 1.0, len(BOROUGHS))
    weights = np.zeros(len(BOROUGHS))
    for borough, share in boroughs.items():
        members = borough == BOROUGHS
        weights[members] = share * popularity[members] / popularity[members].sum()
    for zone, share in airports.items():
        weights[zone - 1] = share
    return weights / weights.sum()


def pickups(rng: np.random.Generator, month: Month, n: int) -> tuple[np.ndarray, ...]:
    """Pickup times over the month (weekday and hour-of-day cycles, whole seconds): the
    microseconds since the epoch, wall clock, and each pickup's hour and weekday."""
    days = (month.next().first_day - month.first_day).days
    weekdays = (month.first_day.weekday() + np.arange(days)) % 7
    day_share = np.array(WEEKDAY_SHARE)[weekdays]
    day = rng.choice(days, size=n, p=day_share / day_share.sum())
    hour = rng.choice(24, size=n, p=HOURLY_SHARE / HOURLY_SHARE.sum())
    seconds = (day * 24 + hour) * 3600 + rng.integers(0, 3600, n)
    pickup = epoch_us(month.first_day) + seconds * US_PER_SECOND
    return pickup, hour, weekdays[day]


def speeds_mph(rng: np.random.Generator, hour: np.ndarray) -> np.ndarray:
    """Door-to-door speeds: slower in the day's busy hours."""
    busy = (hour >= 7) & (hour < 20)
    return np.clip(rng.lognormal(np.where(busy, np.log(9.0), np.log(14.0)), 0.3), 2.0, 45.0)


def shift_pickup(trips, rows: np.ndarray, pickup: np.ndarray, *also: str) -> None:
    """Move pickups, keeping each trip's duration (and the offsets of the `also` times)."""
    delta = pickup - trips.pickup[rows]
    trips.pickup[rows] = pickup
    for name in ("dropoff", *also):
        getattr(trips, name)[rows] += delta
