"""The site file: the example district validates, and every kind of error comes with its path and line."""

from __future__ import annotations

import datetime as dt
import importlib.util
from collections import Counter
from pathlib import Path

import pytest

from domain.site import (
    SiteError,
    SiteInvalid,
    check_site,
    format_errors,
    load_site,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "district.yaml"

SCHOOL = "organisation.units[0].schools[0]"
BUS = f"{SCHOOL}.buses[0]"

MINIMAL = """\
version: 1
organisation:
  id: lincoln
  kind: city
  name: City of Lincoln
  people:
    - id: ada-admin
      name: Ada Admin
      role: district_admin
  units:
    - id: salt-creek
      kind: district
      name: Salt Creek School District
      schools:
        - id: prairie-view
          name: Prairie View Elementary
          timezone: America/Chicago
          campus:
            type: Polygon
            coordinates: [[[-96.7000, 40.8003], [-96.6980, 40.8003], [-96.6980, 40.8018],
              [-96.7000, 40.8018], [-96.7000, 40.8003]]]
          hours:
            - days: [mon, tue, wed, thu, fri]
              start: "08:00"
              end: "15:15"
          buses:
            - id: bus-1
              name: Route 1
              capacity: 66
              trackers:
                - id: bus-1-gps
                  source: campusguard
                - id: bus-1-phone
                  source: osmand
                  external_id: "402101"
              route:
                depot: [-96.7100, 40.8100]
                path:
                  type: LineString
                  coordinates: [[-96.7300, 40.8000], [-96.6990, 40.8000]]
                stops:
                  - id: bus-1-s1
                    name: A St & Elm St
                    location: [-96.7300, 40.8000]
                    scheduled: "07:30"
                  - id: bus-1-s2
                    name: A St & Maple St
                    location: [-96.7150, 40.8000]
                    scheduled: "07:36"
                  - id: bus-1-s3
                    name: Prairie View (front entrance)
                    location: [-96.6990, 40.8000]
                    scheduled: "07:45"
          panic_buttons:
            - id: office-panic-1
              kind: wall
              location: [-96.6990, 40.8010]
              place: Main office
              source: zigbee2mqtt
              external_id: prairie/office_panic_1
              panic_actions: [single, hold]
          people:
            - id: gus-guard
              name: Gus Guard
              role: guard
              tracker:
                id: gus-phone
                source: owntracks
                external_id: gus/phone
"""


def line_of(text: str, snippet: str, occurrence: int = 1) -> int:
    """1-based line of the n-th line containing snippet, so expectations survive fixture edits."""
    hits = [number for number, line in enumerate(text.splitlines(), 1) if snippet in line]
    assert len(hits) >= occurrence, f"{snippet!r} not in fixture"
    return hits[occurrence - 1]


def mutate(old: str, new: str, text: str = MINIMAL) -> str:
    assert text.count(old) == 1, f"{old!r} must occur once"
    return text.replace(old, new)


def only_error(text: str) -> SiteError:
    site, errors = check_site(text, "site.yaml")
    assert site is None
    assert len(errors) == 1, format_errors(errors, "site.yaml")
    return errors[0]


def test_minimal_fixture_is_valid() -> None:
    site, errors = check_site(MINIMAL, "site.yaml")
    assert errors == []
    assert site is not None
    bus = site.organisation.units[0].schools[0].buses[0]
    assert bus.route.stops[2].scheduled == dt.time(7, 45)
    assert bus.route.path.shape().length == pytest.approx(0.031)
    assert [(u.id, parent, depth) for u, parent, depth in site.iter_units()] == [
        ("lincoln", None, 0),
        ("salt-creek", "lincoln", 1),
    ]
    assert [(s.id, unit) for s, unit in site.iter_schools()] == [("prairie-view", "salt-creek")]
    assert [(p.id, scope) for p, scope in site.iter_people()] == [
        ("ada-admin", "lincoln"),
        ("gus-guard", "prairie-view"),
    ]


def test_example_district_validates_with_required_counts() -> None:
    site = load_site(EXAMPLE)
    schools = [entry.school for entry in site.iter_schools()]
    buses = [bus for school in schools for bus in school.buses]
    buttons = [button for school in schools for button in school.panic_buttons]
    cameras = [camera for school in schools for camera in school.cameras]
    sensors = [sensor for school in schools for sensor in school.sensors]
    roles = Counter(entry.person.role for entry in site.iter_people())
    trackers = [t for bus in buses for t in bus.trackers]
    trackers += [e.person.tracker for e in site.iter_people() if e.person.tracker]

    assert site.organisation.kind == "city"
    assert any(unit.kind == "district" for unit, _, depth in site.iter_units() if depth == 1)
    assert len(schools) == 7
    assert all(school.timezone == "America/Chicago" for school in schools)
    assert len(buses) == 21
    assert all(5 <= len(bus.route.stops) <= 10 for bus in buses)
    assert sum(len(bus.route.stops) for bus in buses) == 159
    assert len(buttons) == 35
    assert Counter(b.kind for b in buttons) == {"wall": 21, "badge": 7, "phone": 7}
    assert any(b.source == "zigbee2mqtt" and "hold" in b.panic_actions for b in buttons)
    assert len(cameras) == 14
    assert {c.place_kind for c in cameras} >= {"gate", "canteen", "kitchen", "corridor"}
    assert all(c.zones for c in cameras)
    assert Counter(s.kind for s in sensors) == {"temperature": 7, "smoke": 4}
    assert Counter(t.source for t in trackers) == {"campusguard": 21, "owntracks": 11, "osmand": 5, "jt808": 7,
                                                   "gt06": 4}
    assert roles == {"guard": 15, "school_admin": 7, "district_officer": 4, "district_admin": 1, "auditor": 1}
    per_school = Counter(e.scope_id for e in site.iter_people() if e.person.role == "guard")
    assert min(per_school.values()) >= 2


def test_example_matches_its_generator() -> None:
    spec = importlib.util.spec_from_file_location("make_example", ROOT / "scripts" / "make_example_district.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.render() == EXAMPLE.read_text(encoding="utf-8")


def test_yaml_syntax_error_has_its_line() -> None:
    text = mutate("      name: Ada Admin\n", "      name: [Ada Admin\n")
    error = only_error(text)
    assert error.path == ""
    assert error.line == line_of(text, "role: district_admin")
    assert error.message.startswith("YAML syntax error in site.yaml:")


def test_unknown_key() -> None:
    text = mutate("              capacity: 66\n", "              capacity: 66\n              colour: yellow\n")
    error = only_error(text)
    assert (error.path, error.line, error.message) == (
        f"{BUS}.colour",
        line_of(text, "colour:"),
        "unknown key 'colour'",
    )


def test_wrong_type() -> None:
    text = mutate("capacity: 66", "capacity: lots")
    error = only_error(text)
    assert error.path == f"{BUS}.capacity"
    assert error.line == line_of(text, "capacity: lots")
    assert error.message == "Input should be a valid integer, unable to parse string as an integer (got 'lots')"


def test_bad_latitude() -> None:
    text = mutate("location: [-96.6990, 40.8010]", "location: [-96.6990, 140.8010]")
    error = only_error(text)
    assert error.path == f"{SCHOOL}.panic_buttons[0].location[1]"
    assert error.line == line_of(text, "140.8010")
    assert error.message == "latitude 140.801 is outside [-90, 90] (coordinates are [lon, lat])"


def test_bad_longitude() -> None:
    text = mutate("depot: [-96.7100, 40.8100]", "depot: [-196.7100, 40.8100]")
    error = only_error(text)
    assert (error.path, error.line) == (f"{BUS}.route.depot[0]", line_of(text, "depot:"))
    assert error.message == "longitude -196.71 is outside [-180, 180] (coordinates are [lon, lat])"


def test_self_intersecting_polygon() -> None:
    # Swapping two corners turns the rectangle into a bow tie.
    text = mutate("[-96.6980, 40.8003], [-96.6980, 40.8018]", "[-96.6980, 40.8018], [-96.6980, 40.8003]")
    error = only_error(text)
    assert error.path == f"{SCHOOL}.campus.coordinates"
    assert error.line == line_of(text, "coordinates: [[[")
    assert error.message.startswith("the polygon is not valid: Self-intersection")


def test_unclosed_ring() -> None:
    text = mutate("[-96.7000, 40.8018], [-96.7000, 40.8003]]]", "[-96.7000, 40.8018]]]")
    error = only_error(text)
    assert error.path == f"{SCHOOL}.campus.coordinates[0]"
    assert error.line == line_of(text, "coordinates: [[[")
    assert error.message == "the polygon ring is not closed: its last position must repeat the first"


def test_bad_timezone() -> None:
    text = mutate("America/Chicago", "America/Lincoln")
    error = only_error(text)
    assert (error.path, error.line) == (f"{SCHOOL}.timezone", line_of(text, "timezone:"))
    assert error.message == "unknown timezone 'America/Lincoln' (use an IANA name)"


def test_hours_end_not_after_start() -> None:
    text = mutate('end: "15:15"', 'end: "08:00"')
    error = only_error(text)
    assert (error.path, error.line) == (f"{SCHOOL}.hours[0].end", line_of(text, 'end: "08:00"'))
    assert error.message == "end 08:00 must be after start 08:00"


def test_stop_times_must_increase() -> None:
    text = mutate('scheduled: "07:45"', 'scheduled: "07:36"')
    error = only_error(text)
    assert error.path == f"{BUS}.route.stops[2].scheduled"
    assert error.line == line_of(text, 'scheduled: "07:36"', occurrence=2)
    assert error.message == "stop times must increase along the route (07:36 is not after 07:36)"
    assert format_errors([error], "site.yaml") == (
        f"site.yaml:{error.line}: {BUS}.route.stops[2].scheduled: "
        "stop times must increase along the route (07:36 is not after 07:36)"
    )


def test_unquoted_time_is_read_as_text_not_base_60() -> None:
    # YAML 1.1 would read 12:30 as 750; the loader keeps it a time.
    site, errors = check_site(mutate('end: "15:15"', "end: 12:30"), "site.yaml")
    assert errors == []
    assert site is not None
    assert site.organisation.units[0].schools[0].hours[0].end == dt.time(12, 30)


def test_duplicate_id_reports_both_places() -> None:
    text = mutate("- id: gus-guard", "- id: bus-1-s2")
    site, errors = check_site(text, "site.yaml")
    assert site is None
    first, second = line_of(text, "- id: bus-1-s2"), line_of(text, "- id: bus-1-s2", occurrence=2)
    assert errors == [
        SiteError(
            f"{BUS}.route.stops[1].id",
            first,
            f"id 'bus-1-s2' is used again by the person at {SCHOOL}.people[0] (line {second})",
        ),
        SiteError(
            f"{SCHOOL}.people[0].id",
            second,
            f"id 'bus-1-s2' is already used by the bus stop at {BUS}.route.stops[1] (line {first})",
        ),
    ]


def test_duplicate_external_id() -> None:
    text = mutate("external_id: gus/phone", 'external_id: "402101"').replace("source: owntracks", "source: osmand")
    site, errors = check_site(text, "site.yaml")
    assert site is None
    assert [(e.path, e.line) for e in errors] == [
        (f"{BUS}.trackers[1].external_id", line_of(text, 'external_id: "402101"')),
        (f"{SCHOOL}.people[0].tracker.external_id", line_of(text, 'external_id: "402101"', occurrence=2)),
    ]
    assert errors[1].message.startswith(f"osmand external_id '402101' is already used by the tracker at {BUS}")


def test_stop_far_from_route() -> None:
    text = mutate("location: [-96.7150, 40.8000]", "location: [-96.7150, 40.8100]")
    error = only_error(text)
    assert (error.path, error.line) == (f"{BUS}.route.stops[1].location", line_of(text, "[-96.7150, 40.8100]"))
    assert error.message == "stop is 1112 m from the route path (at most 500 m)"


def test_button_far_from_campus() -> None:
    text = mutate("location: [-96.6990, 40.8010]", "location: [-96.6700, 40.8010]")
    error = only_error(text)
    assert (error.path, error.line) == (f"{SCHOOL}.panic_buttons[0].location", line_of(text, "-96.6700"))
    assert error.message == "2357 m from the campus of prairie-view (at most 1000 m)"


def test_missing_depot() -> None:
    text = mutate("                depot: [-96.7100, 40.8100]\n", "")
    error = only_error(text)
    assert (error.path, error.line) == (f"{BUS}.route.depot", line_of(text, "route:"))
    assert error.message == "the route has no depot: give the [lon, lat] where the bus parks"


def test_guard_under_a_district() -> None:
    text = mutate("      role: district_admin", "      role: guard")
    error = only_error(text)
    assert (error.path, error.line) == ("organisation.people[0].role", line_of(text, "      role: guard"))
    assert error.message == "a guard belongs under a school, not under an organisational unit (city, county, township)"


def test_missing_trackers() -> None:
    start = MINIMAL.index("              trackers:\n")
    end = MINIMAL.index("              route:\n")
    text = MINIMAL[:start] + MINIMAL[end:]
    error = only_error(text)
    assert (error.path, error.line) == (f"{BUS}.trackers", line_of(text, "- id: bus-1"))
    assert error.message == "missing required key 'trackers'"


def test_empty_trackers() -> None:
    start = MINIMAL.index("                - id: bus-1-gps\n")
    end = MINIMAL.index("              route:\n")
    text = MINIMAL[:start].replace("trackers:\n", "trackers: []\n") + MINIMAL[end:]
    error = only_error(text)
    assert (error.path, error.line) == (f"{BUS}.trackers", line_of(text, "trackers: []"))
    assert error.message == "needs at least 1 item(s), has 0"


def test_bad_slug() -> None:
    text = mutate("- id: bus-1\n", "- id: Bus 1\n")
    error = only_error(text)
    assert (error.path, error.line) == (f"{BUS}.id", line_of(text, "- id: Bus 1"))
    assert error.message.startswith("ids are lowercase slugs")


def test_duplicate_yaml_key() -> None:
    text = mutate("              capacity: 66\n", "              capacity: 66\n              capacity: 70\n")
    error = only_error(text)
    assert (error.path, error.line, error.message) == (
        f"{BUS}.capacity",
        line_of(text, "capacity: 70"),
        "duplicate key 'capacity'",
    )


def test_several_errors_reported_together_sorted_by_line() -> None:
    text = mutate("America/Chicago", "Mars/Olympus")
    text = mutate("capacity: 66", "capacity: -3", text)
    text = mutate('scheduled: "07:36"', 'scheduled: "07:20"', text)
    text = mutate("kind: wall", "kind: ceiling", text)
    site, errors = check_site(text, "site.yaml")
    assert site is None
    assert [(e.path, e.line) for e in errors] == [
        (f"{SCHOOL}.timezone", line_of(text, "Mars/Olympus")),
        (f"{BUS}.capacity", line_of(text, "capacity: -3")),
        (f"{BUS}.route.stops[1].scheduled", line_of(text, '"07:20"')),
        (f"{SCHOOL}.panic_buttons[0].kind", line_of(text, "kind: ceiling")),
    ]
    assert errors[3].message == "Input should be 'wall', 'badge' or 'phone' (got 'ceiling')"
    report = format_errors(errors, "site.yaml").splitlines()
    assert len(report) == 4
    assert report[1] == (
        f"site.yaml:{errors[1].line}: {BUS}.capacity: Input should be greater than or equal to 1 (got -3)"
    )


def test_deeply_nested_unit_validates() -> None:
    # Put the district under a region under a county under a state: the school sits at depth 4.
    body = MINIMAL.split("  units:\n", 1)[1]
    nested = "\n".join(("      " * 3 + line) if line else line for line in body.splitlines())
    text = MINIMAL.split("  units:\n", 1)[0] + (
        "  units:\n"
        "    - id: nebraska\n      kind: state\n      name: Nebraska\n      units:\n"
        "        - id: lancaster\n          kind: county\n          name: Lancaster County\n          units:\n"
        "            - id: south-east\n              kind: region\n              name: South East\n"
        "              units:\n" + nested + "\n"
    )
    site, errors = check_site(text, "site.yaml")
    assert errors == []
    assert site is not None
    assert [(u.id, parent, depth) for u, parent, depth in site.iter_units()] == [
        ("lincoln", None, 0),
        ("nebraska", "lincoln", 1),
        ("lancaster", "nebraska", 2),
        ("south-east", "lancaster", 3),
        ("salt-creek", "south-east", 4),
    ]
    assert [(s.id, unit) for s, unit in site.iter_schools()] == [("prairie-view", "salt-creek")]


def test_load_site_raises_with_every_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(mutate("America/Chicago", "Nowhere/Town"), encoding="utf-8")
    with pytest.raises(SiteInvalid) as raised:
        load_site(path)
    assert [(e.path, e.line) for e in raised.value.errors] == [(f"{SCHOOL}.timezone", 17)]


def test_top_level_must_be_a_mapping() -> None:
    error = only_error("- just\n- a list\n")
    assert (error.path, error.line) == ("", 1)
    assert error.message == "the site file must be a mapping with 'version' and 'organisation'"
