"""The wall's counters (/wall, the command centre's video wall): one small read the page polls; and its cameras.

``/cameras`` names, for the open incidents the wall asks about, the camera their evidence came from (its name,
place and school), the latest face-blurred snapshot of it, and whether the caller may watch live video: the
wall plays those cameras live (the video socket, scoped and audited) or shows the snapshot instead.

For those who watch a part of the organisation (school and district administrators, district officers,
administrators), scoped like the map. Not for guards: a guard's screen is the incident in front of them
(/guard), and the wall's district-wide counts are not theirs to see.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from command_ui.deps import ConnDep, User, require
from command_ui.routers.video import video_settings
from command_ui.schemas import ROW_ID_MAX
from store import case_file_repo, queries
from store.report_repo import wall_counts

router = APIRouter(prefix="/api/v1/wall", tags=["wall"])

WATCH_WALL = frozenset({"school_admin", "district_officer", "district_admin", "admin"})
"""Roles that open the wall (mirrors WALL_ROLES in static/js/wall-page.js)."""
WallWatcher = Annotated[User, Depends(require(WATCH_WALL, "open the wall"))]


class WallCountsOut(BaseModel):
    """The counters on the wall, as of ``as_of``; drills are left out."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    as_of: dt.datetime
    open_critical: int
    open_high: int
    open_other: int = Field(description="Open incidents of medium, low or info severity.")
    unacknowledged: int = Field(description="Open incidents nobody has acknowledged.")
    alarms_today: int = Field(description="Incidents opened since midnight in their school's timezone.")
    buses_out: int = Field(description="Buses whose tracker reported in the last 15 minutes.")
    buses_late: int = Field(description="Buses with an open late-arrival incident.")
    buses_silent: int = Field(description="Buses whose trackers reported once and are all offline now.")
    devices: int
    devices_online: int
    devices_offline: int = Field(description="Devices that reported once and are offline now.")
    devices_never_reported: int = Field(
        description="Devices registered but never heard from: an installation to finish, not an outage.")


@router.get("/counts")
def counts(conn: ConnDep, user: WallWatcher) -> WallCountsOut:
    """Count the wall's figures over the caller's part of the organisation."""
    now = dt.datetime.now(dt.UTC)
    c = wall_counts(conn, user.scope_path, now)
    return WallCountsOut(
        as_of=now, open_critical=c.open_critical, open_high=c.open_high, open_other=c.open_other,
        unacknowledged=c.unacknowledged, alarms_today=c.alarms_today, buses_out=c.buses_out,
        buses_late=c.buses_late, buses_silent=c.buses_silent, devices=c.devices,
        devices_online=c.devices_online, devices_offline=c.devices_offline,
        # A device is online, offline (heard once, silent now) or never heard from: the third is the rest.
        devices_never_reported=c.devices - c.devices_online - c.devices_offline)


MOST_ASKED = 40
"""Incidents one camera read answers for: the wall asks about its most urgent ones, each once."""


class WallCameraOut(BaseModel):
    """The camera an open incident's evidence came from, as a tile on the wall shows it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    incident_id: int
    camera_id: str
    camera_name: str
    place: str | None = Field(description="Where the camera is on its campus, as the site file says.")
    school_id: str
    snapshot_id: int | None = Field(description="Its latest face-blurred snapshot: GET /api/v1/snapshots/{id}.jpg.")


class WallCamerasOut(BaseModel):
    """The asked incidents that have a camera (in the order asked), and whether the caller may watch video."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    may_watch: bool = Field(description="False: the tiles show the blurred snapshot (the video socket says 4403).")
    cameras: list[WallCameraOut]


@router.get("/cameras")
def cameras(request: Request, conn: ConnDep, user: WallWatcher,
            incident: Annotated[list[Annotated[int, Field(ge=1, le=ROW_ID_MAX)]],
                                Query(max_length=MOST_ASKED, description="Open incidents to look at.")]
            ) -> WallCamerasOut:
    """Name the camera of each asked incident in scope that has camera evidence; others are left out."""
    in_scope = {d["id"]: d for d in queries.devices(conn, user.scope_path, "camera")}
    found: list[WallCameraOut] = []
    for incident_id in dict.fromkeys(incident):
        moment = case_file_repo.incident_moment(conn, incident_id, user.scope_path)
        if moment is None:
            continue
        shots = case_file_repo.snapshots(conn, incident_id)
        # The camera of its latest snapshot, else the first camera its evidence names (a finding kept no picture).
        named = [s["camera_id"] for s in reversed(shots)] + sorted(moment["sources"])
        camera = next((in_scope[c] for c in named if c in in_scope), None)
        if camera is None:
            continue
        shot = next((s["id"] for s in reversed(shots) if s["camera_id"] == camera["id"]), None)
        found.append(WallCameraOut(incident_id=incident_id, camera_id=camera["id"], camera_name=camera["name"],
                                   place=camera["place"], school_id=camera["school_id"], snapshot_id=shot))
    return WallCamerasOut(may_watch=user.role in video_settings(request.app).roles, cameras=found)
