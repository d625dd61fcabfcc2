"""Guard patrol rounds as pure rules: a day's rounds, a scan's round and whether it counts, a round's status.

A round's status at a given server time is upcoming, open, done, late, overdue or missed.

**Rounds partition time.** A school's plan gives local start times; a round runs from its start to the next
round's start (its ``close``; the last round of a day closes at the next day's first). Every scan therefore
belongs to exactly one round, and a round must be complete by ``start + grace`` (its ``deadline``). Times are
the school's wall clock turned into instants: a start that falls in a DST gap moves forward with the clock
(02:30 on the spring-forward night is 03:30), one that falls twice in the autumn is its first occurrence, and
two starts that become one instant are one round.

**What counts** (honesty of the record, not cryptography): a scan with a valid signature is always recorded.
It counts toward its round when (1) the checkpoint has a radius and the phone's position lies within it, or
the checkpoint has none; and (2) no earlier scan of that checkpoint counted in the same round: a replay, or a
second guard scanning the same code, is kept as ``repeat`` and changes nothing.

**Status at server time ``now``.** A round is complete when every checkpoint it visits has a counted scan;
it completed at the latest of those scans. Before its start it is ``upcoming``; then ``open``; complete by the
deadline it is ``done``, complete later (but before its close, by construction) ``late``; not complete after
the deadline it is ``overdue`` and, from its close on, ``missed``. A round not complete at its deadline raises
one alarm (:func:`missed_signal`), decided by the server's clock, never the phone's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo

from alerts.correlate import distance_m
from domain.incident import Signal
from domain.site.patrols import PatrolPlan

RoundStatus = Literal["upcoming", "open", "done", "late", "overdue", "missed"]
ScanReason = Literal["counted", "repeat", "no_position", "too_far"]
MISSED_KIND = "patrol.round_missed"
"""The signal kind a round not complete at its deadline raises (alerts/default_rules.yaml)."""


@dataclass(frozen=True, slots=True)
class Round:
    """One planned round of one school on one local day, as instants in UTC."""

    school_id: str
    local_date: dt.date
    local_time: dt.time
    start: dt.datetime
    deadline: dt.datetime
    close: dt.datetime
    checkpoints: tuple[str, ...]

    @property
    def label(self) -> str:
        """Name the round as the school's staff do: its local start, ``HH:MM``."""
        return f"{self.local_time:%H:%M}"


@dataclass(frozen=True, slots=True)
class Spot:
    """Where a checkpoint's code hangs and how near a phone must be for its scan to count."""

    id: str
    lon: float | None = None
    lat: float | None = None
    radius_m: float | None = None


@dataclass(frozen=True, slots=True)
class RoundReport:
    """A round's status at a moment, with the checkpoints it has and when it was completed."""

    round: Round
    status: RoundStatus
    visited: tuple[str, ...]
    completed_at: dt.datetime | None


def _instant(day: dt.date, at: dt.time, zone: ZoneInfo) -> dt.datetime:
    # Through UTC and back: a wall time in a DST gap comes out as the instant the clock shows an hour later.
    return dt.datetime.combine(day, at, tzinfo=zone).astimezone(dt.UTC)


def _starts(plan: PatrolPlan, zone: ZoneInfo, day: dt.date) -> list[tuple[dt.time, dt.datetime]]:
    seen: dict[dt.datetime, dt.time] = {}
    for at in plan.times():
        seen.setdefault(_instant(day, at, zone), at)
    return sorted(((at, start) for start, at in seen.items()), key=lambda pair: pair[1])


def rounds_of_day(school_id: str, plan: PatrolPlan, zone: ZoneInfo, day: dt.date,
                  all_checkpoints: Sequence[str]) -> tuple[Round, ...]:
    """Return the rounds starting on local date ``day``, in order, each closing at the next one's start."""
    visits = tuple(plan.checkpoints or sorted(all_checkpoints))
    starts = _starts(plan, zone, day)
    following = _starts(plan, zone, day + dt.timedelta(days=1))
    closes = [start for _, start in starts[1:]] + [following[0][1]]
    grace = dt.timedelta(minutes=plan.grace_min)
    return tuple(Round(school_id, day, at, start, min(start + grace, close), close, visits)
                 for (at, start), close in zip(starts, closes, strict=True))


def round_at(school_id: str, plan: PatrolPlan, zone: ZoneInfo, when: dt.datetime,
             all_checkpoints: Sequence[str]) -> Round:
    """Return the round whose span ``[start, close)`` holds the instant ``when``."""
    day = when.astimezone(zone).date()
    candidates = [r for d in (day - dt.timedelta(days=1), day)
                  for r in rounds_of_day(school_id, plan, zone, d, all_checkpoints)]
    return [r for r in candidates if r.start <= when][-1]


def judge_scan(spot: Spot, position: tuple[float, float] | None, already_counted: bool) -> ScanReason:
    """Decide whether one validly signed scan counts, by the rules in the module docstring."""
    if spot.radius_m is not None and spot.lon is not None and spot.lat is not None:
        if position is None:
            return "no_position"
        if distance_m(position[0], position[1], spot.lon, spot.lat) > spot.radius_m:
            return "too_far"
    return "repeat" if already_counted else "counted"


def report(round_: Round, counted: Mapping[str, dt.datetime], now: dt.datetime) -> RoundReport:
    """Give a round's status at ``now`` from the first counted scan time of each checkpoint in it."""
    visited = tuple(c for c in round_.checkpoints if c in counted and counted[c] <= now)
    completed = max((counted[c] for c in visited), default=None) if len(visited) == len(round_.checkpoints) \
        else None
    status: RoundStatus
    if completed is not None:
        status = "done" if completed <= round_.deadline else "late"
    elif now < round_.start:
        status = "upcoming"
    elif now < round_.deadline:
        status = "open"
    else:
        status = "overdue" if now < round_.close else "missed"
    return RoundReport(round_, status, visited, completed)


def missed_at_deadline(state: RoundReport, now: dt.datetime) -> bool:
    """Say whether the round owes an alarm: its deadline has passed and it was not complete by then."""
    if now < state.round.deadline:
        return False
    return state.completed_at is None or state.completed_at > state.round.deadline


def missed_signal(state: RoundReport, names: Mapping[str, str]) -> Signal:
    """Build the alarm of a round not complete at its deadline; one id per round, so it is raised once."""
    round_ = state.round
    micros = (round_.start - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1)
    missing = [names.get(c, c) for c in round_.checkpoints if c not in state.visited]
    return Signal(
        signal_id=f"{MISSED_KIND}:{round_.school_id}:{micros}", kind=MISSED_KIND, school_id=round_.school_id,
        source_id=f"patrol:{round_.school_id}", time=round_.deadline,
        detail={"round": round_.label, "date": round_.local_date.isoformat(), "visited": len(state.visited),
                "planned": len(round_.checkpoints), "missing": ", ".join(missing)})


@dataclass(frozen=True, slots=True)
class DayTally:
    """A school's rounds of one day by outcome: the scorecard's patrol figures."""

    planned: int
    done: int
    late: int
    missed: int
    open: int


def tally(reports: Iterable[RoundReport]) -> DayTally:
    """Count a day's rounds; ``missed`` holds overdue ones too (their deadline passed without completion)."""
    states = [r.status for r in reports]
    return DayTally(planned=len(states), done=states.count("done"), late=states.count("late"),
                    missed=states.count("missed") + states.count("overdue"),
                    open=states.count("open") + states.count("upcoming"))
