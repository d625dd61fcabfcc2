"""Lifecycle: every allowed move, the shortcuts, refusals with their reasons, and seen-by receipts."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from alerts.lifecycle import TRANSITIONS, Action, InvalidTransition, apply, mark_seen
from domain.incident import Incident, Outcome, Severity, Status

T0 = datetime(2025, 3, 10, 13, 0, tzinfo=UTC)


def incident(status: Status = Status.RAISED, **changes: object) -> Incident:
    base = Incident(id=12, school_id="antelope-park-es", type="panic", severity=Severity.CRITICAL, status=status,
                    title="Panic button pressed: btn-1", opened_at=T0, updated_at=T0, last_signal_at=T0,
                    event_seq=1)
    return replace(base, **changes)  # type: ignore[arg-type]


def later(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_happy_path_records_who_when_where_and_why() -> None:
    inc, t1 = apply(incident(), Action.ACKNOWLEDGE, "guard-ana", later(40), note="on my way", source="10.0.0.7")
    assert (inc.status, inc.acknowledged_at, inc.updated_at, inc.event_seq) == (Status.ACKNOWLEDGED, later(40),
                                                                               later(40), 2)
    assert (t1.incident_id, t1.seq, t1.time, t1.kind, t1.actor, t1.note, t1.source) == (
        12, 2, later(40), "acknowledge", "guard-ana", "on my way", "10.0.0.7")
    assert dict(t1.detail) == {"from": "raised", "to": "acknowledged"}
    inc, t2 = apply(inc, Action.RESPOND, "guard-ana", later(90), source="app")
    assert inc.status is Status.RESPONDING and inc.acknowledged_at == later(40) and t2.seq == 3
    inc, t3 = apply(inc, Action.RESOLVE, "guard-ana", later(600), note="student fainted, nurse", outcome=Outcome.REAL)
    assert (inc.status, inc.outcome, inc.resolved_at) == (Status.RESOLVED, Outcome.REAL, later(600))
    assert dict(t3.detail) == {"from": "responding", "to": "resolved", "outcome": "real"}
    inc, t4 = apply(inc, Action.CLOSE, "admin-bo", later(3600))
    assert inc.status is Status.CLOSED and t4.seq == 5 and inc.outcome is Outcome.REAL


def test_respond_from_raised_is_the_acknowledgement_too() -> None:
    inc, _ = apply(incident(), Action.RESPOND, "guard-ana", later(20))
    assert inc.status is Status.RESPONDING and inc.acknowledged_at == later(20)


def test_raised_to_resolved_only_as_false_alarm_or_drill_with_a_note() -> None:
    inc, t = apply(incident(), Action.RESOLVE, "guard-ana", later(30), note="kid leaned on it",
                   outcome=Outcome.FALSE_ALARM)
    assert (inc.status, inc.outcome, inc.acknowledged_at, inc.resolved_at) == (
        Status.RESOLVED, Outcome.FALSE_ALARM, later(30), later(30))
    assert t.note == "kid leaned on it"
    with pytest.raises(InvalidTransition, match="cannot resolve incident 12: resolving an unacknowledged"):
        apply(incident(), Action.RESOLVE, "guard-ana", later(30), note="  ", outcome=Outcome.DRILL)
    with pytest.raises(InvalidTransition, match="acknowledge it before resolving it as real"):
        apply(incident(), Action.RESOLVE, "guard-ana", later(30), note="x", outcome=Outcome.REAL)


def test_resolve_needs_an_outcome_and_a_false_alarm_needs_a_note() -> None:
    with pytest.raises(InvalidTransition, match="say whether it was real"):
        apply(incident(Status.ACKNOWLEDGED), Action.RESOLVE, "guard-ana", later(30))
    with pytest.raises(InvalidTransition, match="a false alarm needs a note"):
        apply(incident(Status.RESPONDING), Action.RESOLVE, "guard-ana", later(30), outcome=Outcome.FALSE_ALARM)
    with pytest.raises(InvalidTransition, match="only resolve takes an outcome"):
        apply(incident(), Action.ACKNOWLEDGE, "guard-ana", later(30), outcome=Outcome.REAL)


def test_refusals_name_the_incident_and_its_status() -> None:
    closed = incident(Status.CLOSED, outcome=Outcome.REAL)
    with pytest.raises(InvalidTransition, match=r"^cannot resolve incident 12: it is closed$"):
        apply(closed, Action.RESOLVE, "guard-ana", later(5), outcome=Outcome.REAL)
    with pytest.raises(InvalidTransition, match=r"^cannot acknowledge incident 12: it is responding$"):
        apply(incident(Status.RESPONDING), Action.ACKNOWLEDGE, "guard-ana", later(5))
    with pytest.raises(InvalidTransition, match=r"^cannot close incident 12: it is raised$"):
        apply(incident(), Action.CLOSE, "guard-ana", later(5))
    with pytest.raises(InvalidTransition, match="no actor"):
        apply(incident(), Action.ACKNOWLEDGE, " ", later(5))


def test_reopen_lands_on_acknowledged_and_clears_the_outcome() -> None:
    resolved = incident(Status.RESOLVED, outcome=Outcome.FALSE_ALARM, acknowledged_at=later(10),
                        resolved_at=later(20))
    with pytest.raises(InvalidTransition, match="reopening needs a note"):
        apply(resolved, Action.REOPEN, "admin-bo", later(100))
    inc, t = apply(resolved, Action.REOPEN, "admin-bo", later(100), note="it happened again, camera confirms")
    assert (inc.status, inc.outcome, inc.resolved_at, inc.acknowledged_at) == (
        Status.ACKNOWLEDGED, None, None, later(100))
    assert dict(t.detail) == {"from": "resolved", "to": "acknowledged"}
    inc, _ = apply(incident(Status.CLOSED, outcome=Outcome.REAL), Action.REOPEN, "admin-bo", later(5), note="why")
    assert inc.status is Status.ACKNOWLEDGED


def test_the_table_is_the_documented_one() -> None:
    table = {(a.value, s.value): t.value for (a, s), t in TRANSITIONS.items()}
    assert table == {
        ("acknowledge", "raised"): "acknowledged",
        ("respond", "raised"): "responding",
        ("respond", "acknowledged"): "responding",
        ("resolve", "raised"): "resolved",
        ("resolve", "acknowledged"): "resolved",
        ("resolve", "responding"): "resolved",
        ("close", "resolved"): "closed",
        ("reopen", "resolved"): "acknowledged",
        ("reopen", "closed"): "acknowledged",
    }


def test_seen_by_is_recorded_once_per_user_and_changes_no_status() -> None:
    inc, t = mark_seen(incident(), "admin-bo", later(15), source="10.0.0.9")
    assert t is not None
    assert (t.kind, t.actor, t.seq, t.source, dict(t.detail)) == ("seen", "admin-bo", 2, "10.0.0.9",
                                                                  {"status": "raised"})
    assert inc.seen_by == frozenset({"admin-bo"}) and inc.status is Status.RAISED and inc.updated_at == T0
    again, none = mark_seen(inc, "admin-bo", later(30))
    assert none is None and again is inc
    both, t2 = mark_seen(inc, "guard-ana", later(31))
    assert t2 is not None and t2.seq == 3 and both.seen_by == frozenset({"admin-bo", "guard-ana"})
