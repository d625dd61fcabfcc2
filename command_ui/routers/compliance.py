"""The safety scorecard and the monthly bulletin (月度通报) of a unit's schools, for a month.

``GET /api/v1/reports/scorecard`` answers each school's criteria, score and rank (weakest first) with the units
of the tree rolled up; ``GET /api/v1/reports/bulletin`` the month's bulletin as HTML or PDF, in the reader's
language. Both for the report readers (``READ_REPORTS``: school admins, officers, admins, auditors), never for
guards or head teachers, and only for a unit inside the reader's own subtree. Making a bulletin is audited.

A month is read in the timezone most of the unit's schools keep (Beijing time in the example city).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from command_ui import bulletin, bulletin_archive
from command_ui.bulletin_text import Lang
from command_ui.deps import ConnDep, User
from command_ui.routers.reports import ReportReader
from command_ui.routers.video import video_settings
from domain.compliance import CRITERIA, Criterion, Status, rollup
from store import compliance_repo
from store.auth_repo import account

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])

MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class JudgementOut(_Out):
    """One criterion of one school."""

    criterion: Criterion
    measured: float | None = Field(description="What was measured (guards, rounds a day, areas watched, days "
                                   "kept, share of alarms online, p90 seconds to acknowledge); null: none.")
    target: float | None = Field(description="What is asked.")
    share: float | None = Field(description="Share met, 0..1; null where the criterion does not apply.")
    status: Status


class SchoolCardOut(_Out):
    """One school's scorecard."""

    school_id: str
    name: str
    score: float = Field(description="Mean share met of the criteria that apply, 0-100.")
    rank: int = Field(description="1 is best; equal scores share a rank.")
    rectify: bool = Field(description="Needs rectification (整改): a criterion failed or the score is under 60.")
    criteria: list[JudgementOut]


class UnitOut(_Out):
    """A unit of the tree over its schools."""

    unit_id: str
    name: str
    kind: str
    schools: int
    score: float | None
    rectify: int


class ScorecardOut(_Out):
    """The scorecard of a unit's schools for a month, weakest school first, weakest unit first."""

    unit_id: str
    unit_name: str
    month: str
    timezone: str
    since: dt.datetime
    until: dt.datetime
    criteria: list[Criterion]
    schools: list[SchoolCardOut]
    units: list[UnitOut]


Unit = Annotated[str | None, Query(description="Organisation unit id (city, county, township or school); "
                                   "the reader's own unit by default.")]
Month = Annotated[str | None, Query(description="YYYY-MM; the scorecard defaults to this month, the bulletin to "
                                    "the last.")]


def _month(text: str | None, zone: ZoneInfo, now: dt.datetime, back: int) -> tuple[str, dt.datetime, dt.datetime]:
    """Give a month's name and its [start, end) in ``zone``; no month: this one, ``back`` months back."""
    if text is None:
        local = now.astimezone(zone)
        year, month = local.year, local.month - back
        if month < 1:
            year, month = year - 1, month + 12
    else:
        found = MONTH.match(text)
        if not found:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail="month is YYYY-MM")
        year, month = int(found.group(1)), int(found.group(2))
    if not 2000 <= year <= 2100:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail="month is out of range")
    start = dt.datetime(year, month, 1, tzinfo=zone)
    end = dt.datetime(year + month // 12, month % 12 + 1, 1, tzinfo=zone)
    return f"{year:04d}-{month:02d}", start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def find_unit(conn: ConnDep, user: User, unit_id: str | None) -> compliance_repo.UnitRow:
    """Find the unit asked for, if the reader's subtree holds it; 404 for one outside it, as for one that is not."""
    if unit_id is None:
        # The reader's own unit: the top of their subtree (the built-in admin's is the whole tree's root unit).
        own = user.scope_path.rstrip("/").rsplit("/", 1)[-1]
        tops = compliance_repo.units(conn, user.scope_path)[:1] if not own else []
        unit_id = own or (tops[0].id if tops else "")
    found = compliance_repo.unit(conn, unit_id) if unit_id else None
    if found is None or not user.sees(found.path):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no such unit in your part of the organisation")
    return found


def _records(request: Request, conn: ConnDep, unit: compliance_repo.UnitRow, start: dt.datetime,
             end: dt.datetime, now: dt.datetime) -> list[compliance_repo.SchoolRecord]:
    video = video_settings(request.app)
    return compliance_repo.school_records(
        conn, unit.path, start, end, now,
        lambda camera: video.camera_retention_days.get(camera, video.retention_days))


def _zone(conn: ConnDep, unit: compliance_repo.UnitRow) -> ZoneInfo:
    return ZoneInfo(compliance_repo.scope_zone(conn, unit.path) or "UTC")


@router.get("/scorecard")
def scorecard(request: Request, conn: ConnDep, user: ReportReader, unit: Unit = None,
              month: Month = None) -> ScorecardOut:
    """Each school's safety scorecard for a month (GB/T 29315 and the bureaus' criteria), weakest first."""
    found = find_unit(conn, user, unit)
    zone = _zone(conn, found)
    now = dt.datetime.now(dt.UTC)
    name, start, end = _month(month, zone, now, back=0)
    cards = bulletin.cards_of(_records(request, conn, found, start, end, now))
    tree = compliance_repo.units(conn, found.path)
    names = {u.path: u for u in tree}
    return ScorecardOut(
        unit_id=found.id, unit_name=found.name, month=name, timezone=str(zone), since=start, until=end,
        criteria=list(CRITERIA),
        schools=[SchoolCardOut(school_id=c.school_id, name=c.name, score=c.score, rank=c.rank, rectify=c.rectify,
                               criteria=[JudgementOut(criterion=j.criterion, measured=j.measured, target=j.target,
                                                      share=j.share, status=j.status) for j in c.judgements])
                 for c in cards],
        units=[UnitOut(unit_id=r.unit_id, name=names[r.path].name, kind=names[r.path].kind, schools=r.schools,
                       score=r.score, rectify=r.rectify)
               for r in rollup(cards, {u.id: u.path for u in tree})])


@router.get("/bulletin", response_class=Response,
            responses={200: {"content": {"text/html": {}, "application/pdf": {}},
                             "description": "The bulletin as HTML or PDF."}})
def monthly_bulletin(request: Request, conn: ConnDep, user: ReportReader, unit: Unit = None, month: Month = None,
                     format: Annotated[Literal["html", "pdf"], Query(description="html or pdf.")] = "html",
                     lang: Annotated[Lang | None, Query(description="en or zh-CN; the reader's own by default.")]
                     = None) -> Response:
    """Make the monthly bulletin of a unit's schools: ranked, compared with last month, rectification first.

    Made for reading, audited, and not archived: a GET changes nothing else (a reload, a link followed from
    elsewhere); the archive keeps the scheduled bulletin of each ended month (command_ui/bulletin_archive.py).
    """
    found = find_unit(conn, user, unit)
    now = dt.datetime.now(dt.UTC)
    name, _, _ = _month(month, _zone(conn, found), now, back=1)
    reader = account(conn, user.id)
    language: Lang = lang or ("zh-CN" if reader is not None and reader.locale == "zh-CN" else "en")
    made = bulletin_archive.make(conn, video_settings(request.app), found, name, now, language, format, user.id)
    body = made.body
    with conn.transaction():
        bulletin_archive.audit_made(conn, made, now, user.id, None)
    filename = f"bulletin-{found.id}-{name}.{format}"
    if format == "html":
        return HTMLResponse(body, headers={"Content-Disposition": f'inline; filename="{filename}"'})
    return Response(body, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
