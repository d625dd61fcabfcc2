"""Camera snapshots: the picture a vision event was raised on, with faces blurred unless the role may see them.

Every view is written to the audit trail (who, which snapshot, with or without faces, from where) in the
same transaction that reads the picture, and the response forbids caching, so each look is one audited view.
A snapshot outside the caller's scope answers 404, exactly like one that does not exist.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, Response, status

from command_ui.deps import SEE_FACES, ConnDep, CurrentUser
from command_ui.schemas import RowId
from domain.audit import AuditRecord
from store import audit_repo, queries, vision_repo

router = APIRouter(prefix="/api/v1/snapshots", tags=["snapshots"])


@router.get("/{snapshot_id}.jpg", response_class=Response,
            responses={200: {"content": {"image/jpeg": {}}, "description": "The JPEG."}})
def read_snapshot(snapshot_id: RowId, request: Request, conn: ConnDep, user: CurrentUser,
                  faces: Annotated[bool, Query(description="Unblurred faces, for roles allowed them.")] = False,
                  ) -> Response:
    """One snapshot as JPEG, faces blurred unless asked for and allowed; every view is audited."""
    if faces and user.role not in SEE_FACES:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=f"a {user.role} may not see faces in snapshots")
    with conn.transaction():
        row = vision_repo.snapshot(conn, snapshot_id)
        path = queries.unit_path(conn, row.school_id) if row else None
        if row is None or path is None or not user.sees(path):
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no snapshot {snapshot_id}")
        jpeg = vision_repo.snapshot_jpeg(conn, snapshot_id, faces=faces)
        if jpeg is None:  # pragma: no cover - deleted between the two reads of one transaction
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no snapshot {snapshot_id}")
        audit_repo.append(conn, AuditRecord(
            datetime.now(UTC), user.id, "snapshot.view", f"snapshot:{snapshot_id}",
            {"camera_id": row.camera_id, "school_id": row.school_id, "faces": faces, "kind": row.kind,
             "from": request.client.host if request.client else None}))
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "private, no-store"})
