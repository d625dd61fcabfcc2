"""Escalation: first notice, level by level on the SLA, re-notification, the end of the chain, acknowledgement."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from alerts.escalation import EscalationPolicy, due, next_escalation_at, record_notification
from alerts.lifecycle import Action, apply
from domain.incident import Incident, Severity, Status

T0 = datetime(2025, 3, 10, 13, 0, tzinfo=UTC)
POLICY = EscalationPolicy()


def raised(severity: Severity = Severity.CRITICAL) -> Incident:
    return Incident(id=7, school_id="antelope-park-es", type="panic", severity=severity, status=Status.RAISED,
                    title="Panic", opened_at=T0, updated_at=T0, last_signal_at=T0, event_seq=1)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def notified(severity: Severity = Severity.CRITICAL) -> Incident:
    step = due(raised(severity), POLICY, T0)
    assert step is not None
    return record_notification(raised(severity), step, T0)[0]


def test_first_notice_goes_to_the_first_level_at_once() -> None:
    step = due(raised(), POLICY, T0)
    assert step is not None
    assert (step.kind, step.level, step.recipients, step.reason, step.due_at, step.renotify) == (
        "notify", 0, "school_guards", "raised", T0, False)
    inc, t = record_notification(raised(), step, T0)
    assert (inc.last_notified_at, inc.escalation_level, inc.event_seq) == (T0, 0, 2)
    assert (t.kind, t.actor, t.seq, dict(t.detail)) == (
        "notified", "system", 2, {"level": 0, "recipients": "school_guards", "due_at": T0.isoformat()})


def test_critical_escalates_at_60_s_and_renotifies_at_30_s() -> None:
    inc = notified()
    assert due(inc, POLICY, at(29.999)) is None
    reminder = due(inc, POLICY, at(30))
    assert reminder is not None and (reminder.kind, reminder.level, reminder.recipients) == (
        "renotify", 0, "school_guards")
    inc = record_notification(inc, reminder, at(30))[0]
    assert due(inc, POLICY, at(59.999)) is None
    step = due(inc, POLICY, at(60))
    assert step is not None
    assert (step.kind, step.level, step.recipients, step.due_at) == ("escalate", 1, "school_admin", at(60))
    assert step.reason == "not acknowledged within 60 s at level 0" and step.after_s == 60
    inc, t = record_notification(inc, step, at(60))
    assert t.kind == "escalated" and inc.escalation_level == 1
    assert next_escalation_at(inc, POLICY) == at(120)
    step = due(inc, POLICY, at(120))
    assert step is not None and (step.level, step.recipients) == (2, "district_officer")


def test_never_beyond_the_last_level_then_only_reminders() -> None:
    inc = notified()
    for level, moment in ((1, 60), (2, 120)):
        step = due(inc, POLICY, at(moment))
        assert step is not None and step.level == level
        inc = record_notification(inc, step, at(moment))[0]
    assert next_escalation_at(inc, POLICY) is None
    step = due(inc, POLICY, at(10_000))
    assert step is not None and (step.kind, step.level, step.recipients) == ("renotify", 2, "district_officer")


def test_a_service_that_was_down_catches_up_one_level_per_call() -> None:
    inc = notified(Severity.HIGH)
    step = due(inc, POLICY, at(1000))  # 180 s SLA: levels 1 and 2 both overdue
    assert step is not None and (step.level, step.due_at) == (1, at(180))
    inc = record_notification(inc, step, at(1000))[0]
    step = due(inc, POLICY, at(1000))
    assert step is not None and (step.level, step.due_at) == (2, at(360))


def test_acknowledgement_stops_everything() -> None:
    inc = notified()
    acked, _ = apply(inc, Action.ACKNOWLEDGE, "guard-ana", at(10))
    assert due(acked, POLICY, at(10_000)) is None
    assert next_escalation_at(acked, POLICY) is None


def test_info_never_escalates_and_low_is_never_reminded() -> None:
    assert due(notified(Severity.INFO), POLICY, at(1e6)) is None
    low = notified(Severity.LOW)
    assert due(low, POLICY, at(3599)) is None
    step = due(low, POLICY, at(3600))
    assert step is not None and step.kind == "escalate"


def test_a_merge_to_critical_brings_the_next_level_forward() -> None:
    medium = notified(Severity.MEDIUM)
    assert due(medium, POLICY, at(120)) is None
    critical = replace(medium, severity=Severity.CRITICAL)
    step = due(critical, POLICY, at(120))
    assert step is not None and (step.kind, step.level, step.due_at) == ("escalate", 1, at(60))


def test_policy_is_validated() -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        EscalationPolicy.model_validate({"ack_sla": {}})
    with pytest.raises(ValidationError, match="chain names a level twice"):
        EscalationPolicy(chain=("a", "a"))
    with pytest.raises(ValidationError, match="greater than 0"):
        EscalationPolicy.model_validate({"ack_sla_s": {"critical": 0}})
    custom = EscalationPolicy.model_validate({"ack_sla_s": {"critical": 30}, "chain": ["guards"]})
    assert custom.sla(Severity.CRITICAL) == timedelta(seconds=30) and custom.sla(Severity.HIGH) is None
