"""The per-school safety scorecard (GB/T 29315-2022 and the bureaus' inspection practice) as pure rules.

Facts in (:class:`SchoolFacts`, gathered by ``store/compliance_repo.py``), judgements out: each criterion with its
measured value, its target, a share met (0..1) and a status; an overall score 0-100; ranks; roll-ups per unit of
the organisation tree, weakest first. No I/O, no clock: the period and its facts are given.

The criteria (docs/compliance.md says the same for people):

* ``guards`` (专职保安): guards on the school's roster against :func:`domain.site.staffing.guards_required`.
* ``patrols`` (巡查): complete patrol rounds against the plan's rounds a day times the days judged; a school
  without a plan is held to :data:`~domain.site.patrols.MIN_ROUNDS_PER_DAY` a day and has done none.
* ``cameras`` (重点部位视频监控): the key areas (gate, perimeter, canteen kitchen; dormitory where pupils board)
  each watched by at least one camera that was online over the period (:func:`online_over`).
* ``retention`` (录像保存): every camera whose video is kept keeps it at least :data:`RETENTION_DAYS` days; not
  applicable where no video is kept.
* ``alarms`` (一键报警): one-button alarms present, all online over the period, and drilled within the last term.
* ``response`` (报警响应): the 90th percentile time to acknowledge real (non-drill) alarms within
  :data:`ACK_TARGET_S`, and none left unacknowledged; not applicable in a period without real alarms.

A criterion passes at a share met of at least :data:`PASS_SHARE`, is partial from :data:`PARTIAL_SHARE`, fails
below. The overall score is the mean share of the criteria that apply, times 100. A school needs rectification
(整改) when any criterion fails or its score is under :data:`RECTIFY_BELOW`.

"Online over the period" is judged on the period's own device history, not on today's state, so a past month's
scorecard (and its bulletin) reads the same whenever it is made: a camera or button counts as online when it was
available at least :data:`ONLINE_SHARE` of the period's judged time (a month in progress up to now), counted
from when it was first heard. Its availability is read from its online/offline events as the uptime report reads
it (``command_ui/uptime.py``); the store gives the seconds (``store/compliance_repo.py``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from domain.site.patrols import MIN_ROUNDS_PER_DAY
from domain.site.staffing import guards_required

Criterion = Literal["guards", "patrols", "cameras", "retention", "alarms", "response"]
CRITERIA: tuple[Criterion, ...] = ("guards", "patrols", "cameras", "retention", "alarms", "response")
Status = Literal["pass", "partial", "fail", "na"]

PASS_SHARE = 0.95
"""A criterion met to this share passes: one missed patrol round in a month of 150 still passes."""
PARTIAL_SHARE = 0.5
"""Below this share a criterion fails."""
RECTIFY_BELOW = 60.0
"""A school scoring under this (or failing any criterion) is listed for rectification (整改)."""
RETENTION_DAYS = 30.0
"""Days recordings must be kept (the provinces' rules for school video)."""
TERM = timedelta(days=183)
"""A school term and its holiday, about half a year: a one-button alarm must have been drilled within it."""
ONLINE_SHARE = 0.95
"""Share of the judged time a camera or one-button alarm must have been available to count as online for it.

The scorecard's own pass mark (:data:`PASS_SHARE`), and the order of the video online rate (视频在线率) public
video networks are held to: a day and a half down in a 30-day month still passes (a fault reported and fixed
within a 24-48 h maintenance commitment), two days or a week down does not, nor does a device dark for most of
the month that came back by its end."""
ACK_TARGET_S = 120.0
"""Seconds within which 90 % of real alarms are to be acknowledged."""
KEY_AREAS: tuple[str, ...] = ("gate", "perimeter", "kitchen")
"""Places every school must watch (GB/T 29315: entrances, the perimeter, the canteen's kitchen)."""
BOARDING_AREAS: tuple[str, ...] = ("dormitory",)
"""Places a boarding school (寄宿制) must watch as well."""
AREA_OF_PLACE: Mapping[str, str] = {"gate": "gate", "entrance": "gate", "perimeter": "perimeter",
                                    "kitchen": "kitchen", "canteen": "kitchen", "dormitory": "dormitory"}
"""Which key area a camera's ``place_kind`` watches: a canteen camera counts for the canteen kitchen."""


@dataclass(frozen=True, slots=True)
class CameraFact:
    """One camera of a school: what it watches and whether it was online over the period (:func:`online_over`)."""

    place_kind: str | None
    online: bool


@dataclass(frozen=True, slots=True)
class SchoolFacts:
    """What the platform knows of one school over one period."""

    school_id: str
    name: str
    path: str
    """The school's organisation path, ``/city/county/township/school/``."""
    pupils: int | None
    boarding: bool
    guards: int
    rounds_per_day: int | None
    """Rounds a day the school's patrol plan asks for; None: the school has no plan."""
    rounds_done: int
    """Complete patrol rounds that started in the period."""
    days: float
    """Days of the period judged (a month in progress is judged up to now)."""
    cameras: tuple[CameraFact, ...]
    retention_days: tuple[float, ...]
    """The retention of every camera whose video is kept (empty: the school keeps no video)."""
    buttons: int
    buttons_online: int
    """One-button alarms online over the period (:func:`online_over`)."""
    last_drill: datetime | None
    """The latest drill of the school's alarms up to the period's end, if any."""
    period_end: datetime
    ack_seconds: tuple[float, ...]
    """Time to acknowledge each real alarm of the period that was acknowledged."""
    unacknowledged: int
    """Real alarms of the period nobody acknowledged."""


@dataclass(frozen=True, slots=True)
class Judgement:
    """One criterion of one school: what was measured against what was asked, and how well it was met."""

    criterion: Criterion
    measured: float | None
    target: float | None
    share: float | None
    """Share met, 0..1; None where the criterion does not apply."""
    status: Status


@dataclass(frozen=True, slots=True)
class Scorecard:
    """One school's scorecard: each criterion, the score 0-100 and its rank (1 is best)."""

    school_id: str
    name: str
    path: str
    judgements: tuple[Judgement, ...]
    score: float
    rank: int = 0

    @property
    def rectify(self) -> bool:
        """Whether the school needs rectification (整改): a criterion failed, or the score is too low."""
        return self.score < RECTIFY_BELOW or any(j.status == "fail" for j in self.judgements)

    def judgement(self, criterion: Criterion) -> Judgement:
        """Return the judgement of one criterion."""
        return next(j for j in self.judgements if j.criterion == criterion)


@dataclass(frozen=True, slots=True)
class UnitRollup:
    """A unit of the tree (township, county, city) over its schools: mean score, the weakest, how many to fix."""

    unit_id: str
    path: str
    schools: int
    score: float | None
    rectify: int


def online_over(online_s: float, counted_s: float) -> bool:
    """Whether a device counts as online for a period: available at least :data:`ONLINE_SHARE` of its time.

    ``counted_s`` is the part of the period that counts for the device (from its first message on), ``online_s``
    the part of that it was online. A device with no time counted (never heard, or first heard after the period)
    was not there to watch anything: not online.
    """
    return counted_s > 0 and online_s >= ONLINE_SHARE * counted_s


def status_of(share: float | None) -> Status:
    """Say how well a share was met: pass, partial, fail, or na where the criterion does not apply."""
    if share is None:
        return "na"
    return "pass" if share >= PASS_SHARE else "partial" if share >= PARTIAL_SHARE else "fail"


def _judged(criterion: Criterion, measured: float | None, target: float | None, share: float | None) -> Judgement:
    clipped = None if share is None else min(max(share, 0.0), 1.0)
    return Judgement(criterion, measured, target, clipped, status_of(clipped))


def judge_guards(pupils: int | None, guards: int) -> Judgement:
    """Judge guards on the roster against GB/T 29315 (a school of unknown size is held to the minimum, one)."""
    needed = guards_required(pupils or 0)
    return _judged("guards", guards, needed, guards / needed)


def judge_patrols(rounds_per_day: int | None, rounds_done: int, days: float) -> Judgement:
    """Judge rounds done a day against the plan's (at least five a day where the school has no plan)."""
    per_day = rounds_per_day if rounds_per_day is not None else MIN_ROUNDS_PER_DAY
    if days <= 0:
        return _judged("patrols", None, per_day, None)
    planned = per_day * days
    return _judged("patrols", round(rounds_done / days, 2), per_day, rounds_done / planned)


def required_areas(boarding: bool) -> tuple[str, ...]:
    """Return the key areas a school must watch."""
    return KEY_AREAS + (BOARDING_AREAS if boarding else ())


def judge_cameras(cameras: Iterable[CameraFact], boarding: bool) -> Judgement:
    """Judge key areas watched by an online camera, of those the school must watch."""
    needed = required_areas(boarding)
    watched = {AREA_OF_PLACE.get(c.place_kind or "") for c in cameras if c.online}
    covered = sum(area in watched for area in needed)
    return _judged("cameras", covered, len(needed), covered / len(needed))


def judge_retention(retention_days: Sequence[float]) -> Judgement:
    """Judge the shortest retention of the cameras whose video is kept, against 30 days; na where none is kept."""
    if not retention_days:
        return _judged("retention", None, RETENTION_DAYS, None)
    shortest = min(retention_days)
    kept_long = sum(days >= RETENTION_DAYS for days in retention_days)
    return _judged("retention", shortest, RETENTION_DAYS, kept_long / len(retention_days))


def judge_alarms(buttons: int, online: int, last_drill: datetime | None, period_end: datetime) -> Judgement:
    """Judge one-button alarms: a third for being present, a third for being online, a third for a drill this term.

    The measured value is the share of buttons online; a school without any button fails outright.
    """
    if buttons == 0:
        return _judged("alarms", 0, 1, 0.0)
    drilled = last_drill is not None and period_end - TERM <= last_drill <= period_end
    share = (1 + online / buttons + (1 if drilled else 0)) / 3
    return _judged("alarms", round(online / buttons, 3), 1, share)


def percentile(values: Sequence[float], q: float) -> float | None:
    """Return the ``q`` quantile (0..1) of ``values`` by linear interpolation, None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    at = q * (len(ordered) - 1)
    low, high = math.floor(at), math.ceil(at)
    return ordered[low] + (ordered[high] - ordered[low]) * (at - low)


def judge_response(ack_seconds: Sequence[float], unacknowledged: int) -> Judgement:
    """Judge the 90th percentile time to acknowledge real alarms against 2 minutes; ones left alone count.

    An alarm nobody acknowledged counts as never acknowledged, so the percentile is taken over every real alarm
    of the period: it passes exactly when the 90th percentile is within the target, and the percentile shown is
    the one judged (None when it falls on an alarm nobody acknowledged). The share (for the score) is the part
    acknowledged within the target. Not applicable in a period without real alarms.
    """
    total = len(ack_seconds) + unacknowledged
    if total == 0:
        return _judged("response", None, ACK_TARGET_S, None)
    p90 = percentile([*ack_seconds, *([math.inf] * unacknowledged)], 0.9)
    measured = None if p90 is None or math.isinf(p90) or math.isnan(p90) else round(p90, 1)
    share = sum(s <= ACK_TARGET_S for s in ack_seconds) / total
    status: Status = ("pass" if measured is not None and measured <= ACK_TARGET_S
                      else "partial" if share >= PARTIAL_SHARE else "fail")
    return Judgement("response", measured, ACK_TARGET_S, share, status)


def scorecard(facts: SchoolFacts) -> Scorecard:
    """Judge one school on every criterion; the score is the mean share met of those that apply, times 100."""
    judgements = (
        judge_guards(facts.pupils, facts.guards),
        judge_patrols(facts.rounds_per_day, facts.rounds_done, facts.days),
        judge_cameras(facts.cameras, facts.boarding),
        judge_retention(facts.retention_days),
        judge_alarms(facts.buttons, facts.buttons_online, facts.last_drill, facts.period_end),
        judge_response(facts.ack_seconds, facts.unacknowledged),
    )
    shares = [j.share for j in judgements if j.share is not None]
    score = round(100 * sum(shares) / len(shares), 1) if shares else 0.0
    return Scorecard(facts.school_id, facts.name, facts.path, judgements, score)


def ranked(cards: Iterable[Scorecard]) -> list[Scorecard]:
    """Rank schools best first (1 is best; equal scores share a rank) and return them weakest first."""
    by_score = sorted(cards, key=lambda c: (-c.score, c.name, c.school_id))
    out: list[Scorecard] = []
    for index, card in enumerate(by_score):
        rank = out[-1].rank if out and out[-1].score == card.score else index + 1
        out.append(Scorecard(card.school_id, card.name, card.path, card.judgements, card.score, rank))
    return sorted(out, key=lambda c: (c.score, c.name, c.school_id))


def rollup(cards: Iterable[Scorecard], units: Mapping[str, str]) -> list[UnitRollup]:
    """Roll schools up to every unit given (id -> path) whose subtree holds them; weakest unit first.

    A unit's score is the mean of its schools' scores, so a township of three weak schools ranks below a county
    of thirty middling ones, as the bulletin reads. Units without schools are left out.
    """
    listed = list(cards)
    out: list[UnitRollup] = []
    for unit_id, path in units.items():
        inside = [c for c in listed if c.path.startswith(path) and c.path != path]
        if inside:
            out.append(UnitRollup(unit_id, path, len(inside), round(sum(c.score for c in inside) / len(inside), 1),
                                  sum(c.rectify for c in inside)))
    return sorted(out, key=lambda u: (u.score if u.score is not None else -1.0, u.path))


@dataclass(frozen=True, slots=True)
class Change:
    """How a school moved since the previous period: rank places (positive: up) and score points."""

    rank_delta: int | None
    score_delta: float | None


def changes(now: Iterable[Scorecard], before: Iterable[Scorecard]) -> dict[str, Change]:
    """Compare two periods' ranked scorecards, per school; None for a school the previous period lacks."""
    previous = {c.school_id: c for c in before}
    out: dict[str, Change] = {}
    for card in now:
        old = previous.get(card.school_id)
        out[card.school_id] = (Change(old.rank - card.rank, round(card.score - old.score, 1)) if old
                               else Change(None, None))
    return out
