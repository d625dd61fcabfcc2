"""The archive of monthly bulletins (月度通报): the list of those kept for a unit, and each one's bytes.

``GET /api/v1/reports/bulletins`` lists the archived bulletins of a unit and the units under it (the city's
lists its counties' too), newest month first; ``GET /api/v1/reports/bulletins/{id}`` hands one back exactly as it
was archived, with its SHA-256, and audits the reading. For the report readers (``READ_REPORTS``) only, and only
for a unit inside the reader's own subtree: a county officer sees their county's, never the city's, whose
bulletin ranks other counties' schools. Bulletins are made by the monthly job (command_ui/bulletin_archive.py)
and on demand (routers/compliance.py).
"""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, HTTPException, status
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from command_ui.deps import ConnDep
from command_ui.routers.compliance import Unit, find_unit
from command_ui.routers.reports import ReportReader
from domain.audit import AuditRecord
from store import audit_repo, bulletin_repo

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])

MEDIA = {"html": "text/html; charset=utf-8", "pdf": "application/pdf"}


class ArchivedOut(BaseModel):
    """One archived bulletin, without its bytes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: int
    unit_id: str
    unit_name: str
    month: str = Field(description="YYYY-MM, read in the timezone most of the unit's schools keep.")
    lang: str
    format: str
    version: int = Field(description="1 for the first made of its unit, month, language and format.")
    scheduled: bool = Field(description="Made by the monthly job (true) or on demand by a person (false).")
    size: int = Field(description="Bytes.")
    sha256: str = Field(description="Hex SHA-256 of the bytes, to check a copy against.")
    generated_at: dt.datetime
    generated_by: str = Field(description="The person's id, or 'scheduler'.")
    url: str


@router.get("/bulletins")
def archived_bulletins(conn: ConnDep, user: ReportReader, unit: Unit = None) -> list[ArchivedOut]:
    """List the archived bulletins of a unit and the units under it, newest month first."""
    found = find_unit(conn, user, unit)
    return [ArchivedOut(id=b.id, unit_id=b.unit_id, unit_name=b.unit_name, month=b.month, lang=b.lang,
                        format=b.format, version=b.version, scheduled=b.scheduled, size=b.size, sha256=b.sha256,
                        generated_at=b.generated_at, generated_by=b.generated_by,
                        url=f"/api/v1/reports/bulletins/{b.id}")
            for b in bulletin_repo.listed(conn, found.path)]


@router.get("/bulletins/{bulletin_id}", response_class=Response,
            responses={200: {"content": {"text/html": {}, "application/pdf": {}},
                             "description": "The archived bulletin, byte for byte."}})
def archived_bulletin(conn: ConnDep, user: ReportReader, bulletin_id: int) -> Response:
    """Hand back one archived bulletin as it was made; the reading is audited."""
    found = bulletin_repo.fetch(conn, bulletin_id)
    if found is None or not user.sees(found.path):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no such bulletin in your part of the organisation")
    meta = found.meta
    audit_repo.append(conn, AuditRecord(dt.datetime.now(dt.UTC), user.id, "report.bulletin.read",
                                        f"unit:{meta.unit_id}", {"archive_id": meta.id, "month": meta.month,
                                                                 "lang": meta.lang, "format": meta.format,
                                                                 "sha256": meta.sha256}))
    filename = f"bulletin-{meta.unit_id}-{meta.month}-{meta.lang}-v{meta.version}.{meta.format}"
    disposition = "inline" if meta.format == "html" else "attachment"
    return Response(found.body, media_type=MEDIA[meta.format],
                    headers={"Content-Disposition": f'{disposition}; filename="{filename}"',
                             "X-Content-SHA256": meta.sha256})
