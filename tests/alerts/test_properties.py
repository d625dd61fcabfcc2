"""Properties over random streams: a sound state machine, no signal lost or double-counted, exact escalation."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.correlate import Ignore, Merge, NewIncident, Repeat, correlate, fold, open_incident
from alerts.escalation import EscalationPolicy, due, record_notification
from alerts.lifecycle import TRANSITIONS, Action, InvalidTransition, apply
from alerts.rules import load_rules
from domain.incident import Incident, Outcome, Severity, Signal, Status

T0 = datetime(2025, 3, 10, 13, 0, tzinfo=UTC)
RULES = load_rules()
POLICY = EscalationPolicy()


def raised(severity: Severity = Severity.CRITICAL) -> Incident:
    return Incident(id=1, school_id="s", type="panic", severity=severity, status=Status.RAISED, title="t",
                    opened_at=T0, updated_at=T0, last_signal_at=T0, event_seq=1)


moves = st.tuples(st.sampled_from(list(Action)), st.none() | st.sampled_from(list(Outcome)),
                  st.sampled_from([None, "", "a reason"]), st.floats(0, 600))


@given(st.lists(moves, max_size=30))
def test_the_state_machine_never_reaches_an_invalid_state(steps: list[tuple[Action, Outcome | None,
                                                                            str | None, float]]) -> None:
    incident, clock = raised(), T0
    for action, outcome, note, gap in steps:
        clock += timedelta(seconds=gap)
        before = incident
        try:
            incident, transition = apply(incident, action, "guard", clock, note=note, outcome=outcome)
        except InvalidTransition:
            assert incident is before
            continue
        assert TRANSITIONS[(action, before.status)] is incident.status
        assert (transition.seq, incident.event_seq) == (before.event_seq + 1, before.event_seq + 1)
        assert transition.detail["from"] == before.status.value and transition.detail["to"] == incident.status
        assert (incident.outcome is not None) == (incident.status in (Status.RESOLVED, Status.CLOSED))
        assert (incident.resolved_at is not None) == (incident.outcome is not None)
        assert (incident.acknowledged_at is not None) == (incident.status is not Status.RAISED)
        if outcome is Outcome.FALSE_ALARM or action is Action.REOPEN:
            assert transition.note


KINDS = ["panic", "person_down", "crowding", "smoke", "unattended_cooking", "intrusion", "offline", "online",
         "geo.route_deviated", "geo.route_rejoined", "door_open"]
signals = st.builds(
    lambda kind, source, school, seconds, north_m, after_hours: Signal(
        f"{kind}:{school}:{source}:{seconds}:{north_m}:{after_hours}", kind, school, source,
        T0 + timedelta(seconds=seconds), -96.69, 40.80 + north_m / 111_195,
        {"after_hours": after_hours, "zone_id": "k"}),
    st.sampled_from(KINDS), st.sampled_from(["d1", "d2", "d3"]), st.sampled_from(["a", "b"]),
    st.integers(0, 3600), st.sampled_from([0, 30, 90, 400]), st.booleans())


@settings(max_examples=300)
@given(st.lists(signals, max_size=40), st.lists(st.integers(0, 39), max_size=8), st.data())
def test_no_signal_is_lost_or_counted_twice(stream: list[Signal], redeliver: list[int], data: st.DataObject) -> None:
    # Re-deliver some signals later in the stream: they must be recognised, not counted again.
    stream = stream + [stream[i] for i in redeliver if i < len(stream)]
    incidents: dict[int, Incident] = {}
    accepted: list[str] = []
    counted = ended = repeats = 0
    for signal in stream:
        decision = correlate(incidents.values(), signal, RULES)
        rule = RULES.match(signal)
        first_time = signal.signal_id not in accepted
        if isinstance(decision, Ignore):
            # Only a re-delivery, an unknown kind or an ending with nothing to end is ignored.
            assert not first_time or rule is None or rule.ends is not None
            continue
        assert first_time
        accepted.append(signal.signal_id)
        if isinstance(decision, NewIncident):
            ident = len(incidents) + 1
            incidents[ident] = replace(open_incident(signal, decision, signal.time)[0], id=ident)
            counted += 1
        else:
            target = incidents[decision.incident_id]
            assert target.status.is_open and target.school_id == signal.school_id
            incidents[decision.incident_id] = fold(target, signal, decision, signal.time)[0]
            if isinstance(decision, Merge) and decision.ends:
                ended += 1
            else:
                counted += 1
            repeats += isinstance(decision, Repeat)
        if data.draw(st.booleans(), label="resolve the newest incident now"):
            newest = incidents[max(incidents)]
            if newest.status.is_open:
                incidents[max(incidents)] = apply(newest, Action.RESOLVE, "g", signal.time, note="n",
                                                  outcome=Outcome.DRILL)[0]
    every = [sid for i in incidents.values() for sid in i.signal_ids]
    assert sorted(every) == sorted(accepted) and len(set(every)) == len(every)
    assert sum(i.occurrences for i in incidents.values()) == counted == len(accepted) - ended
    assert sum(len(i.evidence) for i in incidents.values()) == len(accepted) - repeats
    for incident in incidents.values():
        # Only one merge group per incident, and the severity is the most urgent of what opened or joined it.
        openers = [r for s in stream if s.signal_id in incident.signal_ids
                   for r in [RULES.match(s)] if r is not None and r.type is not None]
        assert {r.merge_group() for r in openers} == {RULES.group_of(incident.type)}
        assert incident.severity == max(r.severity or Severity.INFO for r in openers)

with_sla = st.sampled_from([Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW])


@given(with_sla, st.floats(0, 20_000, allow_nan=False))
def test_escalation_fires_exactly_when_the_sla_passes(severity: Severity, seconds: float) -> None:
    first = due(raised(severity), POLICY, T0)
    assert first is not None
    incident = record_notification(raised(severity), first, T0)[0]
    sla = POLICY.sla(severity)
    assert sla is not None
    step = due(incident, POLICY, T0 + timedelta(seconds=seconds))
    escalates = step is not None and step.kind == "escalate"
    assert escalates == (timedelta(seconds=seconds) >= sla)


@given(with_sla, st.lists(st.floats(1, 400), min_size=1, max_size=80), st.none() | st.floats(0, 20_000))
def test_escalation_walks_the_chain_on_an_injected_clock(severity: Severity, ticks: list[float],
                                                         ack_after: float | None) -> None:
    incident, clock = raised(severity), T0
    sla = POLICY.sla(severity)
    assert sla is not None
    for tick in ticks:
        clock += timedelta(seconds=tick)
        if ack_after is not None and incident.status is Status.RAISED and clock >= T0 + timedelta(seconds=ack_after):
            incident = apply(incident, Action.ACKNOWLEDGE, "guard", clock)[0]
        step = due(incident, POLICY, clock)
        if incident.status is not Status.RAISED:
            assert step is None
            continue
        while step is not None:
            if step.kind == "escalate":
                assert step.level == incident.escalation_level + 1 < len(POLICY.chain)
                assert step.due_at == T0 + step.level * sla <= clock
            incident = record_notification(incident, step, clock)[0]
            step = due(incident, POLICY, clock)
        # Caught up: every level whose deadline has passed is notified, none whose deadline has not.
        expected = min(len(POLICY.chain) - 1, int((clock - T0) / sla))
        assert incident.escalation_level == expected
