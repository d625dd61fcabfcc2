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
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from alerts.lifecycle import Action, InvalidTransition
from alerts.service import DRILL_TYPE, act
from domain.broker import parse_broker_url
from domain.incident import SYSTEM_ACTOR, Outcome
from store import drill_repo
from store.db import connect

RUNNER = "drill"
"""The actor of the drill runner's own moves, told apart from a person's."""
T = TypeVar("T")


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


def _poll(read: Callable[[], T | None], timeout_s: float) -> T | None:
    """Ask ``read`` until it answers or ``timeout_s`` passes."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = read()
        if found is not None:
            return found
        time.sleep(0.02)
    return None


def run_drill(database_url: str, mqtt_url: str, school_id: str, timeout_s: float = 60.0,
              respond_s: float = 60.0) -> DrillReport:
    """Run one drill and store its report; waits up to ``respond_s`` from the press for a person to acknowledge."""
    with connect(database_url, autocommit=True) as conn:
        device_id = drill_repo.drill_button(conn, school_id)
        if device_id is None:
            raise LookupError(f"school {school_id!r} has no panic button on our own MQTT schema to drill with")
        started = datetime.now(UTC)
        clock = time.monotonic()
        _press(mqtt_url, school_id, device_id, started)
        raised = _poll(lambda: drill_repo.opened_incident(conn, DRILL_TYPE, school_id, started), timeout_s)
        incident_id = raised[0] if raised else None
        raised_ms = acked_ms = None
        acked_by: str | None = None
        deliveries: list[dict[str, Any]] = []
        responses: tuple[PersonResponse, ...] = ()
        if incident_id is not None:
            decided = _poll(lambda: drill_repo.first_decision(conn, incident_id), timeout_s)
            raised_ms = (decided - started).total_seconds() * 1000 if decided else None
            _poll(lambda: drill_repo.notified(conn, incident_id) or None, timeout_s)
            deliveries = [{"notifier": n, "ok": ok, "ms": (at - started).total_seconds() * 1000, "error": err}
                          for n, ok, at, err in drill_repo.deliveries(conn, incident_id)]
            person = _poll(lambda: drill_repo.first_acknowledgement(conn, incident_id, RUNNER),
                           max(0.0, respond_s - (time.monotonic() - clock)))
            if person is None:
                # Nobody answered in the window: the runner acknowledges, or the drill would keep escalating.
                try:
                    act(conn, incident_id, Action.ACKNOWLEDGE, RUNNER, "drill: nobody acknowledged in time", None,
                        RUNNER)
                    acked_by, acked_ms = RUNNER, (datetime.now(UTC) - started).total_seconds() * 1000
                except InvalidTransition:
                    # A person acknowledged between the window's end and the runner's turn: theirs counts.
                    person = drill_repo.first_acknowledgement(conn, incident_id, RUNNER)
            if person is not None:
                acked_by, acked_ms = person[0], (person[1] - started).total_seconds() * 1000
            responses = person_responses(started, drill_repo.timeline(conn, incident_id),
                                         drill_repo.guards(conn, school_id))
            act(conn, incident_id, Action.RESOLVE, RUNNER, "drill finished", Outcome.DRILL, RUNNER)
        report = DrillReport(school_id, device_id, started, incident_id, raised_ms, acked_ms, deliveries, acked_by,
                             responses)
        drill_repo.record_drill(conn, school_id=school_id, device_id=device_id, started_at=started,
                                incident_id=incident_id, raised_ms=raised_ms, acknowledged_ms=acked_ms,
                                deliveries=deliveries, ok=report.ok, acknowledged_by=acked_by,
                                responses=[asdict(r) for r in responses])
    return report
