"""The audit trail: search it, export it as CSV, and check that nobody edited or deleted a record.

Reads follow the reader's scope like every other read: a district's administrator finds the records about
their district's schools, people and incidents, and only a reader of the whole tree (the root, or the
organisation's top unit) also finds records about nothing in it (site loads, failed logins under unknown
names). The chain check walks every record (a chain cannot be checked in part) and answers whether it holds,
how many records it has and where it breaks: nothing of what a record says.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from psycopg_pool import ConnectionPool

from command_ui.deps import AuditReader, ConnDep
from command_ui.messages import timeline_message
from command_ui.schemas import Instant
from domain.audit import AuditRecord
from store import audit_repo, title_repo

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])
CHUNK_ROWS = 500  # rows per chunk of a streamed export: a few tens of kilobytes on the wire
MAX_OFFSET = 1_000_000_000  # far past any trail; beyond PostgreSQL's bigint it was a 500
School = Annotated[str | None, Query(max_length=128, description=(
    "Only records about this school or anything in it (its incidents, cameras, people), by the record's "
    "organisation path."))]


@router.get("")
def search_audit(conn: ConnDep, user: AuditReader, actor: str | None = None, action: str | None = None,
                 target: str | None = None, since: Instant | None = None, until: Instant | None = None,
                 school: School = None,
                 limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                 offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
                 newest_first: bool = False) -> list[dict[str, Any]]:
    """Search the audit records matching the filters, oldest first (or newest first)."""
    found = audit_repo.search(conn, actor=actor, action=action, target=target, since=since, until=until,
                              scope=user.scope_path, school=school, limit=limit, offset=offset,
                              newest_first=newest_first)
    # What each person acting is called at their level (班主任, 乡镇中心校...); none for the system's actors.
    titles = title_repo.title_keys(conn, sorted({s.record.actor for s in found}))
    return [{"id": s.id, "at": s.record.at, "actor": s.record.actor, "actor_title_key": titles.get(s.record.actor),
             "action": s.record.action, "target": s.record.target, "detail": dict(s.record.detail),
             "hash": s.hash.hex() if s.hash else None, "message": _message(s.record)} for s in found]


def _message(record: AuditRecord) -> dict[str, Any] | None:
    """Say an incident transition as the timeline says it (a key and values); None for other records."""
    kind = record.action.removeprefix("incident.")
    if kind == record.action:
        return None
    return timeline_message(kind, record.actor, dict(record.detail))


@router.get("/export.csv", response_class=StreamingResponse,
            responses={200: {"content": {"text/csv": {}}, "description": "The matching records as CSV."}})
def export_audit(request: Request, user: AuditReader, actor: str | None = None, action: str | None = None,
                 target: str | None = None, since: Instant | None = None,
                 until: Instant | None = None, school: School = None) -> StreamingResponse:
    """Export the matching records as CSV, with their hashes, for an auditor's own tools (streamed as read)."""
    filters = {"actor": actor, "action": action, "target": target, "since": since, "until": until,
               "scope": user.scope_path, "school": school}
    return StreamingResponse(_csv_chunks(request.app.state.pool, filters), media_type="text/csv",
                             headers={"Content-Disposition": "attachment; filename=audit.csv"})


def _csv_chunks(pool: ConnectionPool, filters: dict[str, Any]) -> Iterator[str]:
    # A connection of the stream's own: the request's pooled one goes back when the handler returns, before the
    # body is sent. A year's trail is millions of records; read through a server-side cursor, a chunk of rows
    # at a time, memory stays flat. A client that goes away closes this generator, which gives the connection back.
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(audit_repo.CSV_HEADER)
    with pool.connection() as conn:
        for n, row in enumerate(audit_repo.export_rows(conn, **filters), start=1):
            writer.writerow(row)
            if n % CHUNK_ROWS == 0:
                yield out.getvalue()
                out.seek(0)
                out.truncate()
    yield out.getvalue()


@router.get("/verify")
def verify_audit(conn: ConnDep, user: AuditReader) -> dict[str, Any]:
    """Walk the hash chain: intact, or the first record where it breaks and why."""
    result = audit_repo.verify(conn)
    return {"ok": result.ok, "records": result.records, "broken_at": result.broken_id,
            "reason": result.reason.value if result.reason else None, "explanation": result.explanation}
