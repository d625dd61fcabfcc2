"""Video for people: an incident's clips (played with HTTP Range, exported with their SHA-256) and live view.

Every route is authenticated and scoped: a clip or camera outside the caller's subtree answers 404 (a socket:
close 4404), exactly like one that does not exist. Every look is audited: a clip's first request (no Range, or
one from byte 0; a player's later range requests are the same look), an export with the SHA-256 of the bytes
sent (recomputed, and refused with 409 when it no longer matches the one recorded at cutting: chain of custody),
and each live view's start and its end with how long it lasted.

Live view is ``/api/v1/video/live/{camera}``: a websocket of binary MPEG-TS messages (stream copy of the
camera's RTSP, one upstream per camera shared by every viewer, :mod:`vision.video.live`) that mpegts.js plays.
Close codes: 4401 no valid session, 4403 a role the site does not let watch video, 4404 no such camera in the
caller's scope, 4410 the camera's stream ended.

Scrubbing: ``GET /api/v1/video/cameras/{camera}/timeline`` gives a day's recorded spans and the camera's findings
(marks to jump to); ``GET /api/v1/video/cameras/{camera}/playback?at=`` cuts the recording from the keyframe at
or before that moment (audited as ``video.playback.start``, like a live view's start) and names the MP4 to play,
served by ``GET /api/v1/video/playback/{camera}/{file}`` with HTTP Range, scoped again on every request and only
from that camera's own folder. The same keyframe reuses its cut; cuts run a few at once (503 with Retry-After
when every slot stays busy, 504 when ffmpeg runs past its limit) and a person starts a few a minute (429 with
Retry-After): :mod:`vision.video.playback`.

Privacy: video shows faces unblurred (blurring would mean decoding and re-encoding every frame), so only the roles
in ``video.roles`` (by default those allowed faces in snapshots) may watch it; everyone else gets 403 (a socket:
4403) and sees the incident's face-blurred snapshot instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Query, Request, WebSocket, WebSocketDisconnect, status
from fastapi import Path as PathParam
from fastapi.responses import FileResponse
from psycopg_pool import ConnectionPool
from pydantic import BaseModel, ConfigDict
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocketState

from command_ui.deps import SESSION_COOKIE, ConnDep, CurrentUser, User, client_address, session_key
from command_ui.errors import Problem
from command_ui.schemas import Day, Instant, RowId
from domain.audit import AuditRecord
from store import audit_repo, queries, video_repo, video_timeline
from store.auth_repo import session_account
from vision.config import VideoSettings
from vision.video import playback
from vision.video.clips import ClipError, Recorded, sha256_of
from vision.video.live import LiveRelay

router = APIRouter(prefix="/api/v1/video", tags=["video"])

UNAUTHORISED, FORBIDDEN, NOT_FOUND, ENDED = 4401, 4403, 4404, 4410


class ClipOut(BaseModel):
    """A clip of an incident, as the incident panel lists it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: int
    camera_id: str
    finding_at: datetime
    start_at: datetime
    end_at: datetime
    bytes: int
    sha256: str
    url: str


class SpanOut(BaseModel):
    """A stretch of the camera's recording without a break."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start_at: datetime
    end_at: datetime


class FindingOut(BaseModel):
    """A finding of the camera (a mark on its timeline) and the incident that took it up, if any."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    at: datetime
    kind: str
    incident_id: int | None


class TimelineOut(BaseModel):
    """A camera's day: what was recorded and what it found, between ``start`` and ``end``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    camera_id: str
    time_zone: str
    start: datetime
    end: datetime
    spans: list[SpanOut]
    findings: list[FindingOut]


class PlaybackOut(BaseModel):
    """A cut of the recording to play: it starts at ``start_at``, the keyframe at or before the asked ``at``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    camera_id: str
    at: datetime
    start_at: datetime
    end_at: datetime
    url: str


def video_settings(app: Starlette) -> VideoSettings:
    """Return the video section of the app's settings (the defaults when its settings have no vision section)."""
    vision = getattr(app.state.settings, "vision", None)  # the web process's protocol does not name it
    video = getattr(vision, "video", None)
    return video if isinstance(video, VideoSettings) else VideoSettings()


def _may_watch(app: Starlette, user: User) -> None:
    """Refuse (403) a role the site does not let see unblurred video."""
    if user.role not in video_settings(app).roles:
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            detail=f"a {user.role} may not watch video; the incident's blurred snapshot is shown")


def _visible_clip(conn: ConnDep, user: User, clip_id: int) -> video_repo.ClipRow:
    """Return the clip if the caller's scope holds its camera's school; else 404."""
    row = video_repo.clip(conn, clip_id)
    path = queries.unit_path(conn, row.school_id) if row and row.school_id else None
    if row is None or path is None or not user.sees(path):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no clip {clip_id}")
    return row


def _file(request: Request, row: video_repo.ClipRow) -> Path:
    """Return the clip's file under the video root; 404 when it is gone from disk."""
    path = video_settings(request.app).root.resolve() / row.path
    if not path.is_file():
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"clip {row.id} is missing from storage")
    return path


@router.get("/incidents/{incident_id}/clips")
def incident_clips(incident_id: RowId, request: Request, conn: ConnDep, user: CurrentUser) -> list[ClipOut]:
    """List the clips of an incident that the caller may see (none for a role not allowed video).

    An empty list rather than 403: every incident panel asks, and a panel shown to a guard has simply no clip.
    """
    if user.role not in video_settings(request.app).roles:
        return []
    out = []
    for row in video_repo.incident_clips(conn, incident_id):
        path = queries.unit_path(conn, row.school_id) if row.school_id else None
        if path is not None and user.sees(path):
            out.append(ClipOut(id=row.id, camera_id=row.camera_id, finding_at=row.finding_at, start_at=row.start_at,
                               end_at=row.end_at, bytes=row.bytes, sha256=row.sha256,
                               url=f"/api/v1/video/clips/{row.id}.mp4"))
    return out


@router.get("/clips/{clip_id}.mp4", response_class=FileResponse,
            responses={200: {"content": {"video/mp4": {}}}, 206: {"description": "The requested byte range."}})
def play_clip(clip_id: RowId, request: Request, conn: ConnDep, user: CurrentUser) -> FileResponse:
    """Serve a clip for the <video> element, with HTTP Range; the first request of a look is audited."""
    _may_watch(request.app, user)
    with conn.transaction():
        row = _visible_clip(conn, user, clip_id)
        path = _file(request, row)
        wanted = request.headers.get("range", "")
        if not wanted or wanted.replace(" ", "").startswith("bytes=0-"):
            audit_repo.append(conn, AuditRecord(datetime.now(UTC), user.id, "video.clip.view", f"clip:{clip_id}", {
                "incident_id": row.incident_id, "camera_id": row.camera_id, "school_id": row.school_id,
                "from": client_address(request)}))
    return FileResponse(path, media_type="video/mp4", headers={"Cache-Control": "private, no-store"})


@router.get("/clips/{clip_id}/export", response_class=FileResponse,
            responses={200: {"content": {"video/mp4": {}}},
                       409: {"model": Problem, "description": "The file no longer matches its recorded SHA-256."}})
def export_clip(clip_id: RowId, request: Request, conn: ConnDep, user: CurrentUser) -> FileResponse:
    """Download a clip as evidence; the audit trail records who took it and the SHA-256 of what they took."""
    _may_watch(request.app, user)
    with conn.transaction():
        row = _visible_clip(conn, user, clip_id)
        path = _file(request, row)
        digest = sha256_of(path)
        if digest != row.sha256:
            raise HTTPException(status.HTTP_409_CONFLICT,
                                detail=f"clip {clip_id} no longer matches the SHA-256 recorded when it was cut")
        audit_repo.append(conn, AuditRecord(datetime.now(UTC), user.id, "video.clip.export", f"clip:{clip_id}", {
            "incident_id": row.incident_id, "camera_id": row.camera_id, "school_id": row.school_id,
            "sha256": digest, "bytes": row.bytes, "from": client_address(request)}))
    name = f"incident-{row.incident_id}-{row.camera_id}.mp4"
    return FileResponse(path, media_type="video/mp4", filename=name,
                        headers={"Cache-Control": "private, no-store", "X-Content-SHA256": digest})


def _visible_camera(request: Request, conn: ConnDep, user: User, camera_id: str) -> str:
    """Refuse a role not allowed video (403) and a camera outside the caller's scope (404); return its school."""
    _may_watch(request.app, user)
    camera = video_repo.camera_school(conn, camera_id)
    path = queries.unit_path(conn, camera[0]) if camera and camera[0] else None
    if camera is None or camera[0] is None or path is None or not user.sees(path):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no camera {camera_id}")
    return camera[0]


CameraId = Annotated[str, PathParam(min_length=1, max_length=200, description="The camera's id.")]


@router.get("/cameras/{camera_id}/timeline")
def camera_timeline(camera_id: CameraId, request: Request, conn: ConnDep, user: CurrentUser,
                    day: Annotated[Day | None, Query(description="A day in the school's time zone; the last 24 h "
                                                     "when left out.")] = None) -> TimelineOut:
    """Give the camera's recorded spans and findings over a day, for the scrubbing bar."""
    school = _visible_camera(request, conn, user, camera_id)
    zone = video_timeline.school_timezone(conn, school) or "UTC"
    if day is None:
        end = datetime.now(UTC)
        start = end - timedelta(days=1)
    else:  # midnight to midnight where the school is (23 or 25 hours on a DST change)
        start = datetime.combine(day, clock(), ZoneInfo(zone)).astimezone(UTC)
        end = datetime.combine(day + timedelta(days=1), clock(), ZoneInfo(zone)).astimezone(UTC)
    recorded = video_repo.segments_between(conn, camera_id, start, end)
    spans = playback.merge_spans([(max(r.start_at, start), min(r.end_at, end)) for r in recorded])
    return TimelineOut(camera_id=camera_id, time_zone=zone, start=start, end=end,
                       spans=[SpanOut(start_at=s.start_at, end_at=s.end_at) for s in spans],
                       findings=[FindingOut(at=f.at, kind=f.kind, incident_id=f.incident_id)
                                 for f in video_timeline.findings(conn, camera_id, start, end)])


def _gate(app: Starlette) -> playback.PlaybackGate:
    """Return the app's one playback gate (cuts at once, playbacks per person), made on first use."""
    gate = getattr(app.state, "playback_gate", None)
    if not isinstance(gate, playback.PlaybackGate):
        gate = app.state.playback_gate = playback.PlaybackGate()
    return gate


@router.get("/cameras/{camera_id}/playback", responses={
    404: {"model": Problem, "description": "Nothing recorded at that moment."},
    429: {"model": Problem, "description": "The person started too many playbacks lately; see Retry-After."},
    503: {"model": Problem, "description": "Every cutting slot is busy; see Retry-After."},
    504: {"model": Problem, "description": "Cutting the recording ran past its time limit."}})
def start_playback(camera_id: CameraId, request: Request, conn: ConnDep, user: CurrentUser,
                   at: Annotated[Instant, Query(description="The moment to play from.")],
                   span: Annotated[int, Query(ge=10, le=600, description="Seconds to cut.")] = 120) -> PlaybackOut:
    """Cut (or reuse a cut of) the recording from the keyframe at or before ``at`` and name the file; audited.

    A sync route: the probe and the cut run in the server's threadpool, never on the event loop, and the gate
    keeps a burst from holding more than a few of its threads on ffmpeg.
    """
    school = _visible_camera(request, conn, user, camera_id)
    settings, gate = video_settings(request.app), _gate(request.app)
    root = settings.root.resolve()
    try:
        with gate.person(user.id):
            rows = video_repo.segments_between(conn, camera_id, at, at + timedelta(seconds=span))
            if not rows:
                raise ClipError("nothing recorded")
            cut = playback.cut_playback(settings.ffmpeg, root, camera_id,
                                        [Recorded(root / r.path, r.start_at) for r in rows], at, span,
                                        max(r.end_at for r in rows), gate)
    except playback.PlaybackBusyError as exc:  # before its base class: the server is busy, not the person
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail="every playback cutter is busy",
                            headers={"Retry-After": str(exc.retry_after)}) from None
    except playback.PlaybackLimitError as exc:
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, detail=str(exc),
                            headers={"Retry-After": str(exc.retry_after)}) from None
    except playback.PlaybackTimeoutError as exc:
        raise HTTPException(status.HTTP_504_GATEWAY_TIMEOUT, detail=f"cutting the recording took too long: {exc}"
                            ) from None
    except ClipError:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"nothing of {camera_id} recorded at {at}") from None
    with conn.transaction():
        audit_repo.append(conn, AuditRecord(datetime.now(UTC), user.id, "video.playback.start",
                                            f"camera:{camera_id}", {
                                                "school_id": school, "at": at.isoformat(),
                                                "start_at": cut.start_at.isoformat(), "reused": cut.reused,
                                                "from": client_address(request)}))
    return PlaybackOut(camera_id=camera_id, at=at, start_at=cut.start_at, end_at=cut.end_at,
                       url=f"/api/v1/video/playback/{camera_id}/{cut.path.name}")


@router.get("/playback/{camera_id}/{name}", response_class=FileResponse,
            responses={200: {"content": {"video/mp4": {}}}, 206: {"description": "The requested byte range."}})
def play_recording(camera_id: CameraId, name: str, request: Request, conn: ConnDep,
                   user: CurrentUser) -> FileResponse:
    """Serve a cut of the camera made by the playback route, with HTTP Range; scoped again on every request.

    Only from the camera's own folder, and only a name shaped like a cut's: a camera whose id begins like
    another's cannot reach the other's cuts.
    """
    _visible_camera(request, conn, user, camera_id)
    path = playback.cut_file(video_settings(request.app).root.resolve(), camera_id, name)
    if path is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no such recording cut (they last an hour)")
    return FileResponse(path, media_type="video/mp4", headers={"Cache-Control": "private, no-store"})


def _relay(app: Starlette) -> LiveRelay:
    """Return the app's one live relay, made on first use."""
    relay = getattr(app.state, "video_relay", None)
    if not isinstance(relay, LiveRelay):
        relay = app.state.video_relay = LiveRelay(video_settings(app).ffmpeg)
    return relay


def _open_view(pool: ConnectionPool, key: bytes, token: str | None, camera_id: str, address: str,
               roles: frozenset[str]) -> tuple[User | None, str | None]:
    """Authenticate, scope the camera, and audit the view's start; (user, stream URL or None when not allowed)."""
    if not token:
        return None, None
    with pool.connection() as conn, conn.transaction():
        found = session_account(conn, token, datetime.now(UTC), key=key, touch=True)
        if found is None:
            return None, None
        user = User(found.id, found.role, found.scope_path)
        camera = video_repo.camera_school(conn, camera_id)
        path = queries.unit_path(conn, camera[0]) if camera and camera[0] else None
        visible = (camera is not None and path is not None and user.sees(path) and bool(camera[1])
                   and user.role in roles)
        audit_repo.append(conn, AuditRecord(datetime.now(UTC), user.id,
                                            "video.live.start" if visible else "video.live.denied",
                                            f"camera:{camera_id}", {"from": address}))
        return user, camera[1] if visible and camera else None


def _close_view(pool: ConnectionPool, user: User, camera_id: str, seconds: float) -> None:
    """Audit the end of a live view with how long it lasted."""
    with pool.connection() as conn:
        audit_repo.append(conn, AuditRecord(datetime.now(UTC), user.id, "video.live.end", f"camera:{camera_id}",
                                            {"seconds": round(seconds, 1)}))


@router.websocket("/live/{camera_id}")
async def live_view(websocket: WebSocket, camera_id: str) -> None:
    """Stream a camera live as binary MPEG-TS messages while the socket is open."""
    pool: ConnectionPool = websocket.app.state.pool
    key = session_key(websocket.app.state.settings)
    address = websocket.client.host if websocket.client else ""
    roles = video_settings(websocket.app).roles
    camera_id = camera_id[:200]  # an id is a short slug; a longer one matches nothing anyway
    user, url = await run_in_threadpool(_open_view, pool, key, websocket.cookies.get(SESSION_COOKIE), camera_id,
                                        address, roles)
    await websocket.accept()
    if user is None or url is None:
        # Accepted, then closed: a refused handshake reaches a page as a bare 1006 it cannot tell from a drop.
        code, reason = ((UNAUTHORISED, "sign in first") if user is None else
                        (FORBIDDEN, "your role may not watch video") if user.role not in roles else
                        (NOT_FOUND, "no such camera"))
        await websocket.close(code=code, reason=reason)
        return
    began = time.monotonic()
    try:
        async with _relay(websocket.app).watch(camera_id, url) as queue:
            sender = asyncio.create_task(_send(websocket, queue))
            receiver = asyncio.create_task(_drain(websocket))
            _, pending = await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
            for task in {sender, receiver}:
                with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
                    await task
    finally:
        await run_in_threadpool(_close_view, pool, user, camera_id, time.monotonic() - began)
        if websocket.application_state is WebSocketState.CONNECTED:
            with contextlib.suppress(RuntimeError, WebSocketDisconnect):
                await websocket.close(code=ENDED, reason="the camera's stream ended")


async def _send(websocket: WebSocket, queue: asyncio.Queue[bytes | None]) -> None:
    """Send the stream until it ends."""
    while (chunk := await queue.get()) is not None:
        await websocket.send_bytes(chunk)


async def _drain(websocket: WebSocket) -> None:
    """Read (and ignore) what the player sends, until it goes away."""
    while (await websocket.receive())["type"] != "websocket.disconnect":
        pass
