"""The simulation clock: device times that ingest accepts and the geo rules can judge.

Ingest refuses a device time more than 5 minutes ahead of receipt or more than 7 days behind it, and the geo
rules judge everything by device time against the site's service windows and stop times. So the clock

1. starts at ``start`` (by default the departure of the most recent run that has begun, so buses drive a
   real timetable on a real service day),
2. runs ``speedup`` times faster than the wall clock, and never ahead of it: once it catches up with real
   time it runs at 1x, and device times are never in the future;
3. jumps over idle stretches (every bus parked, no trip due) straight to the next trip or to real time,
   whichever is sooner: nothing happens there but parked fixes, and catching up through them at 1x would
   take hours. A parked tracker that sleeps with the ignition off looks the same to the rules.

Device times always increase, so the rules' "a fix not newer than the last changes nothing" never drops one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SimClock:
    """Maps wall-clock time to simulated time: ``start`` at ``wall0``, ``speedup`` times faster, capped."""

    start: dt.datetime
    wall0: dt.datetime
    speedup: float

    def __post_init__(self) -> None:
        """Refuse a clock that would run backwards or that is naive."""
        if self.speedup < 1.0:
            raise ValueError(f"speedup must be at least 1, got {self.speedup}")
        if self.start.tzinfo is None or self.wall0.tzinfo is None:
            raise ValueError("the simulation clock needs timezone-aware times")

    def at(self, wall: dt.datetime) -> dt.datetime:
        """Return the simulated time at a wall-clock time; never later than the wall clock itself."""
        return min(self.start + (wall - self.wall0) * self.speedup, wall)

    def behind(self, wall: dt.datetime) -> dt.timedelta:
        """How far the simulation is behind the wall clock."""
        return wall - self.at(wall)

    def jumped(self, to: dt.datetime, wall: dt.datetime) -> SimClock:
        """Return a clock that is at ``to`` now (``to`` no later than ``wall``) and goes on at the same speed."""
        return SimClock(min(to, wall), wall, self.speedup)
