"""One incident feed per API process: one LISTEN and one read per change, handed to every socket in scope.

Incident changes are numbered by ``incident_events.cursor`` (a sequence). The hub LISTENs on
``campusguard_incidents``, reads the changes after the highest cursor it has seen (and re-reads every
``RECHECK_S`` in case a notification was missed while it reconnected), encodes each change once, and offers
it to every subscribed socket whose scope holds the incident's school. A thousand screens cost one database
connection, not a thousand.

A sequence number is taken when a row is written, not when it commits: two writers (the alert stage and a guard
acknowledging through the API) can commit cursor 8 after cursor 9 was read. Reading only "after the highest"
would then skip 8 for good. So the cursors skipped over are kept as holes and asked for again on every read
until they appear or ``HOLE_WAIT_S`` passes (a rolled-back transaction leaves a hole that never fills).

Queues are not bounded: an incident change is never dropped, and there are few of them next to positions.

The same connection LISTENs on ``campusguard_sessions``: a person's session ended (a logout, a password, role or
scope change, retirement). The hub wakes that person's sockets (:class:`SessionWatch`), each checks its own
session again and closes if it is gone; one listening connection per process serves both.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import psycopg

from domain.scope import within
from store.channels import INCIDENT_CHANNEL, SESSION_CHANNEL, listen_async
from store.db import keep_running
from store.live_repo import changes, missing_cursors, newest_cursor

RECHECK_S = 5.0  # a missed NOTIFY still reaches the screens this soon
STALE_S = 30.0  # no successful read for this long: the feed is stuck
HOLE_RECHECK_S = 0.2  # while a hole is open, read again this often
HOLE_WAIT_S = 60.0  # longer than any writer's transaction; a hole still open then was rolled back
READ_LIMIT = 1000
STARTUP_HOLES = 100  # cursors below the newest that may still be committing when the hub starts
MAX_GAP = 1000  # a wider gap is not writers racing (a sequence moved on by other means): not holes to wait for


@dataclass(frozen=True, slots=True)
class Change:
    """One incident change, encoded once as the live feed sends it.

    ``{"type": "incident", "cursor": n, "resume": r, "incident": {...}}``: ``version`` is the incident's
    ``event_seq`` (raised under its row lock, so it grows in commit order, unlike ``updated_at``, which can
    carry a device's clock). ``resume`` is where a screen that has handled this message should reconnect from:
    every change at or below it had been read when this one was, so replaying after it loses nothing.
    """

    cursor: int
    incident_id: int
    version: int
    message: str


def change_of(row: dict[str, Any], resume: int) -> Change:
    """Encode a row of store.live_repo's queries."""
    incident = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()
                if k not in ("cursor", "path")}
    message = json.dumps({"type": "incident", "cursor": row["cursor"], "resume": resume, "incident": incident},
                         separators=(",", ":"), ensure_ascii=False)
    return Change(int(row["cursor"]), int(row["id"]), int(row["event_seq"]), message)


@dataclass(eq=False)
class IncidentSubscription:
    """One socket's place in the hub: its scope, and the changes waiting to be sent to it."""

    scope_path: str
    queue: asyncio.Queue[Change] = field(default_factory=asyncio.Queue)
    sent: dict[int, int] = field(default_factory=dict)  # incident -> version sent

    def fresher(self, change: Change) -> bool:
        """Tell whether a change is news to this socket (and note it as sent).

        Each change carries the incident's row as it was read. A change read before the socket's replay can
        reach it after the replay: it is dropped when it shows the incident at a version already sent (it must
        not show a resolved incident as open again), as is a second copy of the same state.
        """
        known = self.sent.get(change.incident_id)
        if known is not None and known >= change.version:
            return False
        self.sent[change.incident_id] = change.version
        return True


class SessionWatch:
    """The live sockets of each person, woken when a notification says one of that person's sessions ended."""

    def __init__(self) -> None:
        self._sockets: defaultdict[str, set[asyncio.Event]] = defaultdict(set)

    def watch(self, user_id: str) -> asyncio.Event:
        """Register a socket of ``user_id``; the event is set when it should check its session again."""
        woken = asyncio.Event()
        self._sockets[user_id].add(woken)
        return woken

    def unwatch(self, user_id: str, woken: asyncio.Event) -> None:
        """Forget a socket."""
        sockets = self._sockets.get(user_id)
        if sockets is not None:
            sockets.discard(woken)
            if not sockets:
                del self._sockets[user_id]

    def ended(self, user_id: str) -> None:
        """Wake every socket of a person whose session ended (which one: each socket checks its own)."""
        for woken in self._sockets.get(user_id, ()):
            woken.set()

    def wake_all(self) -> None:
        """Wake every socket: notifications may have been missed while the listener was reconnecting."""
        for sockets in self._sockets.values():
            for woken in sockets:
                woken.set()


class IncidentHub:
    """Reads incident changes once per process; :meth:`run` until cancelled."""

    def __init__(self, database_url: str) -> None:
        self._url = database_url
        self.top = 0  # the highest cursor read
        self.ready = asyncio.Event()  # set once ``top`` is known: sockets replay from the database up to it
        self._holes: dict[int, float] = {}  # cursor -> when it was first found missing (monotonic)
        self._subscribers: set[IncidentSubscription] = set()
        self._started: float | None = None  # when run() began (monotonic)
        self.last_read: float | None = None  # when the last read succeeded (monotonic)
        self.sessions = SessionWatch()

    def state(self, now: float | None = None) -> Literal["ok", "starting", "stale"]:
        """Say whether screens are being fed: a read within STALE_S, or still starting, or stale.

        Reads happen at least every RECHECK_S, so a stale feed is a stuck or failing one, and /health says so:
        a proxy then sends screens to another replica rather than leave them showing "Live" on a dead feed.
        """
        now = time.monotonic() if now is None else now
        if self.last_read is not None and now - self.last_read <= STALE_S:
            return "ok"
        if self.last_read is None and (self._started is None or now - self._started <= STALE_S):
            return "starting"
        return "stale"

    def subscribe(self, scope_path: str) -> IncidentSubscription:
        """Register a socket's scope; from now on every change in it is queued for the socket."""
        subscription = IncidentSubscription(scope_path)
        self._subscribers.add(subscription)
        return subscription

    def unsubscribe(self, subscription: IncidentSubscription) -> None:
        """Forget a socket."""
        self._subscribers.discard(subscription)

    async def run(self) -> None:
        """LISTEN, read and fan out until cancelled; reconnects after any error (a dead feed misses panics)."""
        self._started = time.monotonic()
        async for attempt in keep_running("live incidents"):
            with attempt:
                async with await psycopg.AsyncConnection.connect(self._url, autocommit=True) as conn:
                    await listen_async(conn, INCIDENT_CHANNEL, SESSION_CHANNEL)
                    if not self.ready.is_set():
                        await self._start(conn)
                    else:
                        self.sessions.wake_all()  # a session may have ended while nobody was listening
                    while True:
                        await self.read(conn)
                        wait = HOLE_RECHECK_S if self._holes else RECHECK_S
                        async for notify in conn.notifies(timeout=wait, stop_after=1):
                            if notify.channel == SESSION_CHANNEL:
                                self.sessions.ended(notify.payload)

    async def _start(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """Begin after the newest change, taking the missing cursors just below it as holes.

        A writer may hold a lower cursor it has not committed yet; screens that replay before it commits
        rely on the hub to bring it.
        """
        self.top = await newest_cursor(conn)
        now = time.monotonic()
        self._holes = {cursor: now for cursor in await missing_cursors(conn, self.top, STARTUP_HOLES)}
        self.ready.set()

    def resume(self) -> int:
        """Where a screen may safely reconnect from now: below the lowest open hole, else the newest change."""
        return min(self._holes) - 1 if self._holes else self.top

    async def read(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """Read every change after ``top`` and in the holes, and offer each to the sockets in its scope."""
        while True:
            self._forget_old_holes()
            rows = await changes(conn, self.top, list(self._holes), READ_LIMIT)
            for row in rows:
                self.offer(row)
            if len(rows) < READ_LIMIT:
                self.last_read = time.monotonic()
                return

    def offer(self, row: dict[str, Any]) -> None:
        """Take one change read from the database: note the holes it leaves, and queue it for its sockets."""
        cursor = int(row["cursor"])
        if cursor > self.top:
            if cursor - self.top <= MAX_GAP:
                now = time.monotonic()
                for missing in range(self.top + 1, cursor):
                    self._holes.setdefault(missing, now)
            self.top = cursor
        else:
            self._holes.pop(cursor, None)
        change = change_of(row, self.resume())
        for subscription in self._subscribers:
            if within(row["path"], subscription.scope_path):
                subscription.queue.put_nowait(change)

    def _forget_old_holes(self) -> None:
        deadline = time.monotonic() - HOLE_WAIT_S
        for cursor in [c for c, since in self._holes.items() if since < deadline]:
            del self._holes[cursor]
