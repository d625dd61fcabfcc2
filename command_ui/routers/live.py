"""The live feed: one websocket per screen, carrying incident changes and moving positions in the caller's scope.

Incident changes are numbered by a global cursor (``incident_events.cursor``). A client connects with the last
cursor it saw (``?after=``) and first receives every change after it (or, with none, the present: the latest
change of each incident open or changed in the last day), so a dropped connection loses nothing; then each
change as it commits, from the process's one :class:`~command_ui.incident_hub.IncidentHub`. The socket is
subscribed to the hub before the replay is read, so a change committing in between is sent twice, never
missed, and a change never shows an incident older than one already sent.

Positions are sent only to a screen that asks for them: it sends ``{"type": "watch", "positions": true,
"bbox": [west, south, east, north]}`` (``bbox`` null or left out: its whole scope), again whenever its map
moves, and ``"positions": false`` to stop. A guard's phone that shows no map never pays for the fleet's
movements. They come from the process's one :class:`~command_ui.live_hub.PositionHub`, a snapshot of the view
first, then each device's newest fix as it commits, as ``{"type": "positions", "fields": [...], "rows":
[[...], ...]}``. The screen answers each with ``{"type": "ack"}`` when it has drawn it; until then (or
``ACK_WAIT_S``) nothing more is sent, and what moved meanwhile comes conflated in the next message.

A message the server cannot read is answered with ``{"type": "error", "detail": ...}`` and the connection
stays open. The session cookie authenticates the handshake; without a valid one the socket closes with 4401,
and a guard's feed never carries another school's data.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from psycopg_pool import ConnectionPool
from starlette.concurrency import run_in_threadpool

from command_ui.deps import SESSION_COOKIE, User
from command_ui.incident_hub import Change, IncidentHub, IncidentSubscription, change_of
from command_ui.live_hub import PositionHub, Subscription
from command_ui.live_messages import Ack, UnreadableMessageError, Watch, read_client_message
from store.auth_repo import session_account
from store.live_repo import replay

router = APIRouter(tags=["live"])
log = logging.getLogger(__name__)

UNAUTHORISED = 4401
ACK_WAIT_S = 5.0  # a screen that never acknowledges still gets positions, this often


def _authenticate(pool: ConnectionPool, token: str | None) -> User | None:
    if not token:
        return None
    with pool.connection() as conn:
        found = session_account(conn, token, datetime.now(UTC))
    return User(found.id, found.role, found.scope_path) if found else None


def _replay(pool: ConnectionPool, scope_path: str, after: int, safe: int) -> list[Change]:
    # ``safe``: the hub's resume point before this read; a replayed change resumes no later than it.
    with pool.connection() as conn:
        return [change_of(row, min(int(row["cursor"]), safe)) for row in replay(conn, scope_path, after)]


@router.websocket("/api/v1/live")
async def live(websocket: WebSocket, after: int = 0) -> None:
    """Stream the caller's incident changes (replaying those after ``after``) and the positions it watches."""
    pool: ConnectionPool = websocket.app.state.pool
    user = await run_in_threadpool(_authenticate, pool, websocket.cookies.get(SESSION_COOKIE))
    if user is None:
        await websocket.close(code=UNAUTHORISED, reason="sign in first")
        return
    await websocket.accept()
    sending = asyncio.Lock()  # incidents, positions and error answers go out from three tasks; one at a time
    incidents: IncidentHub = websocket.app.state.incidents
    positions: PositionHub = websocket.app.state.hub
    feed = incidents.subscribe(user.scope_path)  # before the replay is read: nothing falls in between
    watched = positions.subscribe(user.scope_path)
    tasks = [asyncio.create_task(_read(websocket, watched, sending)),
             asyncio.create_task(_send_incidents(websocket, pool, incidents, feed, after, sending)),
             asyncio.create_task(_send_positions(websocket, positions, watched, sending))]
    try:
        # Whichever ends first (the client went away, a send failed) ends the connection.
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        incidents.unsubscribe(feed)
        positions.unsubscribe(watched)
        for task in tasks:
            task.cancel()
        # Every task is awaited whatever another one raised, so none is left running after the socket.
        for task in tasks:
            try:
                await task
            except (asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
                pass
            except Exception:
                log.exception("live feed of %s ended on an error", user.id)
        with contextlib.suppress(RuntimeError):
            await websocket.close()


async def _send_incidents(websocket: WebSocket, pool: ConnectionPool, hub: IncidentHub, feed: IncidentSubscription,
                          after: int, sending: asyncio.Lock) -> None:
    await hub.ready.wait()
    for change in await run_in_threadpool(_replay, pool, feed.scope_path, after, hub.resume()):
        if feed.fresher(change):
            async with sending:
                await websocket.send_text(change.message)
    while True:
        change = await feed.queue.get()
        if feed.fresher(change):
            async with sending:
                await websocket.send_text(change.message)


async def _send_positions(websocket: WebSocket, hub: PositionHub, subscription: Subscription,
                          sending: asyncio.Lock) -> None:
    # Woken by each tick of the hub (or a new view); whatever changed while the last send was under way is
    # taken as one message, each device once with its newest fix.
    while True:
        await subscription.wake.wait()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(subscription.acked.wait(), ACK_WAIT_S)
        subscription.wake.clear()
        message = hub.take(subscription)
        if message is not None:
            subscription.acked.clear()
            async with sending:
                await websocket.send_text(message)


async def _read(websocket: WebSocket, subscription: Subscription, sending: asyncio.Lock) -> None:
    while True:
        frame = await websocket.receive()
        if frame["type"] == "websocket.disconnect":
            return
        text = frame.get("text")
        try:
            if text is None:
                raise UnreadableMessageError("send JSON text frames, not binary")
            message = read_client_message(text)
        except UnreadableMessageError as exc:
            async with sending:
                await websocket.send_json({"type": "error", "detail": str(exc)})
            continue
        if isinstance(message, Watch):
            subscription.watch(message.view())
        elif isinstance(message, Ack):
            subscription.acked.set()
