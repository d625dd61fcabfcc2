"""Incidents: list, read with their timeline and deliveries, and move them through their lifecycle.

A move records who made it, when, from which address and with what note, in one transaction with its audit
record (see ``alerts.service.act``); a move the lifecycle refuses answers 409 with the reason.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, status
from psycopg.rows import dict_row
from pydantic import BaseModel, ConfigDict, Field

from alerts.lifecycle import Action, InvalidTransition
from alerts.model import Outcome, Status
from alerts.service import act, seen
from command_ui.deps import ConnDep, CurrentUser, IncidentActor

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"])

_FIELDS = ("i.id, i.school_id, i.type, i.severity, i.status, i.outcome, i.title, i.lon, i.lat, i.occurrences,"
           " i.opened_at, i.updated_at, i.acknowledged_at, i.resolved_at, i.escalation_level")


class ActionIn(BaseModel):
    """A move on an incident."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    action: Annotated[Action, Field(description="acknowledge, respond, resolve, close or reopen.")]
    note: Annotated[str | None, Field(max_length=2000, description="Why; required for false alarms.")] = None
    outcome: Annotated[Outcome | None, Field(description="With resolve: real, false_alarm or drill.")] = None


@router.get("")
def list_incidents(conn: ConnDep, user: CurrentUser,
                   status_in: Annotated[list[Status] | None, Query(alias="status")] = None,
                   limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[dict[str, Any]]:
    """Newest incidents first, in the caller's part of the organisation."""
    statuses = [s.value for s in status_in] if status_in else [s.value for s in Status]
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(f"SELECT {_FIELDS} FROM incidents i JOIN org_units u ON u.id = i.school_id"
                    " WHERE u.path LIKE %s || '%%' AND i.status = ANY(%s) ORDER BY i.opened_at DESC LIMIT %s",
                    (user.scope_path, statuses, limit))
        return cur.fetchall()


@router.get("/{incident_id}")
def read_incident(incident_id: int, conn: ConnDep, user: CurrentUser) -> dict[str, Any]:
    """One incident with its evidence, its timeline and every notification delivery."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(f"SELECT {_FIELDS}, i.evidence FROM incidents i JOIN org_units u ON u.id = i.school_id"
                    " WHERE i.id = %s AND u.path LIKE %s || '%%'", (incident_id, user.scope_path))
        incident = cur.fetchone()
        if incident is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no incident {incident_id}")
        cur.execute("SELECT seq, time, kind, actor, note, detail FROM incident_events WHERE incident_id = %s"
                    " ORDER BY seq", (incident_id,))
        timeline = cur.fetchall()
        cur.execute("SELECT notifier, event, ok, attempts, error, at FROM notification_deliveries"
                    " WHERE incident_id = %s ORDER BY id", (incident_id,))
        deliveries = cur.fetchall()
    return incident | {"timeline": timeline, "deliveries": deliveries}


@router.post("/{incident_id}/actions")
def act_on_incident(incident_id: int, body: ActionIn, request: Request, conn: ConnDep,
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
def incident_seen(incident_id: int, conn: ConnDep, user: CurrentUser) -> dict[str, Any]:
    """Receipt: the caller has the incident on screen (recorded once per person)."""
    read_incident(incident_id, conn, user)
    changed = seen(conn, incident_id, user.id)
    return {"id": changed.id, "seen_by": sorted(changed.seen_by)}
