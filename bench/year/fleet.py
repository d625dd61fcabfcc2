"""The city's fleet and its days: the example district's buses, cloned to a city's size, driving their routes.

Pure: no database. A bus drives its route out in the morning and back in the afternoon on school days, one fix
every five seconds; otherwise it is parked at its depot and its tracker sends a heartbeat fix every quarter hour.
School days are weekdays outside the summer and winter breaks, in the school's own timezone.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

FIX_EVERY = timedelta(seconds=5)
PARKED_EVERY = timedelta(minutes=15)
RUN_LENGTH = timedelta(minutes=90)
MORNING, AFTERNOON = time(6, 45), time(14, 45)
SPEED_KMH = 28.0
_FIXES_PER_RUN = int(RUN_LENGTH / FIX_EVERY)


@dataclass(frozen=True, slots=True)
class Tracker:
    """One bus tracker of the city: its device id, its bus, school timezone, route (lon, lat) and depot."""

    device_id: str
    bus_id: str
    school_id: str
    timezone: str
    source: str
    route: tuple[tuple[float, float], ...]
    depot: tuple[float, float]


@dataclass(frozen=True, slots=True)
class Fix:
    """One generated fix (device time), before it becomes a COPY row."""

    time: datetime
    lon: float
    lat: float
    speed_kmh: float
    heading_deg: float


def school_day(day: date) -> bool:
    """Weekdays outside the summer break (mid-June to mid-August) and the winter break (Dec 22 to Jan 2)."""
    if day.weekday() >= 5:
        return False
    if (6, 15) <= (day.month, day.day) <= (8, 15):
        return False
    return not ((day.month, day.day) >= (12, 22) or (day.month, day.day) <= (1, 2))


def fixes_per_tracker_year(start: date = date(2025, 1, 1)) -> int:
    """Count the fixes one tracker sends in a year, for sizing the fleet to a target row count."""
    days = [start + timedelta(days=n) for n in range(365)]
    parked = 365 * int(timedelta(days=1) / PARKED_EVERY)
    return parked + sum(2 * _FIXES_PER_RUN for d in days if school_day(d))


def _heading(a: tuple[float, float], b: tuple[float, float]) -> float:
    dx = (b[0] - a[0]) * math.cos(math.radians(a[1]))
    return (math.degrees(math.atan2(dx, b[1] - a[1])) + 360.0) % 360.0


def run_path(route: tuple[tuple[float, float], ...]) -> list[tuple[float, float, float, float]]:
    """One run's fixes as (lon, lat, speed, heading): along the route at a steady speed, back and forth."""
    step_m = SPEED_KMH / 3.6 * FIX_EVERY.total_seconds()
    points: list[tuple[float, float, float, float]] = []
    legs = list(itertools.pairwise(route))
    leg, along, forward = 0, 0.0, True
    while len(points) < _FIXES_PER_RUN and legs:
        a, b = legs[leg] if forward else (legs[leg][1], legs[leg][0])
        length = max(1.0, math.dist((a[0] * 85_000, a[1] * 111_000), (b[0] * 85_000, b[1] * 111_000)))
        share = min(along / length, 1.0)
        points.append((a[0] + (b[0] - a[0]) * share, a[1] + (b[1] - a[1]) * share, SPEED_KMH, _heading(a, b)))
        along += step_m
        if along >= length:  # next leg; at either end of the route the bus turns round
            along -= length
            nxt = leg + (1 if forward else -1)
            if 0 <= nxt < len(legs):
                leg = nxt
            else:
                forward = not forward
    return points


def service_day(tracker: Tracker, day: date) -> tuple[datetime, datetime]:
    """When the day's service starts (the morning run) and ends (the afternoon run's end), in UTC."""
    zone = ZoneInfo(tracker.timezone)
    return (datetime.combine(day, MORNING, zone).astimezone(UTC),
            datetime.combine(day, AFTERNOON, zone).astimezone(UTC) + RUN_LENGTH)


def day_fixes(tracker: Tracker, day: date, path: list[tuple[float, float, float, float]]) -> list[Fix]:
    """Every fix the tracker sends on one local day, in time order."""
    zone = ZoneInfo(tracker.timezone)
    midnight = datetime.combine(day, time(0), zone).astimezone(UTC)
    out: list[Fix] = []
    runs: list[tuple[datetime, bool]] = []
    if school_day(day):
        runs = [(datetime.combine(day, MORNING, zone).astimezone(UTC), True),
                (datetime.combine(day, AFTERNOON, zone).astimezone(UTC), False)]
    moment = midnight
    # The next local midnight, not 24 hours on: a day when the clocks change is 23 or 25 hours long.
    end = datetime.combine(day + timedelta(days=1), time(0), zone).astimezone(UTC)
    for start, outward in [*runs, (end, True)]:
        while moment < start:  # parked heartbeats until the next run
            out.append(Fix(moment, tracker.depot[0], tracker.depot[1], 0.0, 0.0))
            moment += PARKED_EVERY
        if start == end:
            break
        ordered = path if outward else path[::-1]
        out.extend(Fix(start + FIX_EVERY * n, lon, lat, speed, heading)
                   for n, (lon, lat, speed, heading) in enumerate(ordered))
        moment = start + RUN_LENGTH
    return out
