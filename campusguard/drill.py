"""``campusguard drill``: a synthetic panic through the real path, timed until it is raised, delivered and acknowledged.

The drill presses a panic button of the school (action ``drill``) over real MQTT, exactly as a button would,
then watches the database: when the incident opened, when each notifier delivered it, and, for each person,
when their screen sent its "seen" receipt and when they acknowledged (``incident_events`` rows of kind ``seen``
and ``acknowledge``, which the guard page's ``/seen`` and ``/actions`` calls write). It waits up to
``respond_s`` from the press for a person to acknowledge; if nobody does, the drill runner acknowledges so
escalation stops, and the report says so. The incident is resolved with outcome ``drill`` and the report is
stored in ``drills``, with one entry per person: the school's guards (the first to be paged, answering or
not) and anyone else who answered.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from psycopg.types.json import Jsonb

from alerts.lifecycle import Action, InvalidTransition
from alerts.service import DRILL_TYPE, act
from domain.broker import parse_broker_url
from domain.incident import SYSTEM_ACTOR, Outcome
from store.db import connect

RUNNER = "drill"
"""The actor of the drill runner's own moves, told apart from a person's."""


@dataclass(frozen=True, slots=True)
class PersonResponse:
    """How one person answered the drill: milliseconds from the press to their receipt and acknowledgement."""

    user_id: str
    seen_ms: float | None
    acknowledged_ms: float | None


@dataclass(frozen=True, slots=True)
class DrillReport:
    """What a drill measured; ``acknowledged_by`` is the runner's actor when no person acknowledged in time."""

    school_id: str
    device_id: str
    started_at: datetime
    incident_id: int | None
    raised_ms: float | None
    acknowledged_ms: float | None
    deliveries: list[dict[str, Any]]
    acknowledged_by: str | None = None
    responses: tuple[PersonResponse, ...] = ()

    @property
    def ok(self) -> bool:
        """The incident was raised, every delivery succeeded and it was acknowledged."""
        return (self.incident_id is not None and self.acknowledged_ms is not None
                and all(d["ok"] for d in self.deliveries))


def person_responses(started: datetime, events: Iterable[tuple[str, str, datetime]],
                     paged: Iterable[str] = ()) -> tuple[PersonResponse, ...]:
    """Each person's first ``seen`` and ``acknowledge`` after the press, from (kind, actor, time) events.

    Moves by the runner or the system are not a person's; ``paged`` people appear even without an answer.
    """
    first: dict[str, dict[str, float]] = {person: {} for person in paged}
    for kind, actor, at in sorted(events, key=lambda e: e[2]):
        if kind not in ("seen", "acknowledge") or actor in (RUNNER, SYSTEM_ACTOR) or at < started:
            continue
        first.setdefault(actor, {}).setdefault(kind, (at - started).total_seconds() * 1000)
    return tuple(PersonResponse(person, times.get("seen"), times.get("acknowledge"))
                 for person, times in sorted(first.items()))


def _button(conn: psycopg.Connection, school_id: str) -> str:
    row = conn.execute("SELECT id FROM devices WHERE school_id = %s AND kind = 'panic_button' AND active"
                       " AND source = 'campusguard' ORDER BY id LIMIT 1", (school_id,)).fetchone()
    if row is None:
        raise LookupError(f"school {school_id!r} has no panic button on our own MQTT schema to drill with")
    return str(row[0])


def _press(mqtt_url: str, school_id: str, device_id: str, at: datetime) -> None:
    address = parse_broker_url(mqtt_url)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"campusguard-drill-{uuid.uuid4().hex[:8]}",
                         protocol=MQTTProtocolVersion.MQTTv5)
    address.configure(client)
    client.connect(address.host, address.port)
    client.loop_start()
    try:
        body = json.dumps({"ts": at.isoformat(), "action": "drill"})
        client.publish(f"campusguard/v1/{school_id}/panic/{device_id}", body, qos=1).wait_for_publish(30)
    finally:
        client.disconnect()
        client.loop_stop()


def _poll(conn: psycopg.Connection, query: str, params: tuple[Any, ...], timeout_s: float) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        row = conn.execute(query, params).fetchone()
        if row is not None:
            return row
        time.sleep(0.02)
    return None


def _guards(conn: psycopg.Connection, school_id: str) -> list[str]:
    return [r[0] for r in conn.execute("SELECT id FROM users WHERE active AND role = 'guard' AND scope_id = %s"
                                       " ORDER BY id", (school_id,)).fetchall()]


def run_drill(database_url: str, mqtt_url: str, school_id: str, timeout_s: float = 60.0,
              respond_s: float = 60.0) -> DrillReport:
    """Run one drill and store its report; waits up to ``respond_s`` from the press for a person to acknowledge."""
    with connect(database_url, autocommit=True) as conn:
        device_id = _button(conn, school_id)
        started = datetime.now(UTC)
        clock = time.monotonic()
        _press(mqtt_url, school_id, device_id, started)
        raised = _poll(conn, "SELECT id, opened_at FROM incidents WHERE type = %s AND school_id = %s"
                             " AND opened_at >= %s ORDER BY id LIMIT 1", (DRILL_TYPE, school_id, started), timeout_s)
        incident_id = raised[0] if raised else None
        raised_ms = acked_ms = None
        acked_by: str | None = None
        deliveries: list[dict[str, Any]] = []
        responses: tuple[PersonResponse, ...] = ()
        if incident_id is not None:
            decided = _poll(conn, "SELECT processed_at FROM alert_signals WHERE incident_id = %s"
                                  " ORDER BY processed_at LIMIT 1", (incident_id,), timeout_s)
            raised_ms = (decided[0] - started).total_seconds() * 1000 if decided else None
            _poll(conn, "SELECT 1 FROM incident_events WHERE incident_id = %s AND kind = 'notified'",
                  (incident_id,), timeout_s)
            deliveries = [{"notifier": n, "ok": ok, "ms": (at - started).total_seconds() * 1000, "error": err}
                          for n, ok, at, err in conn.execute(
                              "SELECT notifier, ok, at, error FROM notification_deliveries WHERE incident_id = %s"
                              " ORDER BY id", (incident_id,)).fetchall()]
            first_ack = ("SELECT actor, time FROM incident_events WHERE incident_id = %s"
                         " AND kind = 'acknowledge' AND actor <> %s ORDER BY seq LIMIT 1")
            person = _poll(conn, first_ack, (incident_id, RUNNER),
                           max(0.0, respond_s - (time.monotonic() - clock)))
            if person is None:
                # Nobody answered in the window: the runner acknowledges, or the drill would keep escalating.
                try:
                    act(conn, incident_id, Action.ACKNOWLEDGE, RUNNER, "drill: nobody acknowledged in time", None,
                        RUNNER)
                    acked_by, acked_ms = RUNNER, (datetime.now(UTC) - started).total_seconds() * 1000
                except InvalidTransition:
                    # A person acknowledged between the window's end and the runner's turn: theirs counts.
                    person = conn.execute(first_ack, (incident_id, RUNNER)).fetchone()
            if person is not None:
                acked_by, acked_ms = person[0], (person[1] - started).total_seconds() * 1000
            events = conn.execute("SELECT kind, actor, time FROM incident_events WHERE incident_id = %s",
                                  (incident_id,)).fetchall()
            responses = person_responses(started, events, _guards(conn, school_id))
            act(conn, incident_id, Action.RESOLVE, RUNNER, "drill finished", Outcome.DRILL, RUNNER)
        report = DrillReport(school_id, device_id, started, incident_id, raised_ms, acked_ms, deliveries, acked_by,
                             responses)
        conn.execute("INSERT INTO drills (school_id, device_id, started_at, incident_id, raised_ms,"
                     " acknowledged_ms, deliveries, ok, acknowledged_by, responses)"
                     " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                     (school_id, device_id, started, incident_id, raised_ms, acked_ms, Jsonb(deliveries),
                      report.ok, acked_by, Jsonb([asdict(r) for r in responses])))
    return report
