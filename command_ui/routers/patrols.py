"""Guard patrols: a guard's scan of a signed checkpoint code, a school's rounds of a day, and the codes to print.

Who may do what: only a guard or school admin of the checkpoint's own school scans it (an officer above the
school reads the rounds but walks no patrol); anyone whose scope holds the school reads its rounds; a school
admin (or an admin above the school) prints and rotates its codes. Every scan, refused scan and rotation is
audited. Refusals say why as message keys (``patrol.refused.*``) the guard's page shows in their language.
The counting rules are :mod:`alerts.patrols`; the signatures :mod:`alerts.patrol_codes`.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

import psycopg
import segno
from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from alerts import patrol_codes
from alerts.patrols import Spot, judge_scan, report, round_at, rounds_of_day, tally
from command_ui.deps import ConnDep, CurrentUser, SettingsDep, User, session_key
from domain.audit import AuditRecord
from store import audit_repo, patrol_repo
from store.patrol_repo import CheckpointRow, ScanIn

router = APIRouter(prefix="/api/v1", tags=["patrols"])
SCANNERS = frozenset({"guard", "school_admin"})
CODE_KEEPERS = frozenset({"school_admin", "district_admin", "admin"})


class CodeIn(BaseModel):
    """What a checkpoint's code holds: its id, key version and signature."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    checkpoint: Annotated[str, Field(min_length=1, max_length=64)]
    version: Annotated[int, Field(ge=1, le=1_000_000)]
    signature: Annotated[str, Field(min_length=1, max_length=64)]


class ScanBody(CodeIn):
    """A guard's scan: the code, and where the phone was and what its clock said."""

    lon: Annotated[float | None, Field(ge=-180, le=180)] = None
    lat: Annotated[float | None, Field(ge=-90, le=90)] = None
    accuracy_m: Annotated[float | None, Field(ge=0, le=100_000)] = None
    device_time: dt.datetime | None = None


class CheckpointOut(BaseModel):
    """A checkpoint as its confirmation screen shows it."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    school_id: str
    needs_position: bool


class ScanOut(BaseModel):
    """What became of a scan: counted or why not, in which round, and how far that round has come."""

    model_config = ConfigDict(frozen=True)

    id: int
    checkpoint_id: str
    checkpoint_name: str
    counted: bool
    reason: Annotated[str, Field(description="counted, repeat, no_position or too_far.")]
    round: str
    round_date: dt.date
    visited: int
    planned: int


class RoundOut(BaseModel):
    """One round of a day and its status at the time of asking."""

    model_config = ConfigDict(frozen=True)

    round: str
    start: dt.datetime
    deadline: dt.datetime
    status: Literal["upcoming", "open", "done", "late", "overdue", "missed"]
    completed_at: dt.datetime | None
    visited: list[str]
    checkpoints: list[str]


class DayOut(BaseModel):
    """A school's rounds of one local day with the scorecard's figures."""

    model_config = ConfigDict(frozen=True)

    school_id: str
    date: dt.date
    timezone: str
    planned: int
    done: int
    late: int
    missed: int
    open: int
    rounds: list[RoundOut]


class CodeOut(BaseModel):
    """A checkpoint's printable code: the URL it holds and where its QR image is."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    version: int
    url: str
    qr: str


class RotatedOut(BaseModel):
    """A rotated checkpoint's new key version."""

    model_config = ConfigDict(frozen=True)

    id: str
    version: int


def _refuse(conn: psycopg.Connection, user: User, code: CodeIn, why: str, http: int) -> HTTPException:
    with conn.transaction():
        audit_repo.append(conn, AuditRecord(dt.datetime.now(dt.UTC), user.id, "patrol.scan_refused",
                                            f"checkpoint:{code.checkpoint}", {"why": why, "version": code.version}))
    return HTTPException(http, detail=f"patrol.refused.{why}")


def _checked(conn: psycopg.Connection, settings: SettingsDep, user: User, code: CodeIn) -> CheckpointRow:
    """Return the checkpoint a validly signed code names, if the caller may scan it; refusals audited."""
    point = patrol_repo.checkpoint(conn, code.checkpoint)
    verdict = patrol_codes.verify(session_key(settings), code.checkpoint, code.version, code.signature,
                                  point.key_version if point else 0)
    if point is None or verdict == "forged":
        raise _refuse(conn, user, code, "forged", status.HTTP_403_FORBIDDEN)
    if verdict == "rotated":
        raise _refuse(conn, user, code, "rotated", status.HTTP_403_FORBIDDEN)
    if user.role not in SCANNERS or not user.sees(point.school_path):
        raise _refuse(conn, user, code, "other_school", status.HTTP_403_FORBIDDEN)
    return point


@router.get("/patrols/checkpoint")
def read_checkpoint(conn: ConnDep, settings: SettingsDep, user: CurrentUser,
                    c: Annotated[str, Query(min_length=1, max_length=64)],
                    v: Annotated[int, Query(ge=1, le=1_000_000)],
                    s: Annotated[str, Query(min_length=1, max_length=64)]) -> CheckpointOut:
    """Name the checkpoint a scanned code holds, for the guard to confirm (refused like the scan itself)."""
    point = _checked(conn, settings, user, CodeIn(checkpoint=c, version=v, signature=s))
    return CheckpointOut(id=point.id, name=point.name, school_id=point.school_id,
                         needs_position=point.radius_m is not None and point.lon is not None)


@router.post("/patrols/scans", status_code=status.HTTP_201_CREATED)
def scan(body: ScanBody, conn: ConnDep, settings: SettingsDep, user: CurrentUser) -> ScanOut:
    """Record a guard's scan, counted or with why not (the rules: alerts/patrols.py); audited."""
    point = _checked(conn, settings, user, body)
    now = dt.datetime.now(dt.UTC)
    school = patrol_repo.school_patrol(conn, point.school_id)
    if school is None:
        raise HTTPException(status.HTTP_409_CONFLICT, detail="patrol.refused.no_plan")
    if body.device_time is not None and body.device_time.tzinfo is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail="device_time needs a UTC offset")
    zone = ZoneInfo(school.timezone)
    round_ = round_at(school.school_id, school.plan, zone, now, [c.id for c in school.checkpoints])
    position = (body.lon, body.lat) if body.lon is not None and body.lat is not None else None
    with conn.transaction():
        counted_before = patrol_repo.already_counted(conn, point.id, round_.start)
        judged = judge_scan(Spot(point.id, point.lon, point.lat, point.radius_m), position, counted_before)
        scan_id, reason = patrol_repo.record_scan(conn, ScanIn(
            point.id, point.school_id, user.id, round_.start, now, body.device_time, body.lon, body.lat,
            body.accuracy_m), judged)
        audit_repo.append(conn, AuditRecord(now, user.id, "patrol.scan", f"checkpoint:{point.id}", {
            "scan": scan_id, "school_id": point.school_id, "round": round_.start.isoformat(), "reason": reason,
            "lon": body.lon, "lat": body.lat}))
    counted = patrol_repo.counted_scans(conn, school.school_id, round_.start, round_.start + dt.timedelta(seconds=1))
    state = report(round_, counted.get(round_.start, {}), now)
    return ScanOut(id=scan_id, checkpoint_id=point.id, checkpoint_name=point.name, counted=reason == "counted",
                   reason=reason, round=round_.label, round_date=round_.local_date,
                   visited=len(state.visited), planned=len(round_.checkpoints))


def _school_in_scope(conn: psycopg.Connection, user: User, school_id: str) -> None:
    path = patrol_repo.school_path(conn, school_id)
    if path is None or not user.sees(path):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no school {school_id!r} in your scope")


@router.get("/schools/{school_id}/patrols")
def rounds_of_a_day(school_id: str, conn: ConnDep, user: CurrentUser,
                    date: Annotated[dt.date | None, Query(description="Local date; default today there.",
                                                          ge=dt.date(2000, 1, 1), le=dt.date(2199, 12, 31))] = None,
                    ) -> DayOut:
    """List a school's rounds of one local day: planned, done on time, late, missed (overdue included) and open."""
    _school_in_scope(conn, user, school_id)
    school = patrol_repo.school_patrol(conn, school_id)
    if school is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"school {school_id!r} has no patrol plan")
    now = dt.datetime.now(dt.UTC)
    zone = ZoneInfo(school.timezone)
    day = date or now.astimezone(zone).date()
    rounds = rounds_of_day(school_id, school.plan, zone, day, [c.id for c in school.checkpoints])
    scans = patrol_repo.counted_scans(conn, school_id, rounds[0].start, rounds[-1].close)
    reports = [report(r, scans.get(r.start, {}), now) for r in rounds]
    figures = tally(reports)
    return DayOut(school_id=school_id, date=day, timezone=school.timezone, planned=figures.planned,
                  done=figures.done, late=figures.late, missed=figures.missed, open=figures.open,
                  rounds=[RoundOut(round=r.round.label, start=r.round.start, deadline=r.round.deadline,
                                   status=r.status, completed_at=r.completed_at, visited=list(r.visited),
                                   checkpoints=list(r.round.checkpoints)) for r in reports])


def _keeper(conn: psycopg.Connection, user: User, school_id: str) -> None:
    _school_in_scope(conn, user, school_id)
    if user.role not in CODE_KEEPERS:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=f"a {user.role} may not manage checkpoint codes")


@router.get("/schools/{school_id}/patrols/codes")
def codes(school_id: str, request: Request, conn: ConnDep, settings: SettingsDep, user: CurrentUser,
          ) -> list[CodeOut]:
    """List the school's checkpoints with the URL each code holds, for the printable page."""
    _keeper(conn, user, school_id)
    base = str(request.base_url).rstrip("/")
    key = session_key(settings)
    return [CodeOut(id=c.id, name=c.name, version=c.key_version,
                    url=base + patrol_codes.scan_path(key, c.id, c.key_version),
                    qr=f"/api/v1/patrols/checkpoints/{c.id}/qr.svg")
            for c in patrol_repo.school_checkpoints(conn, school_id)]


@router.get("/patrols/checkpoints/{checkpoint_id}/qr.svg", response_class=Response,
            responses={200: {"content": {"image/svg+xml": {}}}})
def qr_code(checkpoint_id: str, request: Request, conn: ConnDep, settings: SettingsDep,
            user: CurrentUser) -> Response:
    """Draw the checkpoint's QR code as SVG (segno), holding its signed URL at the current key version."""
    point = patrol_repo.checkpoint(conn, checkpoint_id)
    if point is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no checkpoint {checkpoint_id!r}")
    _keeper(conn, user, point.school_id)
    url = str(request.base_url).rstrip("/") + patrol_codes.scan_path(session_key(settings), point.id,
                                                                       point.key_version)
    out = io.BytesIO()
    # Level M survives a scuffed sticker on a gatepost; the quiet zone is part of the image.
    segno.make(url, error="m").save(out, kind="svg", scale=6, xmldecl=False, title=point.name)
    return Response(out.getvalue(), media_type="image/svg+xml",
                    headers={"Cache-Control": "no-store"})


@router.post("/patrols/checkpoints/{checkpoint_id}/rotate")
def rotate(checkpoint_id: str, conn: ConnDep, user: CurrentUser) -> RotatedOut:
    """Give the checkpoint a new key: its printed codes stop counting until reprinted; audited."""
    point = patrol_repo.checkpoint(conn, checkpoint_id)
    if point is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no checkpoint {checkpoint_id!r}")
    _keeper(conn, user, point.school_id)
    now = dt.datetime.now(dt.UTC)
    with conn.transaction():
        version = patrol_repo.rotate(conn, checkpoint_id, now)
        audit_repo.append(conn, AuditRecord(now, user.id, "patrol.rotate", f"checkpoint:{checkpoint_id}", {
            "school_id": point.school_id, "version": version}))
    return RotatedOut(id=checkpoint_id, version=version)
