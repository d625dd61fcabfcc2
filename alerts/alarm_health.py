"""Alarm health (ISA-18.2 / IEC 62682 performance measures, adapted to a district) and the live board's flags.

Pure: the rows come in, the figures go out. Definitions, for the docs and the page alike:

* **alarms** - real incidents raised in the period (drills left out), by ``raised_at`` (server time).
* **alarms per operator-hour** - a school's alarms divided by the period's hours times its operators (its
  active guards, at least one). ISA-18.2 calls about 6 an hour manageable and over 12 overload.
* **flood** - more than :data:`FLOOD_ALARMS` new alarms within :data:`FLOOD_WINDOW`; the share of the period's
  10-minute windows in flood (windows aligned on the period's start).
* **noisiest** - the ten incident types and ten sources raising the most alarms.
* **false-alarm ratio** - of the alarms resolved real or false, the share resolved false.
* **time to acknowledge** - from ``raised_at`` to the first move a person made, p50 and p90.
* **stale** - open more than :data:`STALE_AFTER`.

Per operator (a person who made the first move on alarms): how many they took, per hour of the period, and
their own time to acknowledge.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

FLOOD_ALARMS = 10
FLOOD_WINDOW = timedelta(minutes=10)
STALE_AFTER = timedelta(hours=24)
MANAGEABLE_PER_HOUR = 6.0
OVERLOAD_PER_HOUR = 12.0
TOP = 10

Load = Literal["manageable", "demanding", "overload"]


@dataclass(frozen=True, slots=True)
class AlarmRow:
    """One incident as the report needs it."""

    id: int
    school_id: str
    type: str
    severity: str
    sources: tuple[str, ...]
    raised_at: datetime
    first_action_at: datetime | None
    first_actor: str | None
    outcome: str | None
    drill: bool


@dataclass(frozen=True, slots=True)
class Ranked:
    """A type or source and how many alarms it raised."""

    name: str
    alarms: int


@dataclass(frozen=True, slots=True)
class SchoolHealth:
    """One school's alarm load over the period."""

    school_id: str
    alarms: int
    operators: int
    per_operator_hour: float
    load: Load
    flood_share: float
    peak_10min: int
    noisiest_types: tuple[Ranked, ...]
    noisiest_sources: tuple[Ranked, ...]
    false_alarm_ratio: float | None
    ack_p50_s: float | None
    ack_p90_s: float | None
    unacknowledged: int


@dataclass(frozen=True, slots=True)
class OperatorHealth:
    """One person's share of the alarms."""

    actor: str
    acknowledged: int
    per_hour: float
    load: Load
    ack_p50_s: float | None
    ack_p90_s: float | None


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (as PostgreSQL's ``percentile_cont``); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = q * (len(ordered) - 1)
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def load_of(per_hour: float) -> Load:
    """ISA-18.2's reading of an alarm rate per operator-hour."""
    if per_hour > OVERLOAD_PER_HOUR:
        return "overload"
    return "demanding" if per_hour > MANAGEABLE_PER_HOUR else "manageable"


def _windows(times: Iterable[datetime], since: datetime, until: datetime) -> tuple[float, int]:
    """Share of the period's 10-minute windows in flood, and the most alarms in any one window."""
    total = max(1, math.ceil((until - since) / FLOOD_WINDOW))
    counts = Counter(int((t - since) / FLOOD_WINDOW) for t in times if since <= t < until)
    flooded = sum(1 for n in counts.values() if n > FLOOD_ALARMS)
    return flooded / total, max(counts.values(), default=0)


def _ack_seconds(rows: Iterable[AlarmRow]) -> list[float]:
    return [(r.first_action_at - r.raised_at).total_seconds() for r in rows if r.first_action_at is not None]


def _ranked(counter: Counter[str]) -> tuple[Ranked, ...]:
    return tuple(Ranked(name, n) for name, n in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP])


def school_health(rows: Sequence[AlarmRow], since: datetime, until: datetime,
                  operators: Mapping[str, int]) -> list[SchoolHealth]:
    """Health per school of the real alarms raised in ``[since, until)``; schools without alarms are left out."""
    hours = max((until - since) / timedelta(hours=1), 1e-9)
    by_school: dict[str, list[AlarmRow]] = {}
    for row in rows:
        if not row.drill and since <= row.raised_at < until:
            by_school.setdefault(row.school_id, []).append(row)
    result = []
    for school, alarms in sorted(by_school.items()):
        staff = max(1, operators.get(school, 0))
        rate = len(alarms) / hours / staff
        share, peak = _windows((a.raised_at for a in alarms), since, until)
        judged = [a for a in alarms if a.outcome in ("real", "false_alarm")]
        acks = _ack_seconds(alarms)
        result.append(SchoolHealth(
            school, len(alarms), staff, rate, load_of(rate), share, peak,
            _ranked(Counter(a.type for a in alarms)),
            _ranked(Counter(s for a in alarms for s in set(a.sources))),
            sum(a.outcome == "false_alarm" for a in judged) / len(judged) if judged else None,
            percentile(acks, 0.5), percentile(acks, 0.9), sum(a.first_action_at is None for a in alarms)))
    return result


def operator_health(rows: Sequence[AlarmRow], since: datetime, until: datetime) -> list[OperatorHealth]:
    """Per person who made the first move on real alarms raised in ``[since, until)``, busiest first."""
    hours = max((until - since) / timedelta(hours=1), 1e-9)
    by_actor: dict[str, list[AlarmRow]] = {}
    for row in rows:
        if not row.drill and row.first_actor and since <= row.raised_at < until:
            by_actor.setdefault(row.first_actor, []).append(row)
    result = []
    for actor, taken in by_actor.items():
        acks = _ack_seconds(taken)
        rate = len(taken) / hours
        result.append(OperatorHealth(actor, len(taken), rate, load_of(rate), percentile(acks, 0.5),
                                     percentile(acks, 0.9)))
    return sorted(result, key=lambda o: (-o.acknowledged, o.actor))


def in_flood(raised: Iterable[datetime], now: datetime) -> int:
    """How many alarms were raised in the flood window before ``now``, when that is a flood; else 0."""
    recent = sum(1 for t in raised if now - FLOOD_WINDOW < t <= now)
    return recent if recent > FLOOD_ALARMS else 0


def is_stale(raised_at: datetime, now: datetime) -> bool:
    """Open longer than :data:`STALE_AFTER` (the caller passes only open incidents)."""
    return now - raised_at > STALE_AFTER
