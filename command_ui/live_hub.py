"""One position feed per API process, conflated per socket: each screen gets the newest fix of what it watches.

Each tick (``every_s``) the hub runs one query for the latest positions written since the previous tick, keeps
the newest fix of every device, and numbers the tick. A socket remembers the tick it was last
brought up to. When it is free to send, it takes one message with every device that changed since then, in its
scope and its view, each device once with its newest fix.

Why conflation rather than a queue of messages: a screen only shows a bus's latest position. A socket that
keeps up gets each tick's changes, and every socket of a scope that is level with the hub shares one encoded
message per tick (as do sockets that fell behind by the same ticks). A socket that falls behind (a slow phone
network, a busy browser, a saturated server) skips the superseded fixes instead of queueing them, so what it
receives is never older than one send, and a bus that reported once in a while is never dropped with the
message it came in. A socket that is further behind than the kept history (``HISTORY`` ticks) or that changes
what it watches gets a snapshot of everything it watches.

What a map can show at its zoom (command_ui/live_detail.py): a screen that sends its zoom takes the stream of
its level of detail, in which a device's fix goes out only when it moved a pixel at that zoom (turned, changed
marker, or ten seconds passed): at zoom 11 a bus driving at 30 km/h goes out every seven seconds, not every
second. Sockets of one scope, level and box at the same tick share one encoded message; a snapshot (every
device's newest fix) is the same at every level.

"Since the previous tick" is by transaction, not by device time or write time, so a late fix, a tracker whose
clock runs ahead, or two workers committing out of order are never skipped: each row carries the id of the
transaction that last wrote it (``latest_positions.written_xid``), and each read takes the rows written by any
transaction at or after the oldest one still running at the previous read (that snapshot's ``xmin``): every
transaction below it had finished, so its rows were seen then. What is read twice (same device, same device
time) is taken once. Incidents never go through here (command_ui/incident_hub.py).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

import psycopg

from command_ui.live_detail import Fix, Stream, detail_level, world_xy
from domain.scope import within
from store.db import keep_running
from store.live_repo import moved_since

FIELDS = ("device_id", "kind", "bus_id", "school_id", "lon", "lat", "time", "speed_kmh", "heading_deg")
# Every positions message starts alike; the rows are JSON arrays in FIELDS order, encoded once per fix.
PREFIX = '{"type":"positions","fields":' + json.dumps(FIELDS, separators=(",", ":")) + ',"rows":['
Box = tuple[float, float, float, float]


@dataclass(frozen=True, slots=True)
class View:
    """What a screen watches: every position in its scope, or those in a WGS-84 box (west, south, east, north).

    A box whose west edge is east of its east edge crosses the antimeridian. ``zoom`` is the map's Web Mercator
    zoom; None (a screen that does not say, or shows no map) gets every fix.
    """

    bbox: Box | None = None
    zoom: float | None = None

    @property
    def level(self) -> int | None:
        """The level of detail whose stream this view takes (None: every fix)."""
        return detail_level(self.zoom)

    def covers(self, lon: float, lat: float) -> bool:
        """Tell whether a point lies in the view."""
        if self.bbox is None:
            return True
        west, south, east, north = self.bbox
        inside_lon = west <= lon <= east if west <= east else (lon >= west or lon <= east)
        return inside_lon and south <= lat <= north


def in_scope(path: str | None, scope_path: str) -> bool:
    """Tell whether a device belongs to a scope: its school lies under it (schoolless devices: the root only)."""
    return within(path, scope_path)


def encode_row(row: tuple[Any, ...]) -> str:
    """Encode one position as its row of the positions message (FIELDS order; time in UTC, milliseconds)."""
    device_id, kind, bus_id, school_id, lon, lat, time, speed, heading = row[:9]
    stamp = time.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return json.dumps([device_id, kind, bus_id, school_id, round(lon, 6), round(lat, 6), stamp,
                       None if speed is None else round(speed, 1), None if heading is None else round(heading)],
                      separators=(",", ":"))


def fix_of(row: tuple[Any, ...]) -> Fix:
    """Make the hub's record of one row of ``moved_since``."""
    x, y = world_xy(row[4], row[5])
    return Fix(row[10], row[4], row[5], row[6], encode_row(row), x, y, row[8], (row[1], row[2], row[3]))


@dataclass(eq=False)
class Subscription:
    """One socket's place in the hub: its scope, what it watches (None: no positions), and how far it got."""

    scope_path: str
    view: View | None = None
    seq: int = 0  # the last tick this socket was brought up to; 0: nothing yet (a snapshot comes first)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    # Set when the screen has acknowledged the last positions message: one in flight per socket, so a slow
    # reader's buffers (the kernel's, the browser's) never fill with positions that are old by the time it
    # reads them; what moves meanwhile is conflated into the next message.
    acked: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        """Nothing is in flight yet."""
        self.acked.set()

    def watch(self, view: View | None) -> None:
        """Change what the socket watches; a new view (or zoom) starts with a snapshot of it."""
        self.view = view
        self.seq = 0
        self.acked.set()
        self.wake.set()


class PositionHub:
    """Polls moved positions once per tick for the whole process; :meth:`run` until cancelled."""

    def __init__(self, database_url: str, every_s: float = 0.25) -> None:
        self._url = database_url
        self.every_s = every_s
        self.seq = 0
        self._subscribers: set[Subscription] = set()
        self._latest: dict[str, Fix] = {}
        # One stream per level of detail some socket watches at; full detail (None) always.
        self._streams: dict[int | None, Stream] = {None: Stream(None, {}, 0)}
        # Messages built in this tick, by (scope, level, tick the socket is at, box): one encoding for every
        # socket that asks the same. A snapshot (tick 0) is the same at every level: level None.
        self._shared: dict[tuple[str, int | None, int, Box | None], str | None] = {}

    def subscribe(self, scope_path: str) -> Subscription:
        """Register a socket's scope; it receives positions once it watches a view."""
        subscription = Subscription(scope_path)
        self._subscribers.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """Forget a socket."""
        self._subscribers.discard(subscription)

    async def run(self) -> None:
        """Poll and fan out until cancelled; reconnects after any error."""
        since = "0"  # the first read takes every device's latest fix: the snapshot new screens start from
        async for attempt in keep_running("live positions", min(5.0, 4 * self.every_s)):
            with attempt:
                async with await psycopg.AsyncConnection.connect(self._url, autocommit=True) as conn:
                    while True:
                        since = await self._tick(conn, since)
                        await asyncio.sleep(self.every_s)

    async def _tick(self, conn: psycopg.AsyncConnection[Any], since: str) -> str:
        """Read what was written from transaction ``since`` on; return where the next read starts."""
        since, rows = await moved_since(conn, since)
        self.update(rows)
        return since

    def update(self, rows: Iterable[tuple[Any, ...]]) -> None:
        """Take rows of ``moved_since``; the fixes not already known become the next tick, and sockets wake.

        Only the sockets whose level of detail let something through wake (and those waiting for a snapshot).
        """
        changed = []
        for row in rows:
            device_id, time = row[0], row[6]
            known = self._latest.get(device_id)
            if known is not None and known.time == time:
                continue  # read again through the overlap
            self._latest[device_id] = fix_of(row)
            changed.append(device_id)
        if not changed:
            return
        self.seq += 1
        levels = {s.view.level for s in self._subscribers if s.view is not None}
        for level in [level for level in self._streams if level is not None and level not in levels]:
            del self._streams[level]  # nobody watches at it: stop deciding for it (a new socket starts it anew)
        woken = {level for level, stream in self._streams.items() if stream.admit(self.seq, changed, self._latest)}
        self._shared = {}
        for subscription in self._subscribers:
            view = subscription.view
            if view is not None and (view.level in woken or subscription.seq == 0):
                subscription.wake.set()

    def take(self, subscription: Subscription) -> str | None:
        """Build the message that brings a socket up to the hub's newest tick (None: nothing new for it)."""
        view, since = subscription.view, subscription.seq
        subscription.seq = self.seq
        if view is None or since >= self.seq:
            return None
        stream = self._streams.get(view.level)
        if stream is None:
            stream = self._streams[view.level] = Stream(view.level, self._latest, self.seq)
        devices = stream.changed_since(since, self.seq)
        level = view.level if devices is not None else None
        key = (subscription.scope_path, level, since if devices is not None else 0, view.bbox)
        if key in self._shared:
            return self._shared[key]
        fixes = (self._latest[d] for d in (self._latest if devices is None else devices))
        scope = subscription.scope_path
        rows = [f.encoded for f in fixes if in_scope(f.path, scope) and view.covers(f.lon, f.lat)]
        message = PREFIX + ",".join(rows) + "]}" if rows else None
        self._shared[key] = message
        return message
