"""The zone rules' frozen state: what each person track has done, and each situation's debounce and cooldown.

Both parts stay bounded whatever the length of the stream: a track is forgotten ``forget_s`` after it was
last seen, and a situation (one event kind in one zone) is dropped once it is idle, holds nothing and its
cooldown has run out, so there are at most (kinds x (zones + 1)) of them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from vision.config import RuleParams
from vision.messages import VisionEventKind


@dataclass(frozen=True, slots=True)
class ZoneVisit:
    """A track's stay in one zone: when it entered and when it was last seen inside."""

    zone: str
    entered: datetime
    last_in: datetime


@dataclass(frozen=True, slots=True)
class TrackMemory:
    """What the rules remember of one person track."""

    track_id: int
    last_seen: datetime
    visits: tuple[ZoneVisit, ...] = ()
    """Zones the track is (or was within ``grace_s``) in, by zone name."""
    lying_since: datetime | None = None
    """Start of its current run of lying verdicts; frames without a verdict leave it as it is."""


@dataclass(frozen=True, slots=True)
class Situation:
    """One event kind in one zone (none: the whole camera): its hold, recent frames and cooldown."""

    kind: VisionEventKind
    zone: str | None
    since: datetime | None = None
    """Start of the current hold of the condition (gaps shorter than ``grace_s`` do not break it)."""
    last_true: datetime | None = None
    """The last observation the condition held in."""
    recent: tuple[bool, ...] = ()
    """Whether it held in each of the last ``object_window`` observations, oldest first."""
    fired: datetime | None = None
    """When it last made an event."""
    armed: bool = True
    """False from an event until the condition has been absent for ``clear_s``."""


@dataclass(frozen=True, slots=True)
class ZoneState:
    """The state of one camera's zone rules: person tracks by id, situations by (kind, zone)."""

    last_time: datetime | None = None
    tracks: tuple[TrackMemory, ...] = ()
    situations: tuple[Situation, ...] = ()


EMPTY_STATE = ZoneState()


def step_track(
    memory: TrackMemory | None, track_id: int, zones: tuple[str, ...], lying: bool | None, now: datetime,
    params: RuleParams,
) -> TrackMemory:
    """Update one person track seen at ``now`` in ``zones`` with its pose verdict."""
    old = {visit.zone: visit for visit in memory.visits} if memory is not None else {}
    visits = []
    for name in sorted(old.keys() | set(zones)):
        visit = old.get(name)
        if name in zones:
            entered = visit.entered if visit is not None else now
            visits.append(ZoneVisit(name, entered, now))
        elif visit is not None and (now - visit.last_in).total_seconds() <= params.grace_s:
            # Its foot point wobbles across the zone's edge: keep the stay for a moment rather than
            # restarting its dwell, which would let a loiterer at an edge never reach loiter_s.
            visits.append(visit)
    lying_since = memory.lying_since if memory is not None else None
    if lying is True:
        lying_since = lying_since or now
    elif lying is False:
        lying_since = None
    return TrackMemory(track_id, now, tuple(visits), lying_since)


def forget_tracks(tracks: dict[int, TrackMemory], now: datetime, params: RuleParams) -> tuple[TrackMemory, ...]:
    """Return the tracks seen within ``forget_s`` of ``now``, by id."""
    return tuple(
        tracks[key] for key in sorted(tracks) if (now - tracks[key].last_seen).total_seconds() <= params.forget_s
    )


def step_situation(
    situation: Situation, holds: bool, now: datetime, hold_s: float, windowed: bool, params: RuleParams
) -> tuple[Situation | None, bool]:
    """Feed one observation's verdict; return the new situation (none once idle) and whether it fires.

    ``hold_s`` is how long the condition must hold; ``windowed`` conditions must also have held in
    ``object_min_frames`` of the last ``object_window`` observations.
    """
    gap = (now - situation.last_true).total_seconds() if situation.last_true is not None else None
    armed = situation.armed or (gap is not None and gap >= params.clear_s)
    since = situation.since
    if gap is None or gap > params.grace_s:
        since = None
    recent = (*situation.recent, holds)[-params.object_window:] if windowed else ()
    fired = situation.fired
    last_true = situation.last_true
    fires = False
    if holds:
        since = since or now
        last_true = now
        held = (now - since).total_seconds() >= hold_s
        frames = sum(recent) >= params.object_min_frames if windowed else True
        cooled = fired is None or (now - fired).total_seconds() >= params.cooldown_s
        if armed and held and frames and cooled:
            fires, fired, armed = True, now, False
    new = replace(situation, since=since, last_true=last_true, recent=recent, fired=fired, armed=armed)
    cooling = fired is not None and (now - fired).total_seconds() < params.cooldown_s
    if since is None and not any(recent) and armed and not cooling:
        return None, fires  # idle: a fresh Situation behaves the same, so keep none
    return new, fires
