"""A year of incidents with their timelines and audit records, the audit records on a valid hash chain.

Each incident lives as the alert stage and people would move it: raised, escalated, seen by two people,
acknowledged, responded to, resolved with an outcome, closed (the last days' incidents are still open).
Every timeline entry has its audit record, hashed onto the chain exactly as ``store.audit_repo.append`` does
(``domain.audit.chain_hash`` over the record in the form jsonb gives back: the details here hold only strings,
integers and nulls, which jsonb returns unchanged), so ``campusguard audit verify`` holds over the loaded year.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from psycopg.types.json import Jsonb

from domain.audit import AuditRecord, chain_hash
from domain.incident import SYSTEM_ACTOR

# (type, severity, share of incidents, title key): shaped like a bus fleet's alarms, panics rare.
TYPES = (("overspeed", "medium", 40, "incident.title.overspeed"),
         ("route_deviated", "high", 20, "incident.title.route_deviated"),
         ("late_arrival", "low", 20, "incident.title.late_arrival"),
         ("device_offline", "low", 12, "incident.title.device_offline"),
         ("panic", "critical", 5, "incident.title.panic"),
         ("intrusion", "high", 3, "incident.title.intrusion"))
MOVES = ("acknowledge", "respond", "resolve")
"""The timeline entries that are a person's move on an incident (migration 0045, the response-time report)."""
OPEN_FOR = timedelta(days=2)
"""Incidents opened this close to the year's end are still open (raised or acknowledged)."""


@dataclass(frozen=True, slots=True)
class School:
    """What an incident needs from its school: id, organisation path, people who act, a bus and a place."""

    school_id: str
    path: str
    people: tuple[str, ...]
    source_id: str
    lon: float
    lat: float


@dataclass(frozen=True, slots=True)
class Generated:
    """One incident's rows: the incident, its timeline, its audit records (not yet chained)."""

    incident: tuple[Any, ...]
    events: list[tuple[Any, ...]]
    audits: list[tuple[AuditRecord, str]]


def incident(rng: random.Random, incident_id: int, school: School, opened: datetime, end: datetime) -> Generated:
    """Generate one incident opened at ``opened`` with its timeline up to ``end``."""
    kind, severity, _, key = rng.choices(TYPES, weights=[t[2] for t in TYPES])[0]
    raised = opened + timedelta(milliseconds=rng.randint(50, 3000))
    people = school.people or ("guard",)
    steps: list[tuple[str, str, datetime]] = [("raised", SYSTEM_ACTOR, raised),
                                              ("escalated", SYSTEM_ACTOR, raised + timedelta(minutes=5))]
    ack = raised + timedelta(seconds=rng.lognormvariate(5.0, 1.0))
    steps += [("seen", rng.choice(people), raised + timedelta(seconds=rng.uniform(2, 60))),
              ("seen", rng.choice(people), raised + timedelta(seconds=rng.uniform(60, 120)))]
    resolved = ack + timedelta(minutes=rng.uniform(5, 90))
    still_open = opened > end - OPEN_FOR
    outcome = rng.choices(("real", "false_alarm", "drill"), weights=(70, 25, 5))[0]
    if not still_open or rng.random() < 0.5:
        steps.append(("acknowledge", rng.choice(people), ack))
    if not still_open:
        steps += [("respond", rng.choice(people), ack + timedelta(seconds=30)),
                  ("resolve", rng.choice(people), resolved),
                  ("close", rng.choice(people), resolved + timedelta(hours=1))]
    steps.sort(key=lambda s: s[2])
    status = {"raised": "raised", "escalated": "raised", "seen": "raised", "acknowledge": "acknowledged",
              "respond": "responding", "resolve": "resolved", "close": "closed"}
    current = "raised"
    events, audits = [], []
    for seq, (step, actor, at) in enumerate(steps, start=1):
        current = status[step] if step != "seen" and step != "escalated" else current
        detail = {"seq": seq, "status": current, "severity": severity, "note": None, "source": None}
        events.append((incident_id, seq, at, school.school_id, step, actor, None))
        audits.append((AuditRecord(at, actor, f"incident.{step}", f"incident:{incident_id}", detail), school.path))
    acked = next((at for step, _, at in steps if step == "acknowledge"), None)
    # Written with the incident, as migration 0045's trigger keeps them: the timeline's COPY then finds nothing to
    # change, so the load leaves no dead row versions behind for the report to read past.
    first_move = min((at for step, _, at in steps if step in MOVES), default=None)
    first_resolved = min((at for step, _, at in steps if step == "resolve"), default=None)
    evidence = [{"kind": "event", "ref": None, "time": opened.isoformat(), "summary": kind,
                 "signal_id": f"{kind}:{school.source_id}:{incident_id}", "source_id": school.source_id,
                 "lon": school.lon, "lat": school.lat}]
    row = (incident_id, school.school_id, kind, severity, current,
           None if still_open else outcome, f"{kind} at {school.source_id}", key,
           {"source_id": school.source_id, "place": school.source_id, "stop_name": "stop 1"},
           school.lon, school.lat, 1, evidence, opened, steps[-1][2], acked,
           None if still_open else resolved, raised, outcome == "drill" and not still_open, len(steps), first_move,
           first_resolved)
    return Generated(row, events, audits)


def chained(records: Iterator[tuple[AuditRecord, str]], head: bytes) -> Iterator[tuple[Any, ...]]:
    """Audit COPY rows in order, each hashed onto the one before (starting after ``head``)."""
    prev = head
    for record, path in records:
        digest = chain_hash(prev, record)
        yield (record.at, record.actor, record.action, record.target, Jsonb(dict(record.detail)), prev, digest, path)
        prev = digest
