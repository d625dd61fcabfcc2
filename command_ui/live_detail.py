"""What a map at a zoom level can see of the fleet's movement: the position hub's streams, one per level of detail.

A screen showing a whole city at zoom 11 draws a bus that moves 8 m a second one pixel further only every seven
seconds; sending it every fix spends the server's CPU and the network on moves nobody can see. So screens are
grouped by the whole zoom level they show (its ceiling: a screen between levels gets the finer one), and each
level below ``FULL_DETAIL_ZOOM`` has a :class:`Stream` that lets a device's fix through only when the screen
would show it differently from what that level last sent:

- it lies at least one screen pixel (Web Mercator, 256-pixel tiles, as Leaflet draws a marker) from the fix
  last sent to that level;
- its heading turned by ``TURN_DEG`` or more (the bus's arrow);
- its kind, bus or school changed (another marker, another colour);
- or ``KEEP_ALIVE`` has passed since that fix's time: a parked bus that keeps reporting still shows as
  reporting (the map calls a bus silent after five minutes; ten seconds keeps "last seen" right to the page).

Zoomed in (``FULL_DETAIL_ZOOM`` and over, where a moving bus crosses pixels between two fixes) and for a screen
that sends no zoom, every fix goes through: the full-detail stream. A screen that zooms in says so (the page
sends ``watch`` again on every move) and gets a snapshot at its new level, a snapshot being every device's
newest fix. What a screen shows is then within a pixel (a turn) of what its level last sent, and so within two
pixels (two turns) of the newest fix: a screen that joined by snapshot holds a newer fix than the level's own,
and a later move back towards the level's may stay unsent. A device that falls silent after a fix that moved
less than a pixel keeps its previous fix on a zoomed-out screen (at most ten seconds older) until the screen
moves or zooms.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

HISTORY = 240  # ticks of changes kept for sockets that fell behind (a minute at 0.25 s); older: a snapshot
FULL_DETAIL_ZOOM = 15  # 3.6 m a pixel at 40°: a bus at 30 km/h crosses two between fixes; every fix shows
TURN_DEG = 15.0  # a 22-pixel arrow turned this far has visibly turned; GPS headings jitter by a few degrees
KEEP_ALIVE = timedelta(seconds=10)
_MAX_LAT = 85.0511287798  # where Web Mercator ends (the square world of the tiles)


def world_xy(lon: float, lat: float) -> tuple[float, float]:
    """Place a WGS-84 point on the Web Mercator world at zoom 0, in pixels (256 across), as Leaflet does.

    At zoom z the same point lies 2**z times further from the origin, so a distance between two points at zoom 0
    times 2**z is their distance in screen pixels at z, with no trigonometry per comparison.
    """
    phi = math.radians(max(-_MAX_LAT, min(_MAX_LAT, lat)))
    return (lon + 180.0) / 360.0 * 256.0, (1.0 - math.log(math.tan(phi) + 1.0 / math.cos(phi)) / math.pi) * 128.0


def detail_level(zoom: float | None) -> int | None:
    """Give the level of detail a screen at ``zoom`` takes: a whole zoom below FULL_DETAIL_ZOOM, or None (every fix)."""
    if zoom is None:
        return None
    level = max(0, math.ceil(zoom))
    return None if level >= FULL_DETAIL_ZOOM else level


@dataclass(frozen=True, slots=True)
class Fix:
    """The newest fix of one device as the hub keeps it (by device id): where, when, its row already encoded."""

    path: str | None  # the school's place in the organisation tree; None for a device of no school
    lon: float
    lat: float
    time: datetime
    encoded: str
    x: float  # world_xy(lon, lat), computed once per fix for every level's pixel test
    y: float
    heading: float | None
    marker: tuple[str | None, str | None, str | None]  # kind, bus, school: what decides the marker drawn


def shows_differently(new: Fix, sent: Fix, pixel: float) -> bool:
    """Tell whether a screen whose pixel is ``pixel`` zoom-0 pixels would draw ``new`` otherwise than ``sent``."""
    dx, dy = new.x - sent.x, new.y - sent.y
    if dx * dx + dy * dy >= pixel * pixel or new.marker != sent.marker or new.time - sent.time >= KEEP_ALIVE:
        return True
    if new.heading is None or sent.heading is None:
        return (new.heading is None) != (sent.heading is None)  # a heading appeared or went: the arrow did
    turned = abs(new.heading - sent.heading) % 360.0
    return min(turned, 360.0 - turned) >= TURN_DEG


class Stream:
    """The ticks of one level of detail: which devices each let through, kept for HISTORY ticks.

    ``level`` None is full detail (every changed device, each tick). Otherwise ``sent`` is the fix each device
    last went out with at this level, and a device goes through when :func:`shows_differently` says so.
    """

    def __init__(self, level: int | None, latest: dict[str, Fix], seq: int) -> None:
        self.level = level
        self.pixel = 0.0 if level is None else 2.0**-level
        # A new level starts level with the newest fixes: its first sockets get them in their snapshot.
        self.sent: dict[str, Fix] = {} if level is None else dict(latest)
        self.ticks: deque[tuple[int, tuple[str, ...]]] = deque(maxlen=HISTORY)
        self.since = seq  # the ticks after this one are all kept; a socket from before it needs a snapshot

    def admit(self, seq: int, changed: list[str], latest: dict[str, Fix]) -> bool:
        """Record tick ``seq`` with what of ``changed`` this level shows; tell whether anything went through."""
        if self.level is None:
            through = changed
        else:
            through = []
            for device in changed:
                fix, sent = latest[device], self.sent.get(device)
                if sent is None or shows_differently(fix, sent, self.pixel):
                    self.sent[device] = fix
                    through.append(device)
        if not through:
            return False
        if len(self.ticks) == HISTORY:
            self.since = self.ticks[0][0]  # about to be dropped
        self.ticks.append((seq, tuple(through)))
        return True

    def changed_since(self, seq: int, newest: int) -> Iterable[str] | None:
        """Give the devices let through after tick ``seq`` (up to ``newest``); None: further back than kept."""
        if seq == 0 or seq < self.since:
            return None
        if self.ticks and self.ticks[-1][0] == newest and (len(self.ticks) == 1 or self.ticks[-2][0] <= seq):
            return self.ticks[-1][1]  # a socket level with the last tick but one: the common case, no set built
        changed: set[str] = set()
        for tick, devices in reversed(self.ticks):
            if tick <= seq:
                break
            changed.update(devices)
        return changed
