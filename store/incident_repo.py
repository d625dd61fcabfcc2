"""Incidents in the database: load the open ones under a lock, store decisions, transitions and deliveries.

Every write happens in the caller's transaction, so an incident, its transition, the signal that caused it
and its audit record commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from domain.incident import Evidence, Incident, Outcome, Severity, Status, Transition
from store.event_detail import event_place

_COLUMNS = ("school_id, type, severity, status, outcome, title, lon, lat, occurrences, evidence, opened_at,"
            " updated_at, acknowledged_at, resolved_at, last_signal_at, escalation_level, last_notified_at,"
            " seen_by, event_seq, reminders, cleared_at, raised_at, drill, toggles, recent_toggles, title_key,"
            " title_params")


@dataclass(frozen=True, slots=True)
class PendingEvent:
    """A device event the alert service has not decided on yet, with what it needs from the device."""

    device_id: str
    kind: str
    time: datetime
    received_at: datetime
    detail: Mapping[str, Any]
    school_id: str | None
    device_kind: str | None
    lon: float | None  # where it happened (store.event_detail.event_place): the fix, the report, or the device
    lat: float | None
    place: str
    subject_id: str  # whose it is: a geo event's bus or person, else the device itself


def _evidence_json(items: Sequence[Evidence]) -> Jsonb:
    return Jsonb([{"kind": e.kind, "ref": e.ref, "time": e.time.isoformat(), "summary": e.summary,
                   "signal_id": e.signal_id, "source_id": e.source_id, "lon": e.lon, "lat": e.lat} for e in items])


def _evidence(items: Sequence[Mapping[str, Any]]) -> tuple[Evidence, ...]:
    # Lenient past kind and time: a row written by another hand without a summary or ids (it happened: a demo
    # history) must not fail every load of open incidents, which would stop escalation for all of them.
    return tuple(Evidence(e["kind"], e.get("ref"), datetime.fromisoformat(e["time"]), e.get("summary") or "",
                          e.get("signal_id") or "", e.get("source_id") or "", e.get("lon"), e.get("lat"))
                 for e in items)


def _values(i: Incident) -> tuple[Any, ...]:
    return (i.school_id, i.type, i.severity.value, i.status.value, i.outcome.value if i.outcome else None, i.title,
            i.lon, i.lat, i.occurrences, _evidence_json(i.evidence), i.opened_at, i.updated_at, i.acknowledged_at,
            i.resolved_at, i.last_signal_at, i.escalation_level, i.last_notified_at, sorted(i.seen_by), i.event_seq,
            i.reminders, i.cleared_at, i.raised, i.drill, i.toggles, list(i.recent_toggles), i.title_key,
            Jsonb(dict(i.title_params)))


def _incident(row: Mapping[str, Any], signal_ids: frozenset[str]) -> Incident:
    return Incident(
        id=row["id"], school_id=row["school_id"], type=row["type"], severity=Severity(row["severity"]),
        status=Status(row["status"]), title=row["title"], opened_at=row["opened_at"], updated_at=row["updated_at"],
        last_signal_at=row["last_signal_at"] or row["opened_at"],
        outcome=Outcome(row["outcome"]) if row["outcome"] else None, lon=row["lon"], lat=row["lat"],
        occurrences=row["occurrences"], evidence=_evidence(row["evidence"]), signal_ids=signal_ids,
        acknowledged_at=row["acknowledged_at"], resolved_at=row["resolved_at"],
        escalation_level=row["escalation_level"], last_notified_at=row["last_notified_at"],
        seen_by=frozenset(row["seen_by"]), event_seq=row["event_seq"], reminders=row["reminders"],
        cleared_at=row["cleared_at"], raised_at=row["raised_at"], drill=row["drill"], toggles=row["toggles"],
        recent_toggles=tuple(row["recent_toggles"]), title_key=row["title_key"], title_params=row["title_params"])


def _load(conn: psycopg.Connection, where: str, params: Sequence[Any], lock: bool) -> list[Incident]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(f"SELECT id, {_COLUMNS} FROM incidents WHERE {where} ORDER BY id"
                    + (" FOR UPDATE" if lock else ""), params)
        rows = cur.fetchall()
    if not rows:
        return []
    signals: dict[int, set[str]] = {}
    for incident_id, signal_id in conn.execute(
            "SELECT incident_id, signal_id FROM alert_signals WHERE incident_id = ANY(%s)",
            ([r["id"] for r in rows],)).fetchall():
        signals.setdefault(incident_id, set()).add(signal_id)
    return [_incident(r, frozenset(signals.get(r["id"], ()))) for r in rows]


def open_incidents(conn: psycopg.Connection, school_id: str, *, lock: bool = True) -> list[Incident]:
    """Load the school's incidents that are not resolved or closed, locked for the caller's transaction."""
    return _load(conn, "school_id = %s AND status NOT IN ('resolved', 'closed')", (school_id,), lock)


def unacknowledged(conn: psycopg.Connection) -> list[Incident]:
    """Load every raised incident for the escalation sweep (locked, skipping those another sweep holds)."""
    return _load(conn, "status = 'raised' AND id IN (SELECT id FROM incidents WHERE status = 'raised'"
                       " FOR UPDATE SKIP LOCKED)", (), lock=False)


def get_incident(conn: psycopg.Connection, incident_id: int, *, lock: bool = True) -> Incident | None:
    """Load one incident by id."""
    found = _load(conn, "id = %s", (incident_id,), lock)
    return found[0] if found else None


def insert_incident(conn: psycopg.Connection, incident: Incident) -> int:
    """Store a new incident; returns its id."""
    placeholders = ", ".join(["%s"] * len(_values(incident)))
    row = conn.execute(f"INSERT INTO incidents ({_COLUMNS}) VALUES ({placeholders}) RETURNING id",
                       _values(incident)).fetchone()
    assert row is not None
    return int(row[0])


def update_incident(conn: psycopg.Connection, incident: Incident) -> None:
    """Store an incident's new state."""
    sets = ", ".join(f"{c.strip()} = %s" for c in _COLUMNS.split(","))
    conn.execute(f"UPDATE incidents SET {sets} WHERE id = %s", (*_values(incident), incident.id))


def record_transition(conn: psycopg.Connection, transition: Transition, incident_id: int) -> None:
    """Append a transition to ``incident_events``."""
    detail = dict(transition.detail) | ({"source": transition.source} if transition.source else {})
    conn.execute(
        "INSERT INTO incident_events (incident_id, seq, time, school_id, kind, actor, note, detail)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
        (incident_id, transition.seq, transition.time, transition.school_id, transition.kind, transition.actor,
         transition.note, Jsonb(detail)))


def claim_signal(conn: psycopg.Connection, signal_id: str, decision: str, now: datetime) -> bool:
    """Mark a signal decided; False when it already was (a re-scan, or another service got there first)."""
    row = conn.execute("INSERT INTO alert_signals (signal_id, decision, processed_at) VALUES (%s, %s, %s)"
                       " ON CONFLICT DO NOTHING RETURNING 1", (signal_id, decision, now)).fetchone()
    return row is not None


def link_signal(conn: psycopg.Connection, signal_id: str, incident_id: int, decision: str) -> None:
    """Record which incident a claimed signal went to."""
    conn.execute("UPDATE alert_signals SET incident_id = %s, decision = %s WHERE signal_id = %s",
                 (incident_id, decision, signal_id))


def link_signal_without_incident(conn: psycopg.Connection, signal_id: str, decision: str) -> None:
    """Record an event that opened or touched no incident, with why (or why it was set aside)."""
    conn.execute("UPDATE alert_signals SET decision = %s WHERE signal_id = %s", (decision, signal_id))


def signal_id_of(kind: str, device_id: str, time: datetime) -> str:
    """Name an upstream event stably: the same string in Python and in :func:`pending_events`'s SQL."""
    micros = (time - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    return f"{kind}:{device_id}:{micros}"


def pending_events(conn: psycopg.Connection, since: datetime, kinds: Sequence[str], limit: int) -> list[PendingEvent]:
    """Device events of the given kinds (or ``geo.*``) that arrived since ``since`` and are not decided yet."""
    rows = conn.execute(
        "SELECT e.device_id, e.kind, e.time, e.received_at, e.detail, d.school_id, d.kind, d.lon, d.lat,"
        " coalesce(d.place, d.name, e.device_id)"
        " FROM device_events e LEFT JOIN devices d ON d.id = e.device_id"
        " WHERE e.received_at >= %s AND (e.kind = ANY(%s) OR e.kind LIKE 'geo.%%')"
        " AND NOT EXISTS (SELECT 1 FROM alert_signals s"
        "                 WHERE s.signal_id = e.kind || ':' || e.device_id || ':'"
        "                       || (extract(epoch FROM e.time) * 1000000)::bigint)"
        " ORDER BY e.received_at LIMIT %s",
        (since, list(kinds), limit)).fetchall()
    events = []
    for device_id, kind, time, received_at, detail, school_id, device_kind, lon, lat, place in rows:
        lon, lat, subject = event_place(kind, detail, lon, lat, device_id)
        events.append(PendingEvent(device_id, kind, time, received_at, detail, school_id, device_kind, lon, lat,
                                   place, subject))
    return events


def record_delivery(conn: psycopg.Connection, incident_id: int, notifier: str, event: str, ok: bool,
                    attempts: int, error: str | None, at: datetime) -> None:
    """Keep a delivery's outcome, shown on the incident."""
    conn.execute("INSERT INTO notification_deliveries (incident_id, notifier, event, ok, attempts, error, at)"
                 " VALUES (%s, %s, %s, %s, %s, %s, %s)", (incident_id, notifier, event, ok, attempts, error, at))


# Which people each level of the escalation chain wakes: the school's own staff, then the officers of every
# unit above the school.
_LEVEL_ROLES = {"school_guards": ("guard", True), "school_admin": ("school_admin", True),
                "district_officer": ("district_officer", False)}


def recipients(conn: psycopg.Connection, school_id: str, level: str) -> tuple[str, ...]:
    """Email addresses and phone numbers of the people a chain level names for a school.

    Both of a person's, email first: each channel takes the addresses in its own medium (email those with an
    ``@``, SMS the phone numbers), so a person with both is reached by each.
    """
    role, at_school = _LEVEL_ROLES.get(level, (level, False))
    rows = conn.execute(
        "SELECT a.address FROM users p JOIN org_units scope ON scope.id = p.scope_id"
        " JOIN org_units school ON school.id = %s"
        " CROSS JOIN LATERAL unnest(ARRAY[p.email, p.phone]) WITH ORDINALITY AS a(address, n)"
        " WHERE p.active AND p.role = %s AND a.address IS NOT NULL"
        " AND (CASE WHEN %s THEN scope.id = school.id ELSE campusguard_within(school.path, scope.path) END)"
        " ORDER BY p.id, a.n", (school_id, role, at_school)).fetchall()
    return tuple(r[0] for r in rows)
