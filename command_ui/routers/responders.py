"""Responders: who is near an incident, and a person sharing their own position from the guard page.

``GET /api/v1/incidents/{id}/responders`` lists the people whose scope holds the incident's school and whose
phones reported in the last ``FRESH_S``, nearest first. Coordinates are given only where the caller's scope
holds the phone (a guard sees how far the district officer is, not where). ``POST /api/v1/me/position`` takes
a fix from the browser of a person on duty (the guard page, when the guard turns sharing on) and stores it as
their phone tracker's, through the same writer as ingest, so it reaches the officer's live map like any fix.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Annotated

import psycopg
from fastapi import APIRouter, HTTPException, Request, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from alerts.correlate import distance_m
from command_ui.deps import ConnDep, CurrentUser
from command_ui.schemas import Lat, Lon, Responder, RowId
from domain.messages import Position
from store.responders_repo import incident_place, own_tracker, people_near
from store.writer import POSITIONS, TimeSeriesWriter

router = APIRouter(prefix="/api/v1", tags=["responders"])

FRESH_S = 30 * 60  # an older fix says where someone was, not where they are
NEAREST = 5
MAX_AHEAD = timedelta(seconds=60)  # a phone clock a little fast
MAX_BEHIND = timedelta(minutes=10)  # a fix sent late from a poor connection; older is not "on duty now"
SOURCE = "web"


class OwnFix(BaseModel):
    """A fix from the browser's geolocation."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    lon: Lon
    lat: Lat
    accuracy_m: Annotated[float | None, Field(ge=0, le=100_000, description="Reported accuracy, metres.")] = None
    time: Annotated[AwareDatetime | None, Field(description="When the fix was taken; now if left out.")] = None


@router.get("/incidents/{incident_id}/responders")
def nearest_responders(incident_id: RowId, conn: ConnDep, user: CurrentUser) -> list[Responder]:
    """List the people who could answer the incident, nearest first (at most NEAREST)."""
    place = incident_place(conn, incident_id, user.scope_path)
    if place is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no incident {incident_id}")
    people = people_near(conn, place["path"], datetime.now(UTC) - timedelta(seconds=FRESH_S))
    located = place["lon"] is not None and place["lat"] is not None
    out = []
    for p in people:
        shown = user.sees(p["device_path"]) if p["device_path"] else user.scope_path == "/"
        out.append(Responder(
            user_id=p["user_id"], name=p["name"], role=p["role"], device_id=p["device_id"], time=p["time"],
            distance_m=round(distance_m(place["lon"], place["lat"], p["lon"], p["lat"])) if located else None,
            lon=p["lon"] if shown else None, lat=p["lat"] if shown else None))
    out.sort(key=lambda r: (r.distance_m is None, r.distance_m or 0.0, -r.time.timestamp()))
    return out[:NEAREST]


@router.post("/me/position", status_code=status.HTTP_204_NO_CONTENT)
def share_position(body: OwnFix, request: Request, conn: ConnDep, user: CurrentUser) -> None:
    """Store the caller's own position as their phone tracker's latest fix."""
    device = own_tracker(conn, user.id)
    if device is None:
        raise HTTPException(status.HTTP_409_CONFLICT,
                            detail="no phone tracker is assigned to you in the site file; ask your administrator")
    now = datetime.now(UTC)
    taken = body.time or now
    if not now - MAX_BEHIND <= taken <= now + MAX_AHEAD:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            detail="time must be within the last 10 minutes (UTC, with its offset)")
    fix = Position(device, taken.astimezone(UTC), now, body.lon, body.lat, SOURCE, accuracy_m=body.accuracy_m)
    try:
        writer: OwnPositions = request.app.state.own_positions
        writer.write([fix])
    except psycopg.Error:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail="the database is unavailable") from None


class OwnPositions:
    """The app's one positions writer for shared fixes (its own connection, made on first use); one at a time."""

    def __init__(self, url: str) -> None:
        """Prepare the writer; nothing connects until the first fix."""
        self._lock = threading.Lock()
        self._writer = TimeSeriesWriter(url, POSITIONS, max_wait_s=5)

    def write(self, fixes: list[Position]) -> None:
        """Commit fixes, retrying a brief outage for up to 5 s."""
        with self._lock:
            self._writer.write(fixes)

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._writer.close()
