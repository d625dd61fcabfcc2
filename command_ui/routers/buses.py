"""One bus: its live arrival time at each stop, and its track of a day (today's, or any day's to replay).

Both answer 404 for a bus outside the caller's part of the organisation, as for one that does not exist.
Days are the school's local days (``date`` in its timezone, DST included); times are UTC.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, ConfigDict, Field

from command_ui.bus_eta import live_etas, plan_from_rows, window_start
from command_ui.deps import ConnDep, CurrentUser
from command_ui.schemas import Day
from domain.messages import Position
from geo.config import GeoRules
from store import queries

router = APIRouter(prefix="/api/v1/buses", tags=["buses"])

MAX_TRACK_POINTS = 20_000
"""A day at 1 Hz is under 20,000 fixes in service; beyond it the track is thinned evenly."""


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StopEtaOut(_Out):
    """One stop of the current trip: reached (when), or projected (when expected)."""

    stop_id: str
    name: str
    scheduled: dt.datetime = Field(description="Scheduled arrival, UTC.")
    eta: dt.datetime | None = Field(description="Projected arrival, UTC; null once reached.")
    reached: dt.datetime | None = Field(description="When the bus reached the stop, UTC.")
    delay_s: float = Field(description="Seconds behind the timetable (negative: ahead).")


class BusEtaOut(_Out):
    """A bus's live arrival times, as of its newest fix."""

    bus_id: str
    school_id: str
    timezone: str = Field(description="The school's IANA timezone, for showing times.")
    as_of: dt.datetime | None = Field(description="Device time of the newest fix; null when it never reported.")
    position: dict[str, Any] | None = Field(description="GeoJSON Point of the newest fix.")
    trip_date: dt.date | None = Field(description="Local date of the current trip; null when not on one.")
    trip_started: dt.datetime | None = Field(description="Start of the current service window, UTC.")
    stops: list[StopEtaOut] = Field(description="Every stop of the trip in order; empty off trip.")


@router.get("/{bus_id}/eta")
def bus_eta(bus_id: str, conn: ConnDep, user: CurrentUser) -> BusEtaOut:
    """Project the arrival at each stop of the current trip the way the late-running rule does."""
    bus = _bus(conn, user.scope_path, bus_id)
    plan, projection = plan_from_rows(bus)
    latest = queries.latest_fix(conn, bus["trackers"])
    start = window_start(plan, latest["time"]) if latest else None
    fixes = queries.fixes(conn, bus["trackers"], start, latest["time"]) if start and latest else []
    live = live_etas(plan, [_position(f) for f in fixes], GeoRules(), projection)
    return BusEtaOut(
        bus_id=bus["id"], school_id=bus["school_id"], timezone=bus["timezone"],
        as_of=latest["time"] if latest else None,
        position={"type": "Point", "coordinates": [latest["lon"], latest["lat"]]} if latest else None,
        trip_date=live.trip_date, trip_started=live.window_start,
        stops=[StopEtaOut(stop_id=s.stop_id, name=s.stop_name, scheduled=s.scheduled, eta=s.eta, reached=s.reached,
                          delay_s=s.delay_s) for s in live.stops])


class TrackProperties(_Out):
    """What goes with a day's track: the instant and motion of each vertex, in the geometry's order."""

    bus_id: str
    date: dt.date = Field(description="The school's local date.")
    timezone: str
    start: dt.datetime = Field(description="Local midnight starting the day, UTC.")
    end: dt.datetime = Field(description="Local midnight ending it, UTC (23 or 25 hours later on DST days).")
    fixes: int = Field(description="Fixes in the day before any thinning.")
    times: list[dt.datetime] = Field(description="Device time of each vertex, UTC, oldest first.")
    speed_kmh: list[float | None]
    heading_deg: list[float | None]


class TrackFeature(_Out):
    """The day's track as one GeoJSON feature: a LineString (a Point for one fix, null for none)."""

    type: Literal["Feature"] = "Feature"
    id: str
    geometry: dict[str, Any] | None
    properties: TrackProperties


class TrackOut(_Out):
    """A GeoJSON feature collection holding the one track."""

    type: Literal["FeatureCollection"] = "FeatureCollection"
    features: list[TrackFeature]


@router.get("/{bus_id}/track")
def bus_track(
    bus_id: str, conn: ConnDep, user: CurrentUser,
    day: Annotated[Day | None, Query(alias="date", description="Local date; today's when left out.")] = None,
) -> TrackOut:
    """Positions of the bus over one local day as a LineString with per-vertex times, to draw or replay."""
    bus = _bus(conn, user.scope_path, bus_id)
    zone = ZoneInfo(bus["timezone"])
    local_day = day or dt.datetime.now(zone).date()
    start = dt.datetime.combine(local_day, dt.time(0, 0), tzinfo=zone).astimezone(dt.UTC)
    end = dt.datetime.combine(local_day + dt.timedelta(days=1), dt.time(0, 0), tzinfo=zone).astimezone(dt.UTC)
    rows = queries.fixes(conn, bus["trackers"], start, end - dt.timedelta(microseconds=1)) if bus["trackers"] else []
    kept = _thin(rows, MAX_TRACK_POINTS)
    coordinates = [[r["lon"], r["lat"]] for r in kept]
    geometry = (None if not kept else {"type": "Point", "coordinates": coordinates[0]} if len(kept) == 1
                else {"type": "LineString", "coordinates": coordinates})
    properties = TrackProperties(
        bus_id=bus["id"], date=local_day, timezone=bus["timezone"], start=start, end=end, fixes=len(rows),
        times=[r["time"] for r in kept], speed_kmh=[r["speed_kmh"] for r in kept],
        heading_deg=[r["heading_deg"] for r in kept])
    return TrackOut(features=[TrackFeature(id=f"{bus['id']}:{local_day.isoformat()}", geometry=geometry,
                                           properties=properties)])


def _bus(conn: Any, scope_path: str, bus_id: str) -> dict[str, Any]:
    bus = queries.bus_detail(conn, scope_path, bus_id)
    if bus is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no bus {bus_id!r}")
    return bus


def _position(row: dict[str, Any]) -> Position:
    return Position(row["device_id"], row["time"], row["received_at"], row["lon"], row["lat"], row["source"],
                    row["speed_kmh"], row["heading_deg"])


def _thin(rows: list[dict[str, Any]], most: int) -> list[dict[str, Any]]:
    # Even thinning keeps the shape and the timing; the last fix stays, so the replay ends where the bus did.
    if len(rows) <= most:
        return rows
    step = len(rows) / (most - 1)
    return [rows[int(i * step)] for i in range(most - 1)] + [rows[-1]]
