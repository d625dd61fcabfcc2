"""One position feed per API process, fanned out to every live socket of that process.

Each tick (``every_s``) the hub runs one query for the latest positions written since the previous tick (by
``latest_positions.stored_at``, i.e. in commit order, so late fixes and out-of-order workers are never
skipped), encodes one message per scope that has subscribers, and hands it to each socket of that scope. A
thousand screens cost one query and one encoding per scope per tick instead of one of each per screen.

Commit order is read with an overlap (``OVERLAP_S``): a transaction whose ``stored_at`` predates the previous
read may commit after it, so each read looks a little further back and a position already sent (same device,
same device time) is not sent again. Sockets that fall behind lose old position messages (their queue keeps
the newest ``QUEUE_DEPTH``): a position is only worth its latest value; incidents never go through here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

log = logging.getLogger(__name__)

OVERLAP_S = 5.0
QUEUE_DEPTH = 8

_MOVED = """
    SELECT lp.device_id, d.kind, d.bus_id, d.school_id, lp.lon, lp.lat, lp.time, lp.speed_kmh, lp.heading_deg,
           lp.stored_at, coalesce(u.path, '') AS path
    FROM latest_positions lp JOIN devices d ON d.id = lp.device_id LEFT JOIN org_units u ON u.id = d.school_id
    WHERE lp.stored_at > %s ORDER BY lp.stored_at
"""


def in_scope(row: dict[str, Any], scope_path: str) -> bool:
    """Tell whether a position belongs to a scope: its school lies under it (schoolless devices: the root only)."""
    return bool(row["path"].startswith(scope_path)) if row["school_id"] else scope_path == "/"


def position_json(row: dict[str, Any]) -> dict[str, Any]:
    """Render one position as the live message carries it."""
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()
            if k not in ("stored_at", "path")}


@dataclass(eq=False)
class Subscription:
    """One socket's place in the hub: its scope and the queue of encoded messages waiting for it."""

    scope_path: str
    queue: asyncio.Queue[str] = field(default_factory=lambda: asyncio.Queue(QUEUE_DEPTH))

    def offer(self, message: str) -> None:
        """Queue a message, dropping the oldest when the socket is behind."""
        if self.queue.full():
            with contextlib.suppress(asyncio.QueueEmpty):
                self.queue.get_nowait()
        self.queue.put_nowait(message)


class PositionHub:
    """Polls moved positions once per tick for the whole process; :meth:`run` until cancelled."""

    def __init__(self, database_url: str, every_s: float = 0.5) -> None:
        self._url = database_url
        self.every_s = every_s
        self._subscribers: set[Subscription] = set()
        self._sent: dict[str, datetime] = {}

    def subscribe(self, scope_path: str) -> Subscription:
        """Register a socket's scope."""
        subscription = Subscription(scope_path)
        self._subscribers.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """Forget a socket."""
        self._subscribers.discard(subscription)

    async def run(self) -> None:
        """Poll and fan out until cancelled; reconnects after a database error."""
        since = datetime.now(UTC)
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self._url, autocommit=True) as conn:
                    while True:
                        since = await self._tick(conn, since)
                        await asyncio.sleep(self.every_s)
            except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
                log.warning("live positions: %s; reconnecting", exc)
                await asyncio.sleep(min(5.0, 4 * self.every_s))

    async def _tick(self, conn: psycopg.AsyncConnection[Any], since: datetime) -> datetime:
        async with conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(_MOVED, (since - timedelta(seconds=OVERLAP_S),))
            rows = await cur.fetchall()
        fresh = [r for r in rows if self._sent.get(r["device_id"]) != r["time"]]
        for row in fresh:
            self._sent[row["device_id"]] = row["time"]
        newest = max((r["stored_at"] for r in rows), default=since)
        if fresh and self._subscribers:
            self.publish(fresh)
        return max(since, newest)

    def publish(self, rows: list[dict[str, Any]]) -> None:
        """Encode the rows once per subscribed scope and offer them to that scope's sockets."""
        encoded: dict[str, str | None] = {}
        for subscription in list(self._subscribers):
            scope = subscription.scope_path
            if scope not in encoded:
                mine = [position_json(r) for r in rows if in_scope(r, scope)]
                encoded[scope] = (json.dumps({"type": "positions", "positions": mine}, separators=(",", ":"))
                                  if mine else None)
            message = encoded[scope]
            if message is not None:
                subscription.offer(message)
