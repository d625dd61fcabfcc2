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
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg

from domain.scope import within
from store.db import keep_running
from store.live_repo import moved_since

HISTORY = 240  # ticks of changes kept for sockets that fell behind (a minute at 0.25 s); older: a snapshot
FIELDS = ("device_id", "kind", "bus_id", "school_id", "lon", "lat", "time", "speed_kmh", "heading_deg")
# Every positions message starts alike; the rows are JSON arrays in FIELDS order, encoded once per fix.
PREFIX = '{"type":"positions","fields":' + json.dumps(FIELDS, separators=(",", ":")) + ',"rows":['



@dataclass(frozen=True, slots=True)
class Fix:
    """The newest fix of one device as the hub keeps it (by device id): where, when, its row already encoded."""

    path: str | None  # the school's place in the organisation tree; None for a device of no school
    lon: float
    lat: float
    time: datetime
    encoded: str


@dataclass(frozen=True, slots=True)
class View:
    """What a screen watches: every position in its scope, or those in a WGS-84 box (west, south, east, north).

    A box whose west edge is east of its east edge crosses the antimeridian.
    """

    bbox: tuple[float, float, float, float] | None = None

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
        """Change what the socket watches; a new view starts with a snapshot of it."""
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
        self._ticks: deque[tuple[int, tuple[str, ...]]] = deque(maxlen=HISTORY)
        # Messages built in this tick, by (scope, tick the socket is at), for sockets watching the whole scope.
        self._shared: dict[tuple[str, int], str | None] = {}

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
        """Take rows of ``moved_since``; the fixes not already known become the next tick, and watching sockets wake."""
        changed = []
        for row in rows:
            device_id, time = row[0], row[6]
            known = self._latest.get(device_id)
            if known is not None and known.time == time:
                continue  # read again through the overlap
            self._latest[device_id] = Fix(row[10], row[4], row[5], time, encode_row(row))
            changed.append(device_id)
        if not changed:
            return
        self.seq += 1
        self._ticks.append((self.seq, tuple(changed)))
        self._shared = {}
        for subscription in self._subscribers:
            if subscription.view is not None:
                subscription.wake.set()

    def take(self, subscription: Subscription) -> str | None:
        """Build the message that brings a socket up to the hub's newest tick (None: nothing new for it)."""
        view, since = subscription.view, subscription.seq
        subscription.seq = self.seq
        if view is None or since >= self.seq:
            return None
        key = (subscription.scope_path, since)
        if view.bbox is None and key in self._shared:
            return self._shared[key]
        fixes = (self._latest[d] for d in self._changed_since(since))
        rows = [f.encoded for f in fixes if in_scope(f.path, subscription.scope_path) and view.covers(f.lon, f.lat)]
        message = PREFIX + ",".join(rows) + "]}" if rows else None
        if view.bbox is None:
            self._shared[key] = message
        return message

    def _changed_since(self, seq: int) -> Iterable[str]:
        if seq == 0 or not self._ticks or seq < self._ticks[0][0] - 1:
            return list(self._latest)  # new, or behind the kept history: everything
        if seq == self.seq - 1:
            return self._ticks[-1][1]
        changed: set[str] = set()
        for tick, devices in reversed(self._ticks):
            if tick <= seq:
                break
            changed.update(devices)
        return changed
