"""Reports: response times (to acknowledge, to resolve) per school and week, and device uptime per school.

For school administrators (their school), district officers and administrators, auditors; not for guards,
whose page is the incident in front of them. Everything is scoped to the caller's part of the organisation.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, status
from pydantic import BaseModel, ConfigDict, Field

from command_ui.deps import ConnDep, User, require
from command_ui.schemas import Instant
from command_ui.uptime import school_uptime
from store import queries

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])

READ_REPORTS = frozenset({"school_admin", "district_officer", "district_admin", "auditor", "admin"})
"""Roles that read reports and export incident lists."""
ReportReader = Annotated[User, Depends(require(READ_REPORTS, "read reports"))]
DEFAULT_DAYS = 28
LONGEST = dt.timedelta(days=366)


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ResponseWeekOut(_Out):
    """One school's incidents opened in one local week (Monday first) and how fast they were handled."""

    school_id: str
    week: dt.date = Field(description="Monday starting the week, in the school's timezone.")
    incidents: int
    acknowledged: int = Field(description="Incidents a person acted on (acknowledge, respond or resolve).")
    ack_median_s: float | None = Field(description="Median seconds from opening to the first action.")
    ack_p90_s: float | None = Field(description="90th percentile of the same.")
    resolved: int
    resolve_median_s: float | None = Field(description="Median seconds from opening to the first resolve.")
    resolve_p90_s: float | None


class ResponseTimesOut(_Out):
    """Response times over a window."""

    since: dt.datetime
    until: dt.datetime
    weeks: list[ResponseWeekOut]


class SchoolUptimeOut(_Out):
    """A school's devices over the window."""

    school_id: str
    devices: int = Field(description="Active devices of the school.")
    heard: int = Field(description="Devices that ever reported.")
    online_now: int
    uptime: float | None = Field(description="Share (0..1) of the window its devices were online, read from the"
                                 " liveness history; a device that never reported counts as offline throughout,"
                                 " so the share never exceeds heard / devices. Null only for an empty window.")


class UptimeOut(_Out):
    """Device uptime per school over a window."""

    since: dt.datetime
    until: dt.datetime
    schools: list[SchoolUptimeOut]


def _window(since: dt.datetime | None, until: dt.datetime | None) -> tuple[dt.datetime, dt.datetime]:
    end = until or dt.datetime.now(dt.UTC)
    start = since or end - dt.timedelta(days=DEFAULT_DAYS)
    if start.tzinfo is None or end.tzinfo is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail="give times with their UTC offset")
    if not start < end <= start + LONGEST:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail="since must be before until, within a year")
    return start, end


Since = Annotated[Instant | None, Query(description=f"Window start; {DEFAULT_DAYS} days before until by default.")]
Until = Annotated[Instant | None, Query(description="Window end; now by default.")]
Schools = Annotated[list[str] | None, Query(alias="school", description="Only these schools (repeatable).")]


@router.get("/response-times")
def response_times(conn: ConnDep, user: ReportReader, since: Since = None, until: Until = None,
                   school: Schools = None) -> ResponseTimesOut:
    """Median and p90 time to acknowledge and to resolve, per school and week, for incidents opened in the window."""
    start, end = _window(since, until)
    weeks = queries.response_times(conn, user.scope_path, start, end, tuple(school or ()))
    return ResponseTimesOut(since=start, until=end, weeks=[ResponseWeekOut(
        school_id=w.school_id, week=w.week, incidents=w.incidents, acknowledged=w.acknowledged,
        ack_median_s=w.ack_median_s, ack_p90_s=w.ack_p90_s, resolved=w.resolved,
        resolve_median_s=w.resolve_median_s, resolve_p90_s=w.resolve_p90_s) for w in weeks])


@router.get("/device-uptime")
def device_uptime(conn: ConnDep, user: ReportReader, since: Since = None, until: Until = None,
                  school: Schools = None) -> UptimeOut:
    """Share of the window each school's devices were online, from ingest's online/offline history."""
    start, end = _window(since, until)
    # The future has no availability yet: a window reaching past now is judged up to now.
    judged_end = min(end, dt.datetime.now(dt.UTC))
    devices = queries.device_availability(conn, user.scope_path, start, judged_end, tuple(school or ()))
    return UptimeOut(since=start, until=end, schools=[SchoolUptimeOut(
        school_id=s.school_id, devices=s.devices, heard=s.heard, online_now=s.online_now, uptime=s.uptime)
        for s in school_uptime(devices, start, max(judged_end, start))])
