"""Geofences stored beside the site file: list them, and draw, redraw or remove restricted areas.

Fences from the site file are listed but not editable here (the file stays the source of truth for them);
fences drawn through the API are the geo service's to pick up on its next refresh.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

import psycopg
from fastapi import APIRouter, HTTPException, Path, Response, status
from pydantic import BaseModel, ConfigDict, Field

from command_ui.deps import ConnDep, CurrentUser, GeofenceEditor, User
from command_ui.schemas import Feature, FeatureCollection
from domain.audit import AuditRecord
from domain.scope import ROOT
from domain.site.geometry import Polygon
from store import audit_repo, queries

router = APIRouter(prefix="/api/v1/geofences", tags=["geofences"])

FenceId = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$", description="Fence id (a slug).")]


class GeofenceIn(BaseModel):
    """A fence drawn by an administrator."""

    # An example a client (and the API sweep) can send as it is: a shared fence, drawn by a district admin.
    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra={"examples": [{
        "name": "Construction site", "kind": "restricted", "school_id": None, "geometry": {"type": "Polygon",
        "coordinates": [[[-96.69, 40.8], [-96.68, 40.8], [-96.68, 40.81], [-96.69, 40.8]]]}}]})

    name: Annotated[str, Field(min_length=1, max_length=200, description="Name shown with alerts.")]
    kind: Annotated[Literal["restricted", "custom"], Field(description="restricted raises on entry.")] = "restricted"
    school_id: Annotated[str | None, Field(description="The school it belongs to, if any.")] = None
    geometry: Annotated[Polygon, Field(description="GeoJSON Polygon, WGS-84 lon/lat.")]
    # At least 1: a slower limit means nothing, and 5e-324 km/h underflowed the column (real) into a 500.
    speed_limit_kmh: Annotated[float | None, Field(ge=1, le=130, description="Speed limit inside.")] = None


@router.get("")
def list_geofences(conn: ConnDep, user: CurrentUser) -> FeatureCollection:
    """List the stored geofences as GeoJSON."""
    rows = queries.geofences(conn, user.scope_path)
    return FeatureCollection(features=[
        Feature(id=r["id"], geometry=r["geometry"],
                properties={k: v for k, v in r.items() if k not in ("id", "geometry")}) for r in rows
    ])


@router.put("/{fence_id}", status_code=status.HTTP_200_OK,
            responses={201: {"model": Feature, "description": "The fence is new."}})
def put_geofence(fence_id: FenceId, body: GeofenceIn, conn: ConnDep, user: GeofenceEditor,
                 response: Response) -> Feature:
    """Create or redraw a fence; 201 when it is new."""
    _check_scope(conn, user, body.school_id)
    existing = next((f for f in queries.geofences(conn) if f["id"] == fence_id), None)
    if existing is not None and not _may_edit(conn, user, existing["school_id"]):
        # Fence ids are one namespace: the id is taken, and that is all a caller of another school learns.
        raise HTTPException(status.HTTP_409_CONFLICT, detail=f"geofence id {fence_id!r} is taken; choose another")
    fence = {"id": fence_id, "school_id": body.school_id, "kind": body.kind, "name": body.name,
             "geometry": body.geometry.model_dump(mode="json"), "speed_limit_kmh": body.speed_limit_kmh}
    try:
        with conn.transaction():
            created = queries.save_geofence(conn, fence)
            audit_repo.append(conn, AuditRecord(datetime.now(UTC), user.id, "geofence.save", f"geofence:{fence_id}",
                                                {"name": body.name, "kind": body.kind, "created": created}))
    except PermissionError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from None
    except psycopg.errors.ForeignKeyViolation:
        # An organisation unit inside the caller's scope that is not a school (a township, a county).
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            detail=f"{body.school_id!r} is not a school") from None
    if created:
        response.status_code = status.HTTP_201_CREATED
    return Feature(id=fence_id, geometry=fence["geometry"],
                   properties={k: v for k, v in fence.items() if k not in ("id", "geometry")} | {"source": "api"})


@router.delete("/{fence_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_geofence(fence_id: FenceId, conn: ConnDep, user: GeofenceEditor) -> None:
    """Remove a fence drawn through the API."""
    existing = next((f for f in queries.geofences(conn) if f["id"] == fence_id), None)
    with conn.transaction():
        # Another school's fence reads exactly like one that does not exist.
        if existing is None or not _may_edit(conn, user, existing["school_id"]) \
                or not queries.retire_geofence(conn, fence_id):
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no API-drawn geofence {fence_id!r}")
        audit_repo.append(conn, AuditRecord(datetime.now(UTC), user.id, "geofence.remove", f"geofence:{fence_id}"))


def _check_scope(conn: psycopg.Connection, user: User, school_id: str | None) -> None:
    """Refuse a fence of a school the caller may not draw for, or of no school for a school-level caller.

    A school that does not exist and a school outside the caller's scope get the same answer, word for word:
    an error must not tell a school admin which ids other districts use.
    """
    if school_id is None:
        if user.scope_path != "/" and user.role != "district_admin":
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail="only district administrators draw shared fences")
        return
    if user.scope_path == ROOT and queries.unit_path(conn, school_id) is None:
        # The root sees every id there is: telling it an id is wrong gives nothing away.
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=f"no school {school_id!r}")
    if not _may_edit(conn, user, school_id):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=f"you may not draw fences for school {school_id!r}")


def _may_edit(conn: psycopg.Connection, user: User, school_id: str | None) -> bool:
    """Tell whether the caller may change fences of ``school_id`` (None: shared fences, district level)."""
    if school_id is None:
        return user.scope_path == "/" or user.role == "district_admin"
    path = queries.unit_path(conn, school_id)
    return path is not None and user.sees(path)
