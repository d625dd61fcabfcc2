"""The live feed: one websocket per screen, carrying incident changes and moving positions in the caller's scope.

Incident changes are numbered by a global cursor (``incident_events.cursor``). A client connects with the last
cursor it saw (``?after=``) and first receives every change after it, so a dropped connection loses nothing;
then each change is pushed as it commits (the connection LISTENs on ``campusguard_incidents``).

Positions are sent only to a screen that asks for them: it sends ``{"type": "watch", "positions": true,
"bbox": [west, south, east, north]}`` (``bbox`` null or left out: its whole scope), again whenever its map
moves, and ``"positions": false`` to stop. A guard's phone that shows no map never pays for the fleet's
movements. They come from the process's one :class:`~command_ui.live_hub.PositionHub`, a snapshot of the view
first, then each device's newest fix as it commits, as ``{"type": "positions", "fields": [...], "rows":
[[...], ...]}``. A message the server cannot read is answered with ``{"type": "error", "detail": ...}`` and the
connection stays open. The session cookie authenticates the handshake; without a valid one the socket closes
with 4401, and a guard's feed never carries another school's data.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import psycopg
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator
from starlette.concurrency import run_in_threadpool

from alerts.service import INCIDENT_CHANNEL
from command_ui.deps import SESSION_COOKIE, User
from command_ui.live_hub import PositionHub, Subscription, View
from store.auth_repo import session_account

router = APIRouter(tags=["live"])

INCIDENT_RECHECK_S = 5.0  # a missed NOTIFY (a reconnecting listener) still reaches the screen this soon
UNAUTHORISED = 4401

_CHANGES = """
    SELECT e.cursor, i.id, i.school_id, i.type, i.severity, i.status, i.outcome, i.title, i.lon, i.lat,
           i.occurrences, i.opened_at, i.updated_at, i.acknowledged_at, i.resolved_at, i.escalation_level
    FROM incident_events e JOIN incidents i ON i.id = e.incident_id JOIN org_units u ON u.id = i.school_id
    WHERE e.cursor > %s AND u.path LIKE %s || '%%' ORDER BY e.cursor LIMIT 500
"""
# A first connection (after=0) needs the present, not all of history: the latest change of every incident that
# is open or changed in the last day, oldest first. A reconnect (after>0) gets every change it missed.
_PRESENT = """
    SELECT * FROM (
        SELECT DISTINCT ON (i.id) e.cursor, i.id, i.school_id, i.type, i.severity, i.status, i.outcome, i.title,
               i.lon, i.lat, i.occurrences, i.opened_at, i.updated_at, i.acknowledged_at, i.resolved_at,
               i.escalation_level
        FROM incidents i JOIN incident_events e ON e.incident_id = i.id JOIN org_units u ON u.id = i.school_id
        WHERE u.path LIKE %s || '%%'
          AND (i.status NOT IN ('resolved', 'closed') OR i.updated_at > now() - interval '1 day')
        ORDER BY i.id, e.cursor DESC
    ) latest ORDER BY cursor
"""
Lon = Annotated[float, Field(ge=-180, le=180)]
Lat = Annotated[float, Field(ge=-90, le=90)]


class Ping(BaseModel):
    """Keeps the connection open through proxies; nothing is answered."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    type: Literal["ping"]


class Watch(BaseModel):
    """What positions a screen wants: none, its whole scope, or a WGS-84 box of it."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    type: Literal["watch"]
    positions: bool = True
    bbox: tuple[Lon, Lat, Lon, Lat] | None = None

    @model_validator(mode="after")
    def _south_below_north(self) -> Watch:
        if self.bbox is not None and self.bbox[1] > self.bbox[3]:
            raise ValueError("bbox is [west, south, east, north]: south lies above north")
        return self

    def view(self) -> View | None:
        """Give the hub's view of this request (None: no positions)."""
        return View(self.bbox) if self.positions else None


_CLIENT_MESSAGE: TypeAdapter[Ping | Watch] = TypeAdapter(
    Annotated[Ping | Watch, Field(discriminator="type")])


def _authenticate(pool: ConnectionPool, token: str | None) -> User | None:
    if not token:
        return None
    with pool.connection() as conn:
        found = session_account(conn, token, datetime.now(UTC))
    return User(found.id, found.role, found.scope_path) if found else None


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}


@router.websocket("/api/v1/live")
async def live(websocket: WebSocket, after: int = 0) -> None:
    """Stream the caller's incident changes (replaying those after ``after``) and moving positions."""
    pool: ConnectionPool = websocket.app.state.pool
    user = await run_in_threadpool(_authenticate, pool, websocket.cookies.get(SESSION_COOKIE))
    if user is None:
        await websocket.close(code=UNAUTHORISED, reason="sign in first")
        return
    await websocket.accept()
    closed = asyncio.Event()
    sending = asyncio.Lock()  # incidents and positions go out from two tasks; one frame at a time
    hub: PositionHub = websocket.app.state.hub
    subscription = hub.subscribe(user.scope_path)
    reader = asyncio.create_task(_read_until_closed(websocket, closed, subscription, sending))
    pump = asyncio.create_task(_pump_positions(websocket, hub, subscription, sending))
    try:
        await _stream(websocket, user, after, closed, websocket.app.state.settings.database_url, sending)
    except (WebSocketDisconnect, RuntimeError):
        pass  # the client went away; nothing to clean up but the tasks
    finally:
        hub.unsubscribe(subscription)
        for task in (reader, pump):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
                await task


async def _pump_positions(websocket: WebSocket, hub: PositionHub, subscription: Subscription,
                          sending: asyncio.Lock) -> None:
    # Woken by each tick of the hub (or a new view); whatever changed while the last send was under way is
    # taken as one message, each device once with its newest fix.
    while True:
        await subscription.wake.wait()
        subscription.wake.clear()
        message = hub.take(subscription)
        if message is not None:
            async with sending:
                await websocket.send_text(message)


async def _read_until_closed(websocket: WebSocket, closed: asyncio.Event, subscription: Subscription,
                             sending: asyncio.Lock) -> None:
    try:
        while True:
            text = await websocket.receive_text()
            try:
                message = _CLIENT_MESSAGE.validate_json(text)
            except ValidationError as exc:
                async with sending:
                    await websocket.send_json({"type": "error", "detail": _first_error(exc)})
                continue
            if isinstance(message, Watch):
                subscription.watch(message.view())
    except WebSocketDisconnect:
        closed.set()


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}: {error['msg']}" if where else str(error["msg"])


async def _stream(websocket: WebSocket, user: User, cursor: int, closed: asyncio.Event, url: str,
                  sending: asyncio.Lock) -> None:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute(f"LISTEN {INCIDENT_CHANNEL}")
        if cursor == 0:
            async with conn.cursor(row_factory=dict_row) as cur:
                # The top first: a change committing meanwhile is then sent twice, never missed.
                await cur.execute("SELECT coalesce(max(cursor), 0) AS top FROM incident_events")
                top = await cur.fetchone()
                await cur.execute(_PRESENT, (user.scope_path,))
                present = await cur.fetchall()
            for row in present:
                async with sending:
                    await websocket.send_json({"type": "incident", "cursor": row.pop("cursor"),
                                               "incident": _jsonable(row)})
            # Later changes of anything, including what the present view left out, come from here on.
            cursor = int(top["top"]) if top else 0
        while not closed.is_set():
            async with conn.cursor(row_factory=dict_row) as cur:
                await cur.execute(_CHANGES, (cursor, user.scope_path))
                for row in await cur.fetchall():
                    cursor = row.pop("cursor")
                    async with sending:
                        await websocket.send_json({"type": "incident", "cursor": cursor, "incident": _jsonable(row)})
            # Wake at the next incident change (or recheck after a while).
            async for _ in conn.notifies(timeout=INCIDENT_RECHECK_S, stop_after=1):
                pass
