"""Rules: the shipped file loads and says what the brief says; bad files are refused with paths."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from alerts.rules import DEFAULT_RULES, RulesError, load_rules, parse_rules
from domain.incident import Severity, Signal

T0 = datetime(2025, 3, 10, 13, 0, tzinfo=UTC)
RULES = load_rules()


def signal(kind: str, **detail: object) -> Signal:
    return Signal(f"{kind}:x", kind, "antelope-park-es", "dev-1", T0, detail=detail)


@pytest.mark.parametrize(("kind", "detail", "type_", "severity"), [
    ("panic", {"place": "Main office"}, "panic", Severity.CRITICAL),
    ("person_down", {}, "person_down", Severity.CRITICAL),
    ("knife_outside_kitchen", {}, "knife_outside_kitchen", Severity.CRITICAL),
    ("intrusion", {"after_hours": True}, "intrusion", Severity.HIGH),
    ("intrusion", {"after_hours": False}, "intrusion", Severity.MEDIUM),
    ("crowding", {}, "crowding", Severity.MEDIUM),
    ("loitering", {}, "loitering", Severity.MEDIUM),
    ("phone_in_kitchen", {}, "phone_in_kitchen", Severity.LOW),
    ("animal_in_kitchen", {}, "animal_in_kitchen", Severity.LOW),
    ("offline", {"device_kind": "panic_button", "place": "Gym"}, "device_offline", Severity.HIGH),
    ("availability_offline", {"device_kind": "panic_button", "place": "Gym"}, "device_offline", Severity.HIGH),
    ("offline", {"device_kind": "bus_tracker", "place": "Route 1"}, "device_offline", Severity.MEDIUM),
    ("offline", {"place": "Kitchen"}, "device_offline", Severity.MEDIUM),
    ("low_battery", {"place": "Gym"}, "low_battery", Severity.LOW),
    ("geo.route_deviated", {}, "route_deviated", Severity.MEDIUM),
    ("geo.overspeed_started", {}, "overspeed", Severity.MEDIUM),
    ("geo.unexpected_stop", {}, "unexpected_stop", Severity.MEDIUM),
    ("geo.late_arrival", {"stop_name": "A St & 56th"}, "late_arrival", Severity.LOW),
    ("geo.child_check_missed", {}, "child_check_missed", Severity.CRITICAL),
    ("geo.after_hours_movement", {}, "after_hours_movement", Severity.HIGH),
    ("unattended_cooking", {"zone_id": "ap/kitchen-1", "zone": "kitchen-1"}, "unattended_cooking", Severity.HIGH),
    ("smoke", {"place": "Kitchen ceiling"}, "smoke", Severity.CRITICAL),
])
def test_default_rules_cover_the_brief(kind: str, detail: dict[str, object], type_: str,
                                       severity: Severity) -> None:
    rule = RULES.match(signal(kind, **detail))
    assert rule is not None and rule.enabled
    assert (rule.type, rule.severity) == (type_, severity)
    assert "?" not in rule.render_title(signal(kind, **detail))


@pytest.mark.parametrize(("kind", "ends"), [
    ("online", "device_offline"), ("geo.route_rejoined", "route_deviated"), ("geo.overspeed_ended", "overspeed"),
    ("geo.unexpected_stop_ended", "unexpected_stop"), ("geo.after_hours_movement_ended", "after_hours_movement"),
    ("geo.child_check_completed", "child_check_missed"),
])
def test_ending_rules(kind: str, ends: str) -> None:
    rule = RULES.match(signal(kind))
    assert rule is not None and (rule.ends, rule.type) == (ends, None)


def test_groups_and_titles() -> None:
    assert RULES.group_of("panic") == RULES.group_of("person_down") == "emergency"
    assert RULES.group_of("unattended_cooking") == RULES.group_of("smoke") == "fire"
    assert RULES.group_of("crowding") == "crowding"
    assert RULES.group_of("retired_type") == "retired_type"
    late = RULES.match(signal("geo.late_arrival"))
    assert late is not None
    assert late.render_title(signal("geo.late_arrival", stop_name="A St")) == "dev-1 late at A St"
    assert late.render_title(signal("geo.late_arrival")) == "dev-1 late at ?"
    assert RULES.match(signal("door_open")) is None


def test_load_from_path_or_text_is_the_same() -> None:
    assert load_rules(DEFAULT_RULES) == load_rules(DEFAULT_RULES.read_text(encoding="utf-8"))


def test_bad_files_are_refused_with_every_problem_and_its_path(tmp_path: Path) -> None:
    bad = tmp_path / "rules.yaml"
    bad.write_text("""version: 1
rules:
  - kind: panic
    type: panic
    severity: urgent
    title: "{source_id.__class__}"
    colour: red
  - kind: online
    ends: panic
    severity: low
""", encoding="utf-8")
    with pytest.raises(RulesError) as caught:
        load_rules(bad)
    assert caught.value.errors == [
        "rules[0].severity: Input should be 'critical', 'high', 'medium', 'low' or 'info'",
        "rules[0].title: title field {source_id.__class__} must be a bare name like {source_id}",
        "rules[0].colour: Extra inputs are not permitted",
        "rules[1]: a rule that ends incidents takes no severity, title or group",
    ]


@pytest.mark.parametrize(("text", "error"), [
    ("version: 1\nrules: []\n", "rules: Tuple should have at least 1 item after validation, not 0"),
    ("version: 2\nrules: [{kind: a, ends: b}]\n", "version: Input should be less than or equal to 1"),
    ("version: 1\nrules: [{kind: a}]\n", "rules[0]: a rule gives either type (it opens incidents) or ends"),
    ("version: 1\nrules: [{kind: a, type: a}]\n", "rules[0]: a rule that opens incidents needs severity and title"),
    ("version: 1\nrules: [{kind: a, ends: b}]\n", "(top): rules[0]: ends 'b', which no rule opens"),
    ("version: 1\nrules:\n  - {kind: a, type: a, severity: low, title: t, group: g}\n"
     "  - {kind: b, type: a, severity: low, title: t, group: h}\n",
     "(top): rules[1]: type 'a' is in group 'g' in an earlier rule, not 'h'; one type merges in one group"),
    ("version: 1\nrules: [{kind: a, type: a, severity: low, title: '{'}]\n", "rules[0].title: title is not a valid"),
    ("rules: [\n", "not valid YAML"),
])
def test_each_problem_reads_clearly(text: str, error: str) -> None:
    with pytest.raises(RulesError) as caught:
        parse_rules(text)
    assert any(e.startswith(error) for e in caught.value.errors), caught.value.errors


def test_a_disabled_rule_is_matched_but_not_enabled() -> None:
    rules = parse_rules("""version: 1
rules:
  - {kind: crowding, type: crowding, severity: medium, title: "Crowd", enabled: false}
  - {kind: crowding, type: crowding, severity: low, title: "Crowd (generic)"}
""")
    rule = rules.match(signal("crowding"))
    assert rule is not None and not rule.enabled and rule.severity is Severity.MEDIUM
