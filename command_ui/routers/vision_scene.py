"""A camera's learned scene: the fixed things its vision worker masks, listed, and un-learned by a person.

A worker learns a thing that never moves where a person would (a traffic cone the detector takes for a person)
as part of the camera's scene and stops counting it (``vision/scene.py``). Here the operations page lists what
each camera has learned (the boxes, normalised to the picture, to draw over it) and an administrator un-learns
one or all; the worker stops masking them at its next reread. Every un-learn is audited in its transaction.
A camera outside the caller's scope answers 404, exactly like one that does not exist.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import psycopg
from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from pydantic import BaseModel, ConfigDict, Field

from command_ui.deps import EDIT_GEOFENCES, ConnDep, CurrentUser, User, require
from command_ui.schemas import RowId
from domain.audit import AuditRecord
from store import audit_repo, queries, vision_repo

router = APIRouter(prefix="/api/v1/cameras", tags=["vision scene"])

CameraId = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$", description="Camera id (a slug).")]
SceneEditor = Annotated[User, Depends(require(EDIT_GEOFENCES, "un-learn a camera's scene"))]
"""Who may change what a camera masks: the roles that draw geofences (school, district and system admins)."""


class SceneObjectOut(BaseModel):
    """A thing the camera learned as scene."""

    model_config = ConfigDict(frozen=True)

    id: int
    camera_id: str
    label: Annotated[str, Field(description="What the detector took it for when it was learned.")]
    box: Annotated[tuple[float, float, float, float],
                   Field(description="[x1, y1, x2, y2] in normalised image coordinates, 0..1.")]
    learned_at: datetime
    forgotten_at: Annotated[datetime | None, Field(description="When it was un-learned; None while masked.")]
    forgotten_by: str | None


class ForgetOut(BaseModel):
    """What an un-learn did."""

    model_config = ConfigDict(frozen=True)

    camera_id: str
    forgotten: Annotated[list[int], Field(description="Ids no longer masked (empty: nothing was).")]


def _out(row: vision_repo.SceneRow) -> SceneObjectOut:
    return SceneObjectOut(id=row.id, camera_id=row.camera_id, label=row.label, box=row.box,
                          learned_at=row.learned_at, forgotten_at=row.forgotten_at, forgotten_by=row.forgotten_by)


def _check_scope(conn: psycopg.Connection, user: User, camera_id: str) -> None:
    school = vision_repo.camera_school(conn, camera_id)
    path = queries.unit_path(conn, school) if school is not None else None
    if path is None or not user.sees(path):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no camera {camera_id}")


@router.get("/{camera_id}/scene")
def list_scene(camera_id: CameraId, conn: ConnDep, user: CurrentUser,
               forgotten: Annotated[bool, Query(description="Include un-learned objects.")] = False,
               ) -> list[SceneObjectOut]:
    """List what the camera masks as scene (and, when asked, what was un-learned)."""
    _check_scope(conn, user, camera_id)
    return [_out(row) for row in vision_repo.camera_scene(conn, camera_id, forgotten=forgotten)]


@router.post("/{camera_id}/scene/{object_id}/forget")
def forget_object(camera_id: CameraId, object_id: RowId, conn: ConnDep, user: SceneEditor) -> ForgetOut:
    """Un-learn one object: the worker counts what the detector sees there again (and may learn it anew)."""
    return _forget(conn, user, camera_id, [object_id])


@router.post("/{camera_id}/scene/clear")
def clear_scene(camera_id: CameraId, conn: ConnDep, user: SceneEditor) -> ForgetOut:
    """Un-learn everything the camera masks (after the camera was moved, say)."""
    return _forget(conn, user, camera_id, None)


def _forget(conn: psycopg.Connection, user: User, camera_id: str, ids: list[int] | None) -> ForgetOut:
    with conn.transaction():
        _check_scope(conn, user, camera_id)
        forgotten = vision_repo.forget_scene(conn, camera_id, ids, user.id, datetime.now(UTC))
        if ids is not None and not forgotten:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no learned object {ids[0]} on {camera_id}")
        audit_repo.append(conn, AuditRecord(
            datetime.now(UTC), user.id, "vision_scene.forget", f"camera:{camera_id}",
            {"ids": forgotten, "all": ids is None}))
    return ForgetOut(camera_id=camera_id, forgotten=forgotten)
