"""The wall's counters (/wall, the command centre's video wall): one small read the page polls.

For those who watch a part of the organisation (school and district administrators, district officers,
administrators), scoped like the map. Not for guards: a guard's screen is the incident in front of them
(/guard), and the wall's district-wide counts are not theirs to see.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from command_ui.deps import ConnDep, User, require
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
