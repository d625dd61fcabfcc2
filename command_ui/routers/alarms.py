"""Alarm management: shelving noisy sources, a school's drill mode, the live alarm board and the alarm-health report.

Shelves and drill modes are set by school admins and officers for schools in their scope, with a reason and a
bounded duration, and audited; they end by themselves (the alert stage stamps and audits that). The board says
what a person on shift needs at a glance: floods (more than 10 new alarms in 10 minutes, for one school or for
everything the caller answers), grouped with the critical ones on top, and alarms open over 24 hours as stale.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Annotated, Any

import psycopg
from fastapi import APIRouter, Depends, HTTPException, Query, status
from pydantic import BaseModel, ConfigDict, Field

from alerts import alarm_health
from alerts.shelving import MAX_DRILL_MODE, MAX_SHELF, ShelfRefused, check_request
from command_ui.deps import ConnDep, CurrentUser, User, require
from command_ui.routers.reports import LONGEST, ReportReader
from command_ui.schemas import Instant, RowId
from domain.alarms import DrillMode, Shelf
from domain.audit import AuditRecord
from domain.incident import Severity
from store import alarm_repo, audit_repo, queries

router = APIRouter(prefix="/api/v1/alarms", tags=["alarms"])

MANAGE_ALARMS = frozenset({"school_admin", "district_officer", "district_admin", "admin"})
"""Who shelves sources and puts schools in drill mode: never a guard alone on shift."""
AlarmManager = Annotated[User, Depends(require(MANAGE_ALARMS, "shelve alarms or start drill mode"))]
_SEVERITY_RANK = {s.value: rank for rank, s in enumerate(sorted(Severity, reverse=True))}


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ShelfIn(BaseModel):
    """Shelve one source of one school for a while."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    school_id: Annotated[str, Field(min_length=1, max_length=64)]
    source_id: Annotated[str, Field(min_length=1, max_length=128, description="Device, camera, bus or person id.")]
    type: Annotated[str | None, Field(max_length=64, description="One incident type only; none: every type.")] = None
    minutes: Annotated[int, Field(ge=1, le=int(MAX_SHELF.total_seconds() // 60))]
    reason: Annotated[str, Field(min_length=1, max_length=500)]


class ShelfOut(_Out):
    """A shelf, active or past."""

    id: int
    school_id: str
    source_id: str
    type: str | None
    reason: str
    shelved_by: str
    shelved_at: dt.datetime
    until: dt.datetime
    suppressed: int = Field(description="Signals it silenced so far.")
    ended_at: dt.datetime | None
    ended_by: str | None
    active: bool


class DrillModeIn(BaseModel):
    """Put a school in drill mode for a while."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    minutes: Annotated[int, Field(ge=1, le=int(MAX_DRILL_MODE.total_seconds() // 60))]
    reason: Annotated[str, Field(min_length=1, max_length=500)]


class DrillModeOut(_Out):
    """A school's drill mode."""

    id: int
    school_id: str
    reason: str
    started_by: str
    started_at: dt.datetime
    until: dt.datetime
    ended_at: dt.datetime | None
    ended_by: str | None


def _shelf_out(shelf: Shelf, now: dt.datetime) -> ShelfOut:
    return ShelfOut(id=shelf.id, school_id=shelf.school_id, source_id=shelf.source_id, type=shelf.type,
                    reason=shelf.reason, shelved_by=shelf.shelved_by, shelved_at=shelf.shelved_at, until=shelf.until,
                    suppressed=shelf.suppressed, ended_at=shelf.ended_at, ended_by=shelf.ended_by,
                    active=shelf.active(now))


def _drill_out(mode: DrillMode) -> DrillModeOut:
    return DrillModeOut(id=mode.id, school_id=mode.school_id, reason=mode.reason, started_by=mode.started_by,
                        started_at=mode.started_at, until=mode.until, ended_at=mode.ended_at, ended_by=mode.ended_by)


def _check_school(conn: psycopg.Connection, user: User, school_id: str) -> None:
    # A school of another district and one that does not exist answer alike: the error tells nobody which ids
    # exist outside their scope.
    if not _in_scope(conn, user, school_id):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=f"you may not manage alarms of school {school_id!r}")


def _in_scope(conn: psycopg.Connection, user: User, school_id: str) -> bool:
    path = queries.unit_path(conn, school_id)
    return path is not None and user.sees(path)


# --- shelves --------------------------------------------------------------------------------------------------

@router.get("/shelves")
def list_shelves(conn: ConnDep, user: CurrentUser,
                 days: Annotated[int, Query(ge=0, le=90, description="Also those ended this many days ago.")] = 7,
                 ) -> list[ShelfOut]:
    """Shelves of the schools in scope: active ones and those ended in the last ``days``."""
    now = dt.datetime.now(dt.UTC)
    return [_shelf_out(s, now) for s in alarm_repo.shelves_in_scope(conn, user.scope_path,
                                                                   now - dt.timedelta(days=days))]


@router.post("/shelves", status_code=status.HTTP_201_CREATED)
def shelve(body: ShelfIn, conn: ConnDep, user: AlarmManager) -> ShelfOut:
    """Shelve a source: its signals are kept but not alerted until it expires; panics are never shelved."""
    _check_school(conn, user, body.school_id)
    try:
        check_request(body.reason, dt.timedelta(minutes=body.minutes), MAX_SHELF, body.type)
    except ShelfRefused as refused:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(refused)) from None
    now = dt.datetime.now(dt.UTC)
    with conn.transaction():
        shelf = alarm_repo.add_shelf(conn, body.school_id, body.source_id, body.type, body.reason.strip(), user.id,
                                     now, now + dt.timedelta(minutes=body.minutes))
        audit_repo.append(conn, AuditRecord(now, user.id, "shelf.create", f"shelf:{shelf.id}", {
            "school_id": shelf.school_id, "source_id": shelf.source_id, "type": shelf.type, "reason": shelf.reason,
            "until": shelf.until.isoformat()}))
    return _shelf_out(shelf, now)


@router.delete("/shelves/{shelf_id}", status_code=status.HTTP_204_NO_CONTENT)
def unshelve(shelf_id: RowId, conn: ConnDep, user: AlarmManager) -> None:
    """End a shelf now: the source alerts again."""
    shelf = alarm_repo.get_shelf(conn, shelf_id)
    if shelf is None or not _in_scope(conn, user, shelf.school_id):  # another school's reads like none
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no shelf {shelf_id}")
    now = dt.datetime.now(dt.UTC)
    with conn.transaction():
        if not alarm_repo.end_shelf(conn, shelf_id, user.id, now):
            raise HTTPException(status.HTTP_409_CONFLICT, detail=f"shelf {shelf_id} has already ended")
        audit_repo.append(conn, AuditRecord(now, user.id, "shelf.end", f"shelf:{shelf_id}", {
            "school_id": shelf.school_id, "source_id": shelf.source_id, "suppressed": shelf.suppressed}))


# --- drill mode -----------------------------------------------------------------------------------------------

@router.get("/drill-mode")
def list_drill_modes(conn: ConnDep, user: CurrentUser) -> list[DrillModeOut]:
    """Schools in scope that are in drill mode now."""
    now = dt.datetime.now(dt.UTC)
    return [_drill_out(m) for m in alarm_repo.active_drill_modes(conn, now)
            if (path := queries.unit_path(conn, m.school_id)) is not None and user.sees(path)]


@router.put("/drill-mode/{school_id}", status_code=status.HTTP_201_CREATED)
def start_drill_mode(school_id: str, body: DrillModeIn, conn: ConnDep, user: AlarmManager) -> DrillModeOut:
    """Put a school in drill mode: what it raises meanwhile is marked as a drill (and still notified, marked)."""
    _check_school(conn, user, school_id)
    try:
        check_request(body.reason, dt.timedelta(minutes=body.minutes), MAX_DRILL_MODE)
    except ShelfRefused as refused:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(refused)) from None
    now = dt.datetime.now(dt.UTC)
    with conn.transaction():
        if alarm_repo.active_drill_modes(conn, now, school_id):
            raise HTTPException(status.HTTP_409_CONFLICT, detail=f"school {school_id!r} is already in drill mode")
        mode = alarm_repo.start_drill_mode(conn, school_id, body.reason.strip(), user.id, now,
                                           now + dt.timedelta(minutes=body.minutes))
        audit_repo.append(conn, AuditRecord(now, user.id, "drill_mode.start", f"school:{school_id}", {
            "reason": mode.reason, "until": mode.until.isoformat()}))
    return _drill_out(mode)


@router.delete("/drill-mode/{school_id}", status_code=status.HTTP_204_NO_CONTENT)
def end_drill_mode(school_id: str, conn: ConnDep, user: AlarmManager) -> None:
    """End a school's drill mode now."""
    _check_school(conn, user, school_id)
    now = dt.datetime.now(dt.UTC)
    with conn.transaction():
        if alarm_repo.end_drill_mode(conn, school_id, user.id, now) is None:
            raise HTTPException(status.HTTP_409_CONFLICT, detail=f"school {school_id!r} is not in drill mode")
        audit_repo.append(conn, AuditRecord(now, user.id, "drill_mode.end", f"school:{school_id}"))


# --- the board ------------------------------------------------------------------------------------------------

class BoardIncidentOut(_Out):
    """An open incident with the alarm-management flags."""

    id: int
    school_id: str
    type: str
    severity: str
    status: str
    title: str = Field(description="The title in English.")
    title_key: str | None = Field(default=None, description="The title as a message key the pages translate.")
    title_params: dict[str, str] = Field(default_factory=dict, description="The title key's values.")
    source_name: str | None = Field(default=None, description="Display name of the source that first reported it.")
    raised_at: dt.datetime
    cleared_at: dt.datetime | None
    drill: bool
    stale: bool = Field(description="Open for more than 24 hours.")
    chattering: bool = Field(description="Its condition toggled 3 times within a minute (one incident, counted).")
    toggles: int
    occurrences: int


class BoardGroupOut(_Out):
    """Open incidents of one school and type, for a flood: one line instead of many."""

    school_id: str
    type: str
    severity: str = Field(description="The most urgent among them.")
    count: int
    incident_ids: list[int]
    drill: bool


class SchoolLoadOut(_Out):
    """A school's alarms in the last 10 minutes."""

    school_id: str
    recent: int
    flood: bool


class BoardOut(_Out):
    """What is open in the caller's scope, flood and stale flags included."""

    at: dt.datetime
    flood: bool = Field(description="More than 10 new alarms in 10 minutes for everything the caller answers.")
    recent: int = Field(description="Real alarms raised in the last 10 minutes in the caller's scope.")
    schools: list[SchoolLoadOut]
    groups: list[BoardGroupOut] = Field(description="Open incidents grouped by school and type, critical first.")
    incidents: list[BoardIncidentOut] = Field(description="Open incidents, critical first, newest first; drills last.")
    stale: list[int]


@router.get("/board")
def board(conn: ConnDep, user: CurrentUser) -> BoardOut:
    """Show the caller's live alarm board: floods grouped, critical ones on top, stale alarms listed."""
    now = dt.datetime.now(dt.UTC)
    rows = alarm_repo.board_rows(conn, user.scope_path, now, alarm_health.FLOOD_WINDOW)
    real = [r["raised_at"] for r in rows if not r["drill"]]
    by_school: dict[str, list[dt.datetime]] = defaultdict(list)
    for r in rows:
        if not r["drill"]:
            by_school[r["school_id"]].append(r["raised_at"])
    open_ = sorted((r for r in rows if r["status"] not in ("resolved", "closed")),
                   key=lambda r: (r["drill"], _SEVERITY_RANK.get(r["severity"], 9), -r["raised_at"].timestamp()))
    incidents = [BoardIncidentOut(
        id=r["id"], school_id=r["school_id"], type=r["type"], severity=r["severity"], status=r["status"],
        title=r["title"], title_key=r["title_key"], title_params=r["title_params"], source_name=r["source_name"],
        raised_at=r["raised_at"], cleared_at=r["cleared_at"], drill=r["drill"],
        stale=alarm_health.is_stale(r["raised_at"], now), chattering=r["chattering"],
        toggles=r["toggles"], occurrences=r["occurrences"]) for r in open_]
    # Drills group apart and sort last: never mixed with real alarms.
    grouped: dict[tuple[bool, str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in open_:
        grouped[(r["drill"], r["school_id"], r["type"])].append(r)
    groups = sorted((BoardGroupOut(school_id=school, type=kind, severity=members[0]["severity"], count=len(members),
                                   incident_ids=[m["id"] for m in members], drill=drill)
                     for (drill, school, kind), members in grouped.items()),
                    key=lambda g: (g.drill, _SEVERITY_RANK.get(g.severity, 9), -g.count))
    recent = sum(1 for t in real if now - alarm_health.FLOOD_WINDOW < t <= now)
    return BoardOut(
        at=now, flood=alarm_health.in_flood(real, now) > 0, recent=recent,
        schools=[SchoolLoadOut(school_id=s, recent=sum(1 for t in ts if now - alarm_health.FLOOD_WINDOW < t <= now),
                               flood=alarm_health.in_flood(ts, now) > 0) for s, ts in sorted(by_school.items())],
        groups=groups, incidents=incidents, stale=[i.id for i in incidents if i.stale])


# --- the alarm-health report ----------------------------------------------------------------------------------

class RankedOut(_Out):
    """A rule (incident type) or source and its alarms."""

    name: str
    alarms: int


class SchoolHealthOut(_Out):
    """One school's alarm health (definitions in docs/alerts.md)."""

    school_id: str
    alarms: int
    operators: int
    per_operator_hour: float
    load: str = Field(description="manageable (≤ 6 per operator-hour), demanding, overload (> 12).")
    flood_share: float = Field(description="Share of the period's 10-minute windows with more than 10 alarms.")
    peak_10min: int
    noisiest_types: list[RankedOut]
    noisiest_sources: list[RankedOut]
    false_alarm_ratio: float | None
    ack_p50_s: float | None
    ack_p90_s: float | None
    unacknowledged: int


class OperatorHealthOut(_Out):
    """One person's share of the alarms."""

    actor: str
    acknowledged: int
    per_hour: float
    load: str
    ack_p50_s: float | None
    ack_p90_s: float | None


class AlarmHealthOut(_Out):
    """Alarm health over a window, per school and per operator."""

    since: dt.datetime
    until: dt.datetime
    schools: list[SchoolHealthOut]
    operators: list[OperatorHealthOut]


@router.get("/health")
def alarm_health_report(
        conn: ConnDep, user: ReportReader,
        since: Annotated[Instant | None, Query(description="Start (default: 7 days before until).")] = None,
        until: Annotated[Instant | None, Query(description="End, exclusive (default: now).")] = None,
        school: Annotated[str | None, Query(max_length=64, description="One school only.")] = None,
) -> AlarmHealthOut:
    """Alarms per operator-hour, floods, the noisiest rules and sources, false alarms, time to acknowledge."""
    end = until or dt.datetime.now(dt.UTC)
    start = since or end - dt.timedelta(days=7)
    if start.tzinfo is None or end.tzinfo is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail="give times with a UTC offset")
    if not start < end or end - start > LONGEST:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            detail="since must be before until, at most 366 days apart")
    if school is not None:
        _check_school(conn, user, school)
    rows = [alarm_health.AlarmRow(r[0], r[1], r[2], r[3], tuple(r[4]), r[5], r[6], r[7], r[8], r[9])
            for r in alarm_repo.alarm_rows(conn, user.scope_path, start, end, school)]
    staff = alarm_repo.operators(conn, user.scope_path)
    return AlarmHealthOut(
        since=start, until=end,
        schools=[SchoolHealthOut(
            school_id=h.school_id, alarms=h.alarms, operators=h.operators, per_operator_hour=h.per_operator_hour,
            load=h.load, flood_share=h.flood_share, peak_10min=h.peak_10min,
            noisiest_types=[RankedOut(name=r.name, alarms=r.alarms) for r in h.noisiest_types],
            noisiest_sources=[RankedOut(name=r.name, alarms=r.alarms) for r in h.noisiest_sources],
            false_alarm_ratio=h.false_alarm_ratio, ack_p50_s=h.ack_p50_s, ack_p90_s=h.ack_p90_s,
            unacknowledged=h.unacknowledged) for h in alarm_health.school_health(rows, start, end, staff)],
        operators=[OperatorHealthOut(actor=o.actor, acknowledged=o.acknowledged, per_hour=o.per_hour, load=o.load,
                                     ack_p50_s=o.ack_p50_s, ack_p90_s=o.ack_p90_s)
                   for o in alarm_health.operator_health(rows, start, end)])
