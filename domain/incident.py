"""The alert stage's typed messages: signals in, incidents and their recorded transitions out.

Every upstream event (a panic press, a device event, a geo event, a camera detection, a cross-modal
derivation) becomes one :class:`Signal` before correlation, so the rules see one shape. An
:class:`Incident` is the unit a guard acts on; every change to it is a :class:`Transition`, which the
service stores as a row of ``incident_events``. All of them are frozen: the pure functions return new
values and never change the ones they are given.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Any


def _require_aware(name: str, value: datetime | None) -> None:
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")


class Severity(StrEnum):
    """How urgent an incident is; ordered by urgency, so ``max()`` is the most urgent."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        """0 for info up to 4 for critical."""
        return _RANK[self]

    # str already compares alphabetically, which would put "critical" below "low"; compare by urgency
    # instead, and only with other severities, so a stray string comparison fails loudly.
    def __lt__(self, other: str) -> bool:
        """Less urgent than ``other``."""
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank < other.rank

    def __le__(self, other: str) -> bool:
        """Not more urgent than ``other``."""
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank <= other.rank

    def __gt__(self, other: str) -> bool:
        """More urgent than ``other``."""
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank > other.rank

    def __ge__(self, other: str) -> bool:
        """Not less urgent than ``other``."""
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank >= other.rank


_RANK: dict[Severity, int] = {
    Severity.INFO: 0, Severity.LOW: 1, Severity.MEDIUM: 2, Severity.HIGH: 3, Severity.CRITICAL: 4,
}


class Status(StrEnum):
    """Where an incident is in its lifecycle (see ``lifecycle.py`` for the allowed moves)."""

    RAISED = "raised"
    ACKNOWLEDGED = "acknowledged"
    RESPONDING = "responding"
    RESOLVED = "resolved"
    CLOSED = "closed"

    @property
    def is_open(self) -> bool:
        """True while someone still has to act: new signals may merge only into open incidents."""
        return self in (Status.RAISED, Status.ACKNOWLEDGED, Status.RESPONDING)


class Outcome(StrEnum):
    """What an incident turned out to be, set when it is resolved."""

    REAL = "real"
    FALSE_ALARM = "false_alarm"
    DRILL = "drill"


def _frozen_mapping(value: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(value))


@dataclass(frozen=True, slots=True)
class Signal:
    """One normalised upstream event, the only input correlation sees.

    ``signal_id`` is stable for the same upstream event (e.g. ``panic:<device>:<time>``), so a re-delivered
    event is recognised and counted once. ``source_id`` is the device, camera or sensor that produced it.
    ``lon``/``lat`` are WGS-84 and absent when the source has no known position.
    """

    signal_id: str
    kind: str
    school_id: str
    source_id: str
    time: datetime
    lon: float | None = None
    lat: float | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)
    evidence_ref: str | None = None
    """A snapshot path, clip id or stored row key a person can open; none when the signal is its own proof."""

    def __post_init__(self) -> None:
        """Refuse naive times and half or out-of-range positions; freeze the detail."""
        _require_aware("time", self.time)
        if (self.lon is None) != (self.lat is None):
            raise ValueError("give both lon and lat, or neither")
        if self.lon is not None and self.lat is not None and not (
            -180.0 <= self.lon <= 180.0 and -90.0 <= self.lat <= 90.0
        ):
            raise ValueError(f"coordinates out of range: lon={self.lon} lat={self.lat}")
        # A frozen dataclass still holds a mutable dict by reference; a read-only copy keeps it a value.
        object.__setattr__(self, "detail", _frozen_mapping(self.detail))


@dataclass(frozen=True, slots=True)
class Evidence:
    """One piece of proof attached to an incident: which signal, from where, what it shows."""

    kind: str
    ref: str | None
    time: datetime
    summary: str
    signal_id: str
    source_id: str
    lon: float | None = None
    lat: float | None = None

    def __post_init__(self) -> None:
        """Refuse naive times."""
        _require_aware("time", self.time)


CHATTER_COUNT = 3
"""Condition changes that make a source chattering when they fall within :data:`CHATTER_WINDOW`."""
CHATTER_WINDOW = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class Incident:
    """One real situation, however many signals reported it.

    ``id`` is None until the service stores it. ``occurrences`` counts the signals folded in that report the
    situation (ending signals are evidence but not occurrences); ``signal_ids`` holds every signal folded in,
    so a re-delivered one is recognised. ``event_seq`` is the seq of the last recorded transition.
    """

    id: int | None
    school_id: str
    type: str
    severity: Severity
    status: Status
    title: str
    opened_at: datetime
    updated_at: datetime
    last_signal_at: datetime
    outcome: Outcome | None = None
    lon: float | None = None
    lat: float | None = None
    occurrences: int = 1
    evidence: tuple[Evidence, ...] = ()
    signal_ids: frozenset[str] = frozenset()
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None
    escalation_level: int = 0
    last_notified_at: datetime | None = None
    seen_by: frozenset[str] = frozenset()
    event_seq: int = 0
    reminders: int = 0  # reminders sent while nobody acknowledged: deliveries, not transitions
    cleared_at: datetime | None = None  # its condition returned to normal (server time); None while it holds
    raised_at: datetime | None = None
    """Server time the alert stage raised it: the SLA and escalation clock. ``opened_at`` is the device time of
    its first signal (a fact, which a backlog or a wrong device clock may put minutes away). Defaults to
    ``opened_at`` for values built by hand."""
    drill: bool = False  # raised by a drill or while its school was in drill mode: never mixed with real ones
    toggles: int = 0  # times its condition cleared or came back
    recent_toggles: tuple[datetime, ...] = ()  # server times of the latest toggles (at most CHATTER_COUNT)
    title_key: str | None = None
    """The title as a message key (``incident.title.panic``) each reader's page translates; None: show ``title``."""
    title_params: Mapping[str, str] = field(default_factory=dict)
    """The values the key's message is filled with (``{"place": "Main office"}``); ``title`` is it in English."""

    def __post_init__(self) -> None:
        """Refuse naive times; date the raise at the opening when none is given; freeze the title's values."""
        object.__setattr__(self, "title_params", _frozen_mapping(self.title_params))
        if self.raised_at is None:
            object.__setattr__(self, "raised_at", self.opened_at)
        for name in ("opened_at", "updated_at", "last_signal_at", "acknowledged_at", "resolved_at",
                     "last_notified_at", "cleared_at", "raised_at"):
            _require_aware(name, getattr(self, name))
        for moment in self.recent_toggles:
            _require_aware("recent_toggles", moment)

    @property
    def raised(self) -> datetime:
        """When the alert stage raised it (server time), never None."""
        return self.raised_at or self.opened_at

    @property
    def chattering(self) -> bool:
        """Its condition toggled :data:`CHATTER_COUNT` times within :data:`CHATTER_WINDOW` (ISA-18.2 chattering)."""
        recent = self.recent_toggles[-CHATTER_COUNT:]
        return len(recent) >= CHATTER_COUNT and recent[-1] - recent[0] <= CHATTER_WINDOW

    def label(self) -> str:
        """Name the incident in messages: its id once stored, else its type."""
        return f"incident {self.id}" if self.id is not None else f"new {self.type} incident"


@dataclass(frozen=True, slots=True)
class Transition:
    """One recorded change of an incident: a row of ``incident_events``.

    ``kind`` is the action taken (``acknowledge``, ``resolve``, ``seen``, ``evidence``, ``escalated``...);
    ``actor`` who did it (a user id, or ``system``); ``source`` from where (an IP address, ``app``, ``sms``).
    """

    incident_id: int | None
    seq: int
    time: datetime
    school_id: str
    kind: str
    actor: str
    note: str | None = None
    source: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Refuse naive times; freeze the detail."""
        _require_aware("time", self.time)
        object.__setattr__(self, "detail", _frozen_mapping(self.detail))


SYSTEM_ACTOR = "system"
"""The actor of transitions no person made: evidence folded in, escalations."""
