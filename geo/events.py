"""The events the geo rules emit: typed, frozen, each carrying the fix (or fixes) that triggered it.

Every event names its ``subject_id`` (the bus for a bus tracker, else the device) and its ``time``: when
the thing happened by device time. For debounced events that is the first fix of the run (``position``),
while ``confirmed_by`` is the fix that held long enough to confirm it. Lifecycles come in start/end pairs
(``RouteDeviated``/``RouteRejoined``, ...), so the alert stage can open and close an alert.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain.messages import Position


@dataclass(frozen=True, slots=True)
class _Event:
    subject_id: str
    time: datetime
    position: Position


@dataclass(frozen=True, slots=True)
class FenceEntered(_Event):
    """The subject entered a fence (inside the polygon for the dwell time)."""

    fence_id: str
    fence_kind: str
    confirmed_by: Position


@dataclass(frozen=True, slots=True)
class FenceExited(_Event):
    """The subject left a fence (farther than the hysteresis beyond its edge for the dwell time)."""

    fence_id: str
    fence_kind: str
    confirmed_by: Position


@dataclass(frozen=True, slots=True)
class RouteDeviated(_Event):
    """A bus in service has been outside its route corridor for the deviation time."""

    route_distance_m: float
    corridor_m: float
    confirmed_by: Position


@dataclass(frozen=True, slots=True)
class RouteRejoined(_Event):
    """A deviated bus is back within its corridor (or its service window ended)."""

    deviated_since: datetime


@dataclass(frozen=True, slots=True)
class OverspeedStarted(_Event):
    """A bus has driven above the limit of its zone for the overspeed time."""

    speed_kmh: float
    limit_kmh: float
    zone_id: str | None
    """The school-zone or campus fence whose limit applies; none for the route's own limit."""
    confirmed_by: Position


@dataclass(frozen=True, slots=True)
class OverspeedEnded(_Event):
    """A speeding bus is back under the limit."""

    started: datetime


@dataclass(frozen=True, slots=True)
class UnexpectedStop(_Event):
    """A bus in service has not moved for the stop time away from stops, depots and schools.

    ``time`` and ``position`` are where and when it stopped.
    """

    confirmed_by: Position


@dataclass(frozen=True, slots=True)
class UnexpectedStopEnded(_Event):
    """A bus that stopped unexpectedly moves again."""

    stopped_since: datetime


@dataclass(frozen=True, slots=True)
class LateArrival(_Event):
    """A stop is (projected to be, or was) reached later than its schedule plus the threshold."""

    stop_id: str
    stop_name: str
    scheduled: datetime
    eta: datetime
    delay_s: float
    projected: bool
    """True when the arrival is a projection; false when the stop was actually reached late."""


@dataclass(frozen=True, slots=True)
class EarlyDeparture(_Event):
    """A bus left a stop earlier than its schedule minus the threshold: riders on time would miss it."""

    stop_id: str
    stop_name: str
    scheduled: datetime
    early_s: float


@dataclass(frozen=True, slots=True)
class AfterHoursMovement(_Event):
    """A bus has been moving outside its service windows."""

    speed_kmh: float
    confirmed_by: Position


@dataclass(frozen=True, slots=True)
class AfterHoursMovementEnded(_Event):
    """An after-hours movement stopped (or a service window began)."""

    started: datetime


@dataclass(frozen=True, slots=True)
class ChildCheckDue(_Event):
    """A bus is back at its depot after a trip; the driver's walk-through must be confirmed by ``deadline``."""

    deadline: datetime


@dataclass(frozen=True, slots=True)
class ChildCheckMissed(_Event):
    """No walk-through was confirmed by the deadline; ``position`` is the arrival at the depot."""

    deadline: datetime


@dataclass(frozen=True, slots=True)
class ChildCheckCompleted(_Event):
    """The driver confirmed the walk-through; ``late`` when it came after a missed deadline."""

    person_id: str | None
    late: bool


@dataclass(frozen=True, slots=True)
class StopEta:
    """The live projection for one stop of a bus's current trip (a value, not an event)."""

    stop_id: str
    stop_name: str
    scheduled: datetime
    eta: datetime | None
    """None once the stop is reached."""
    reached: datetime | None
    delay_s: float


GeoEvent = (
    FenceEntered
    | FenceExited
    | RouteDeviated
    | RouteRejoined
    | OverspeedStarted
    | OverspeedEnded
    | UnexpectedStop
    | UnexpectedStopEnded
    | LateArrival
    | EarlyDeparture
    | AfterHoursMovement
    | AfterHoursMovementEnded
    | ChildCheckDue
    | ChildCheckMissed
    | ChildCheckCompleted
)
"""Every event the geo stage emits."""
