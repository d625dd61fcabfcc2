"""The live feed: one websocket per screen, carrying incident changes and moving positions in the caller's scope.

Incident changes are numbered by a global cursor (``incident_events.cursor``). A client connects with the last
cursor it saw (``?after=``) and first receives every change after it (or, with none, the present: the latest
change of each incident open or changed in the last day), so a dropped connection loses nothing; then each
change as it commits, from the process's one :class:`~command_ui.incident_hub.IncidentHub`. The socket is
subscribed to the hub before the replay is read, so a change committing in between is sent twice, never
missed, and a change never shows an incident older than one already sent.

Positions are sent only to a screen that asks for them: it sends ``{"type": "watch", "positions": true,
"bbox": [west, south, east, north], "zoom": 11}`` (``bbox`` null or left out: its whole scope), again whenever
its map moves or zooms, and ``"positions": false`` to stop. A guard's phone that shows no map never pays for
the fleet's movements. ``zoom`` is the map's Web Mercator zoom (0 to 22; left out: every fix, as before it
existed): below 15 a device's fix is sent when it moved a pixel at that zoom, its heading turned 15° or its
marker changed, or 10 s after the last one sent, and not otherwise (command_ui/live_detail.py). They come
from the process's one :class:`~command_ui.live_hub.PositionHub`, a snapshot of the view first (every
device's newest fix, whatever the zoom), then each device's newest fix as it commits (and as the zoom shows
it), as ``{"type": "positions", "fields": [...], "rows": [[...], ...]}``. The screen answers each with
``{"type": "ack"}`` when it has drawn it; until then (or ``ACK_WAIT_S``) nothing more is sent, and what moved
meanwhile comes conflated in the next message.

A message the server cannot read is answered with ``{"type": "error", "detail": ...}`` and the connection
stays open. The session cookie authenticates the handshake, and a guard's feed never carries another school's
data. Close codes the server sends:

- ``4401``: no valid session, or the session ended while the socket was open (a logout, a password, role or
  scope change, the account retired): the page goes to sign-in. Without a valid session the socket is accepted
  and then closed, because a socket refused during the handshake reaches a browser as a bare 1006 with no code,
  which a page cannot tell from a network drop. An open socket learns that its session ended from the
  ``campusguard_sessions`` notification (through the process's incident hub) at once, and by checking again
  every ``SESSION_RECHECK_S`` (an expired session, a missed notification).
- ``4409``: the session is still valid but the person's scope moved (their unit moved in the organisation
  tree): the page reconnects, and the new socket carries the new scope.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from psycopg_pool import ConnectionPool
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocketState

from command_ui.deps import SESSION_COOKIE, User, session_key
from command_ui.incident_hub import Change, IncidentHub, IncidentSubscription, change_of
from command_ui.live_hub import PositionHub, Subscription
from command_ui.live_messages import Ack, UnreadableMessageError, Watch, read_client_message
from store.auth_repo import session_account
from store.live_repo import replay

router = APIRouter(tags=["live"])
log = logging.getLogger(__name__)

UNAUTHORISED = 4401
ACCESS_CHANGED = 4409
ACK_WAIT_S = 5.0  # a screen that never acknowledges still gets positions, this often
SESSION_RECHECK_S = 30.0  # an ended session closes its socket at the latest this long after, without a NOTIFY


def _authenticate(pool: ConnectionPool, key: bytes, token: str | None, touch: bool = True) -> User | None:
    if not token:
        return None
    with pool.connection() as conn:
        found = session_account(conn, token, datetime.now(UTC), key=key, touch=touch)
    return User(found.id, found.role, found.scope_path) if found else None


def _replay(pool: ConnectionPool, scope_path: str, after: int, safe: int) -> list[Change]:
    # ``safe``: the hub's resume point before this read; a replayed change resumes no later than it.
    with pool.connection() as conn:
        return [change_of(row, min(int(row["cursor"]), safe)) for row in replay(conn, scope_path, after)]


@router.websocket("/api/v1/live")
async def live(websocket: WebSocket, after: int = 0) -> None:
    """Stream the caller's incident changes (replaying those after ``after``) and the positions it watches."""
    pool: ConnectionPool = websocket.app.state.pool
    key = session_key(websocket.app.state.settings)
    token = websocket.cookies.get(SESSION_COOKIE)
    user = await run_in_threadpool(_authenticate, pool, key, token)
    await websocket.accept()
    if user is None or token is None:
        await websocket.close(code=UNAUTHORISED, reason="sign in first")
        return
    sending = asyncio.Lock()  # incidents, positions, error answers and a closing go out from four tasks
    incidents: IncidentHub = websocket.app.state.incidents
    positions: PositionHub = websocket.app.state.hub
    ended = incidents.sessions.watch(user.id)
    # Checked once more at once: a session that ended between the check above and this registration was
    # announced to nobody listening for it.
    ended.set()
    feed = incidents.subscribe(user.scope_path)  # before the replay is read: nothing falls in between
    watched = positions.subscribe(user.scope_path)
    tasks = [asyncio.create_task(_read(websocket, watched, sending)),
             asyncio.create_task(_send_incidents(websocket, pool, incidents, feed, after, sending)),
             asyncio.create_task(_send_positions(websocket, positions, watched, sending)),
             asyncio.create_task(_watch_session(websocket, pool, key, token, user, ended, sending))]
    try:
        # Whichever ends first (the client went away, a send failed, the session ended) ends the connection.
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        incidents.sessions.unwatch(user.id, ended)
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
        # Closed by us already (a session that ended), or by the client: a client going away is how every screen
        # ends, not an error, and closing a socket the client has closed raises; there is nothing left to close.
        if websocket.application_state is WebSocketState.CONNECTED:
            with contextlib.suppress(RuntimeError, WebSocketDisconnect):
                await websocket.close()


async def _watch_session(websocket: WebSocket, pool: ConnectionPool, key: bytes, token: str, user: User,
                         ended: asyncio.Event, sending: asyncio.Lock) -> None:
    """Close the socket once its session has ended (4401) or its person's scope has moved (4409)."""
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ended.wait(), SESSION_RECHECK_S)
        ended.clear()
        now = await run_in_threadpool(_authenticate, pool, key, token, False)
        if now != user:
            code, reason = ((UNAUTHORISED, "session ended") if now is None else
                            (ACCESS_CHANGED, "your access changed; connect again"))
            async with sending:
                await websocket.close(code=code, reason=reason)
            return


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
