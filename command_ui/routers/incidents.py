"""Incidents: search and page through them, export them, read one with its timeline, move them along.

A move records who made it, when, from which address and with what note, in one transaction with its audit
record (see ``alerts.service.act``); a move the lifecycle refuses answers 409 with the reason.
"""

from __future__ import annotations

import base64
import csv
import io
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from fastapi.responses import StreamingResponse
from psycopg_pool import ConnectionPool
from pydantic import BaseModel, ConfigDict, Field

from alerts.lifecycle import Action, InvalidTransition
from alerts.service import act, seen
from command_ui.deps import SEE_FACES, ConnDep, CurrentUser, IncidentActor
from command_ui.messages import timeline_message
from command_ui.routers.reports import ReportReader
from command_ui.schemas import Instant, RowId
from domain.incident import Outcome, Severity, Status
from store import case_file_repo, queries

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"])
CHUNK_ROWS = 500  # rows per chunk of the streamed CSV

class ActionIn(BaseModel):
    """A move on an incident."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    action: Annotated[Action, Field(description="acknowledge, respond, resolve, close or reopen.")]
    note: Annotated[str | None, Field(max_length=2000, description="Why; required for false alarms.")] = None
    outcome: Annotated[Outcome | None, Field(description="With resolve: real, false_alarm or drill.")] = None


class IncidentOut(BaseModel):
    """An incident as lists show it (its timeline and evidence come with ``GET /incidents/{id}``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: int
    school_id: str
    type: str
    severity: Severity
    status: Status
    outcome: Outcome | None
    title: str = Field(description="The title in English, as notifiers and the CSV carry it.")
    title_key: str | None = Field(description="The title as a message key the pages translate "
                                  "(incident.title.panic); None: show `title`.")
    title_params: dict[str, str] = Field(description="The values the title key's message is filled with.")
    source_name: str | None = Field(description="Display name of the device, camera or bus that first reported "
                                    "it, for a title's {source_id}; None when the site file names none.")
    lon: float | None
    lat: float | None
    occurrences: int
    opened_at: datetime
    updated_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    escalation_level: int
    raised_at: datetime = Field(description="When the alert stage raised it (server time): staleness runs from it.")
    cleared_at: datetime | None = Field(description="When its condition returned to normal; None while it holds.")
    drill: bool = Field(description="Raised by a drill or while its school was in drill mode.")
    toggles: int = Field(description="Times its condition cleared or came back.")
    chattering: bool = Field(description="Its last 3 toggles fell within a minute (ISA-18.2 chattering).")


def incident_filter(
    status_in: Annotated[list[Status] | None, Query(alias="status", description="Any of these statuses.")] = None,
    school: Annotated[list[str] | None, Query(description="Any of these schools (ids).")] = None,
    incident_type: Annotated[list[str] | None, Query(alias="type", description="Any of these types.")] = None,
    severity: Annotated[list[Severity] | None, Query(description="Any of these severities.")] = None,
    outcome: Annotated[list[Outcome] | None, Query(description="Any of these outcomes.")] = None,
    since: Annotated[Instant | None, Query(description="Opened at or after (ISO 8601 with offset).")] = None,
    until: Annotated[Instant | None, Query(description="Opened before (ISO 8601 with offset).")] = None,
) -> queries.IncidentFilter:
    """Read a history search from the query string; every filter is repeatable and optional."""
    return queries.IncidentFilter(
        schools=tuple(school or ()), types=tuple(incident_type or ()),
        severities=tuple(s.value for s in severity or ()), statuses=tuple(s.value for s in status_in or ()),
        outcomes=tuple(o.value for o in outcome or ()), since=since, until=until)


FilterDep = Annotated[queries.IncidentFilter, Depends(incident_filter)]

_PAGE_HEADERS = {
    "X-Total-Count": {"description": "How many incidents match the filters in all pages; on the first page only "
                      "(no cursor), and only when at most 10,000 match.", "schema": {"type": "integer"}},
    "X-Total-Count-At-Least": {"description": "Sent instead of X-Total-Count when more than 10,000 match: the "
                               "filters should be narrowed.", "schema": {"type": "integer"}},
    "Link": {"description": 'The next page, as `<url>; rel="next"` (RFC 8288); absent on the last page.',
             "schema": {"type": "string"}},
}


@router.get("", response_model=list[IncidentOut], responses={200: {"headers": _PAGE_HEADERS}})
def list_incidents(
    request: Request, response: Response, conn: ConnDep, user: CurrentUser, found: FilterDep,
    limit: Annotated[int, Query(ge=1, le=500, description="Incidents per page.")] = 100,
    cursor: Annotated[str | None, Query(description="Where the page starts: the Link header's cursor.")] = None,
) -> list[dict[str, Any]]:
    """Newest incidents first, in the caller's part of the organisation, one page at a time.

    Pages are keyset pages: follow the ``Link: <...>; rel="next"`` header (it carries an opaque ``cursor``)
    until there is none; the first page's ``X-Total-Count`` says how many match in all (or
    ``X-Total-Count-At-Least`` past 10,000). An incident opened while someone pages never shifts a page under them.
    """
    after = _decode_cursor(cursor) if cursor else None
    rows, total = queries.incident_page(conn, user.scope_path, found, limit, after)
    if total is not None:
        response.headers["X-Total-Count" if total.exact else "X-Total-Count-At-Least"] = str(total.count)
    if len(rows) == limit:
        last = rows[-1]
        following = request.url.include_query_params(cursor=_encode_cursor(last["opened_at"], last["id"]))
        response.headers["Link"] = f'<{following.path}?{following.query}>; rel="next"'
    return rows


@router.get("/export.csv", response_class=StreamingResponse,
            responses={200: {"content": {"text/csv": {}}, "description": "The matching incidents as CSV."}})
def export_incidents(request: Request, user: ReportReader, found: FilterDep) -> StreamingResponse:
    """Every incident matching the filters, newest first, as CSV (UTF-8 with BOM, times in UTC and local)."""
    return StreamingResponse(_csv_lines(_exported(request.app.state.pool, user.scope_path, found)),
                             media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": "attachment; filename=incidents.csv"})


def _exported(pool: ConnectionPool, scope_path: str, found: queries.IncidentFilter) -> Iterator[dict[str, Any]]:
    # A connection of the stream's own: the request's pooled one goes back when the handler returns, before the
    # body is sent. A city's year is hundreds of thousands of incidents: read through a server-side cursor as the
    # body goes out, memory stays flat. A client that goes away closes the generator, giving the connection back.
    with pool.connection() as conn:
        yield from queries.incidents_for_export(conn, scope_path, found)


_CSV_COLUMNS = ("id", "school_id", "school", "type", "severity", "status", "outcome", "title", "lon", "lat",
                "occurrences", "opened_at", "opened_local", "acknowledged_at", "resolved_at", "updated_at",
                "escalation_level", "raised_at", "cleared_at", "drill", "toggles", "chattering")


def _csv_lines(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    # A BOM so that spreadsheet programs read the UTF-8 (school names in Chinese) as UTF-8.
    out = io.StringIO()
    writer = csv.writer(out)
    out.write("\ufeff")
    writer.writerow(_CSV_COLUMNS)
    for n, row in enumerate(rows, start=1):
        opened = row["opened_at"]
        writer.writerow((
            row["id"], row["school_id"], _safe(row["school_name"]), row["type"], row["severity"], row["status"],
            row["outcome"] or "", _safe(row["title"]), row["lon"], row["lat"], row["occurrences"], _iso(opened),
            opened.astimezone(ZoneInfo(row["timezone"])).isoformat(), _iso(row["acknowledged_at"]),
            _iso(row["resolved_at"]), _iso(row["updated_at"]), row["escalation_level"], _iso(row["raised_at"]),
            _iso(row["cleared_at"]), str(row["drill"]).lower(), row["toggles"], str(row["chattering"]).lower()))
        if n % CHUNK_ROWS == 0:  # a chunk per few hundred rows, not per row: fewer, larger writes to the socket
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()


def _iso(moment: datetime | None) -> str:
    return moment.astimezone(UTC).isoformat() if moment else ""


def _safe(text: str) -> str:
    # A cell starting with = + - @ runs as a formula when the file is opened in a spreadsheet (CSV injection);
    # titles carry place names from the site file, so neutralise them.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _encode_cursor(opened_at: datetime, incident_id: int) -> str:
    return base64.urlsafe_b64encode(f"{opened_at.isoformat()}|{incident_id}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        opened, incident_id = text.rsplit("|", 1)
        moment = datetime.fromisoformat(opened)
        if moment.tzinfo is None:
            raise ValueError(opened)
        return moment, int(incident_id)
    except (ValueError, UnicodeDecodeError):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail="not a cursor from a Link header") from None


@router.get("/{incident_id}")
def read_incident(incident_id: RowId, conn: ConnDep, user: CurrentUser) -> dict[str, Any]:
    """One incident with its evidence, its timeline and every notification delivery."""
    incident = queries.incident_detail(conn, incident_id, user.scope_path)
    if incident is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no incident {incident_id}")
    return incident | {"timeline": [entry | timeline_message(entry["kind"], entry["actor"], entry["detail"] or {})
                                    for entry in incident["timeline"]]}


@router.post("/{incident_id}/actions")
def act_on_incident(incident_id: RowId, body: ActionIn, request: Request, conn: ConnDep,
                    user: IncidentActor) -> dict[str, Any]:
    """Acknowledge, respond, resolve, close or reopen; 409 with the reason when the lifecycle refuses."""
    read_incident(incident_id, conn, user)  # 404 outside the caller's scope, before anything changes
    source = request.client.host if request.client else None
    try:
        changed = act(conn, incident_id, body.action, user.id, body.note, body.outcome, source)
    except InvalidTransition as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from None
    return {"id": changed.id, "status": changed.status.value,
            "outcome": changed.outcome.value if changed.outcome else None}


@router.post("/{incident_id}/seen")
def incident_seen(incident_id: RowId, conn: ConnDep, user: IncidentActor) -> dict[str, Any]:
    """Receipt: the caller has the incident on screen (recorded once per person).

    Only from those who may act on it: "seen" tells the responders who is on it, and an auditor or a report
    reader opening it is neither (403).
    """
    read_incident(incident_id, conn, user)
    changed = seen(conn, incident_id, user.id)
    return {"id": changed.id, "seen_by": sorted(changed.seen_by)}


# --- The case file: what the incident panel shows beside the timeline ---------------------------------------

AROUND = timedelta(minutes=10)  # the bus's track and the sensor's readings this long either side of the moment


class CaseSnapshot(BaseModel):
    """A camera snapshot the incident's evidence was raised on; the picture is GET /api/v1/snapshots/{id}.jpg."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    id: int
    camera_id: str
    camera_name: str
    time: datetime
    kind: str
    width: int
    height: int


class CaseFix(BaseModel):
    """One fix of the bus's track."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    time: datetime
    lon: float
    lat: float
    speed_kmh: float | None


class CaseReading(BaseModel):
    """One sensor reading near the moment."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    sensor_id: str
    sensor_name: str
    metric: str
    value: float
    time: datetime


class CaseSeen(BaseModel):
    """A person who has had the incident on screen, and when they first did."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    user_id: str
    name: str = Field(description="Display name (the id when the person is gone).")
    role: str | None
    time: datetime


class CaseFileOut(BaseModel):
    """The incident's evidence material and its readers, for the incident panel."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    id: int
    moment: datetime = Field(description="Its first evidence's time (else when it opened): the track's centre.")
    lon: float | None
    lat: float | None
    campus: dict[str, Any] | None = Field(description="The school's campus outline, GeoJSON geometry.")
    may_see_faces: bool = Field(description="Whether the caller may ask a snapshot for faces (?faces=true).")
    snapshots: list[CaseSnapshot]
    bus_id: str | None = Field(description="The bus its evidence names, if any.")
    bus_name: str | None
    track: list[CaseFix] = Field(description="The bus's fixes from 10 min before the moment to 10 min after.")
    readings: list[CaseReading] = Field(description="Readings of the sensors its evidence names, ±10 min.")
    seen: list[CaseSeen]


class Contact(BaseModel):
    """A person of the incident's school to call."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    user_id: str
    name: str
    role: str
    phone: str


@router.get("/{incident_id}/case-file", response_model=CaseFileOut)
def read_case_file(incident_id: RowId, conn: ConnDep, user: CurrentUser) -> CaseFileOut:
    """Read the incident's snapshots, place and campus, bus track and sensor readings around it, and readers."""
    found = case_file_repo.incident_moment(conn, incident_id, user.scope_path)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no incident {incident_id}")
    start, end = found["moment"] - AROUND, found["moment"] + AROUND
    bus, track = case_file_repo.bus_track(conn, incident_id, start, end)
    readings = case_file_repo.sensor_readings(conn, found["school_id"], list(found["sources"]), start, end)
    campus = found["campus"] if isinstance(found["campus"], dict) else None
    return CaseFileOut(
        id=incident_id, moment=found["moment"], lon=found["lon"], lat=found["lat"], campus=campus,
        may_see_faces=user.role in SEE_FACES,
        snapshots=[CaseSnapshot(**s) for s in case_file_repo.snapshots(conn, incident_id)],
        bus_id=bus["id"] if bus else None, bus_name=bus["name"] if bus else None,
        track=[CaseFix(**f) for f in track], readings=[CaseReading(**r) for r in readings],
        seen=[CaseSeen(**s) for s in case_file_repo.seen_by(conn, incident_id)])


@router.get("/{incident_id}/contacts", response_model=list[Contact])
def read_contacts(incident_id: RowId, conn: ConnDep, user: IncidentActor) -> list[Contact]:
    """List the incident's school's guards and administrators with phone numbers, for those who act on it."""
    found = case_file_repo.incident_moment(conn, incident_id, user.scope_path)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no incident {incident_id}")
    return [Contact(**c) for c in case_file_repo.on_duty(conn, found["school_id"])]
