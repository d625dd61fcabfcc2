"""Schools, buses and devices of the caller's part of the organisation, as GeoJSON."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from command_ui.deps import ConnDep, CurrentUser
from command_ui.schemas import Feature, FeatureCollection
from store import queries

router = APIRouter(prefix="/api/v1", tags=["site"])

DeviceKind = Literal["bus_tracker", "person_tracker", "panic_button", "camera", "sensor"]


@router.get("/schools")
def list_schools(conn: ConnDep, user: CurrentUser) -> FeatureCollection:
    """Schools with their campus polygons."""
    rows = queries.schools(conn, user.scope_path)
    return FeatureCollection(features=[
        Feature(id=r["id"], geometry=r["campus"], properties=_without(r, "id", "campus")) for r in rows
    ])


@router.get("/buses")
def list_buses(conn: ConnDep, user: CurrentUser) -> FeatureCollection:
    """Buses with their route lines and stops."""
    rows = queries.buses(conn, user.scope_path)
    return FeatureCollection(features=[
        Feature(id=r["id"], geometry=r["route"], properties=_without(r, "id", "route")) for r in rows
    ])


@router.get("/devices")
def list_devices(
    conn: ConnDep, user: CurrentUser, kind: Annotated[DeviceKind | None, Query()] = None
) -> FeatureCollection:
    """Devices with their fixed location or last known position."""
    rows = queries.devices(conn, user.scope_path, kind)
    return FeatureCollection(features=[
        Feature(id=r["id"], geometry=_point(r["lon"], r["lat"]), properties=_without(r, "id", "lon", "lat"))
        for r in rows
    ])


def _point(lon: float | None, lat: float | None) -> dict[str, Any] | None:
    return None if lon is None or lat is None else {"type": "Point", "coordinates": [lon, lat]}


def _without(row: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in keys}
