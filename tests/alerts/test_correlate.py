"""Correlation: new, merge, repeat, ignore, ending signals, and folding a decision into an incident."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from alerts.correlate import Ignore, Merge, NewIncident, Repeat, correlate, distance_m, fold, open_incident
from alerts.rules import load_rules
from domain.incident import Incident, Severity, Signal, Status

T0 = datetime(2025, 3, 10, 13, 0, tzinfo=UTC)
RULES = load_rules()
LON, LAT = -96.6900, 40.8010
NORTH_30M = 30 / 111_195  # degrees of latitude in 30 m


def sig(kind: str, source: str, seconds: float = 0, lat: float | None = LAT, sid: str | None = None,
        **detail: object) -> Signal:
    lon = None if lat is None else LON
    return Signal(sid or f"{kind}:{source}:{seconds}", kind, "antelope-park-es", source,
                  T0 + timedelta(seconds=seconds), lon, lat, detail, evidence_ref=f"snap/{source}.jpg")


def opened(signal: Signal, ident: int = 1) -> Incident:
    decision = correlate([], signal, RULES)
    assert isinstance(decision, NewIncident)
    return replace(open_incident(signal, decision, signal.time)[0], id=ident)


def test_distance_is_haversine_metres() -> None:
    assert distance_m(LON, LAT, LON, LAT + NORTH_30M) == pytest.approx(30.0, abs=0.01)
    assert distance_m(0, 0, 1, 0) == pytest.approx(111_195, rel=1e-4)


def test_a_panic_and_a_person_down_30_m_and_20_s_apart_are_one_incident() -> None:
    press = sig("panic", "btn-1", place="Main office")
    decision = correlate([], press, RULES)
    assert isinstance(decision, NewIncident)
    assert (decision.type, decision.severity, decision.title) == ("panic", Severity.CRITICAL, "Panic: Main office")
    assert (decision.evidence.kind, decision.evidence.signal_id, decision.evidence.source_id) == (
        "panic", press.signal_id, "btn-1")
    assert isinstance(decision, NewIncident)
    incident, raised = open_incident(press, decision, press.time)
    assert (incident.status, incident.occurrences, incident.lon, incident.lat, raised.kind, raised.seq) == (
        Status.RAISED, 1, LON, LAT, "raised", 1)
    incident = replace(incident, id=5)
    fall = sig("person_down", "cam-hall", 20, lat=LAT + NORTH_30M)
    merge = correlate([incident], fall, RULES)
    assert isinstance(merge, Merge)
    assert (merge.incident_id, merge.severity, merge.realert, merge.ends) == (5, Severity.CRITICAL, False, False)
    merged, t = fold(incident, fall, merge, fall.time)
    assert [e.kind for e in merged.evidence] == ["panic", "person_down"]
    assert merged.evidence[1].ref == "snap/cam-hall.jpg"
    assert (merged.occurrences, merged.last_signal_at, merged.event_seq, t.kind, t.seq) == (
        2, T0 + timedelta(seconds=20), 2, "evidence", 2)


def test_too_far_or_too_late_or_another_group_opens_a_new_incident() -> None:
    incident = opened(sig("panic", "btn-1"))
    far = sig("person_down", "cam-yard", 20, lat=LAT + 200 / 111_195)
    assert isinstance(correlate([incident], far, RULES), NewIncident)
    late = sig("person_down", "cam-hall", 301)
    assert isinstance(correlate([incident], late, RULES), NewIncident)
    crowd = sig("crowding", "cam-hall", 5)
    assert isinstance(correlate([incident], crowd, RULES), NewIncident)
    other_school = replace(incident, school_id="holdrege-es")
    assert isinstance(correlate([other_school], sig("person_down", "cam-hall", 5), RULES), NewIncident)
    resolved = replace(incident, status=Status.RESOLVED)
    assert isinstance(correlate([resolved], sig("person_down", "cam-hall", 5), RULES), NewIncident)


def test_a_looping_scene_is_one_incident_while_nobody_has_answered_it() -> None:
    # The demo's corridor clip shows its fall every six minutes: before, each loop past the 5-minute window
    # opened a fresh critical beside the first, still unanswered one.
    fall = opened(sig("person_down", "cam-corridor"))
    again = sig("person_down", "cam-corridor", 6 * 60)
    assert correlate([fall], again, RULES) == Repeat(1)
    standing = replace(fall, last_signal_at=again.time)  # each repeat renews the standing alarm
    assert correlate([standing], sig("person_down", "cam-corridor", 12 * 60), RULES) == Repeat(1)
    # Bounded: an hour after its last signal, or a panic after its window, is raised afresh.
    assert isinstance(correlate([fall], sig("person_down", "cam-corridor", 3601), RULES), NewIncident)
    press = opened(sig("panic", "btn-1"))
    assert isinstance(correlate([press], sig("panic", "btn-1", 6 * 60), RULES), NewIncident)
    # Once a person took it on, a fall past the window is a new situation of its own.
    answered = replace(fall, status=Status.ACKNOWLEDGED)
    assert isinstance(correlate([answered], again, RULES), NewIncident)
    # Another camera, or another kind, is never folded this way.
    assert isinstance(correlate([fall], sig("person_down", "cam-yard", 6 * 60, lat=LAT + 0.01), RULES), NewIncident)
    assert isinstance(correlate([fall], sig("crowding", "cam-corridor", 6 * 60), RULES), NewIncident)


def test_a_merge_raises_severity_to_the_max_and_asks_to_realert() -> None:
    cooking = opened(sig("unattended_cooking", "temp-1", zone_id="kitchen"))
    assert cooking.severity is Severity.HIGH
    smoke = sig("smoke", "smoke-1", 120)
    merge = correlate([cooking], smoke, RULES)
    assert isinstance(merge, Merge) and (merge.severity, merge.realert) == (Severity.CRITICAL, True)
    merged, t = fold(cooking, smoke, merge, smoke.time)
    assert merged.severity is Severity.CRITICAL
    assert dict(t.detail) == {"signal_id": smoke.signal_id, "kind": "smoke", "signal_at": smoke.time.isoformat(),
                              "severity_from": "high",
                              "severity_to": "critical"}
    # The other way round the severity stays critical and nobody is paged again.
    fire = opened(sig("smoke", "smoke-1"))
    back = correlate([fire], sig("unattended_cooking", "temp-1", 60, zone_id="kitchen"), RULES)
    assert isinstance(back, Merge) and (back.severity, back.realert) == (Severity.CRITICAL, False)


def test_the_same_button_again_is_a_repeat_and_a_redelivery_is_ignored() -> None:
    first = sig("panic", "btn-1")
    incident = opened(first, 9)
    again = sig("panic", "btn-1", 15)
    assert correlate([incident], again, RULES) == Repeat(9)
    repeated, t = fold(incident, again, Repeat(9), again.time)
    assert (repeated.occurrences, len(repeated.evidence), repeated.severity, t.kind) == (
        2, 1, Severity.CRITICAL, "repeat")
    assert correlate([repeated], again, RULES) == Ignore(f"signal {again.signal_id} is already in incident 9")


def test_an_intrusion_going_on_past_closing_is_merged_to_raise_it() -> None:
    daytime = opened(sig("intrusion", "cam-gate", after_hours=False))
    night = sig("intrusion", "cam-gate", 60, after_hours=True)
    decision = correlate([daytime], night, RULES)
    assert isinstance(decision, Merge) and decision.realert and decision.severity is Severity.HIGH


def test_bus_events_follow_the_bus_not_the_place() -> None:
    deviated = opened(sig("geo.route_deviated", "bus-01"))
    stop = sig("geo.unexpected_stop", "bus-01", 600, lat=LAT + 0.05)  # 5.5 km further on
    assert isinstance(correlate([deviated], stop, RULES), Merge)
    other_bus = sig("geo.unexpected_stop", "bus-02", 600)
    assert isinstance(correlate([deviated], other_bus, RULES), NewIncident)


def test_signals_without_a_position_count_as_near() -> None:
    incident = opened(sig("panic", "badge-7", lat=None))
    fall = sig("person_down", "cam-hall", 20)
    merge = correlate([incident], fall, RULES)
    assert isinstance(merge, Merge)
    merged, _ = fold(incident, fall, merge, fall.time)
    assert (merged.lon, merged.lat) == (LON, LAT)  # the first located evidence places it


def test_ending_signals_attach_as_evidence_and_resolve_nothing() -> None:
    offline = opened(sig("offline", "btn-1", lat=None, device_kind="panic_button"), 3)
    assert offline.severity is Severity.HIGH
    online = sig("online", "btn-1", 3 * 86_400, lat=None)  # days later: endings have no window
    decision = correlate([offline], online, RULES)
    assert isinstance(decision, Merge) and decision.ends and decision.incident_id == 3
    ended, t = fold(offline, online, decision, online.time)
    assert (ended.status, ended.occurrences, len(ended.evidence), t.kind) == (Status.RAISED, 1, 2, "ended")
    assert ended.evidence[1].summary == "online (ends device_offline)"
    assert ended.last_signal_at == T0  # an ending does not keep the situation's merge window open
    assert correlate([offline], sig("online", "btn-2", 60, lat=None), RULES) == Ignore(
        "online from btn-2: no open device_offline incident to attach to")


def test_ignored_signals_say_why() -> None:
    assert correlate([], sig("door_open", "door-1"), RULES) == Ignore("no rule for door_open")
    with pytest.raises(ValueError, match="correlate needs stored incidents"):
        correlate([replace(opened(sig("panic", "b")), id=None)], sig("panic", "b", 1), RULES)


def test_fold_refuses_a_decision_for_another_incident() -> None:
    incident = opened(sig("panic", "btn-1"), 4)
    with pytest.raises(ValueError, match="decision is for incident 5, not 4"):
        fold(incident, sig("panic", "btn-1", 3), Repeat(5), T0)


def test_device_time_dates_the_situation_and_server_time_dates_the_decisions() -> None:
    # A press buffered for ten minutes (a dead zone), or from a button whose clock is ten minutes behind.
    press = sig("panic", "btn-1")
    server = T0 + timedelta(minutes=10)
    decision = correlate([], press, RULES)
    assert isinstance(decision, NewIncident)
    incident, raised = open_incident(press, decision, server)
    assert (incident.opened_at, incident.raised_at, incident.updated_at, raised.time) == (T0, server, server, server)
    assert raised.detail["signal_at"] == T0.isoformat()
    # A later press with an earlier device time still moves the record forward, never back.
    incident = replace(incident, id=1)
    early = sig("panic", "btn-1", -30)
    later, t = fold(incident, early, Repeat(1), server + timedelta(seconds=5))
    assert (later.opened_at, later.updated_at, later.raised_at, t.time) == (
        T0 - timedelta(seconds=30), server + timedelta(seconds=5), server, server + timedelta(seconds=5))


def test_a_source_toggling_three_times_a_minute_is_one_chattering_incident() -> None:
    offline = opened(sig("offline", "btn-1", lat=None, device_kind="panic_button"), 3)
    incident, at = offline, T0
    kinds = ["online", "offline", "online", "offline"]
    for step, kind in enumerate(kinds, start=1):
        at = T0 + timedelta(seconds=15 * step)
        signal = sig(kind, "btn-1", 15 * step, lat=None, device_kind="panic_button")
        decision = correlate([incident], signal, RULES)
        assert isinstance(decision, Merge | Repeat), decision
        incident, t = fold(incident, signal, decision, at)
        if step == 3:
            assert t.detail["chattering"] == 3
    assert (incident.id, incident.toggles, incident.chattering, incident.cleared_at) == (3, 4, True, None)
    # The same toggles spread over minutes are a condition coming and going, not chattering.
    slow = replace(offline, recent_toggles=(T0, T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)), toggles=3)
    assert not slow.chattering


def test_drill_mode_signals_never_join_real_incidents_and_real_never_join_drills() -> None:
    real = opened(sig("panic", "btn-1"), 1)
    press = sig("panic", "btn-1", 20)
    drilled = correlate([real], press, RULES, drill=True)
    assert isinstance(drilled, NewIncident)
    drill_incident = replace(open_incident(press, drilled, press.time, drill=True)[0], id=2)
    assert drill_incident.drill and not real.drill
    assert correlate([real, drill_incident], sig("panic", "btn-1", 40), RULES) == Repeat(1)
    assert correlate([real, drill_incident], sig("panic", "btn-1", 40), RULES, drill=True) == Repeat(2)
