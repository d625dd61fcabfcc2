"""The example city (issue 18): five levels, classes with head teachers, enrolment and the GB/T 29315 guards.

Also the new fields' errors, each in plain words at its path and line, and the staffing rule at its boundaries.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import re
from collections import Counter
from pathlib import Path

import pytest

from domain.site import SiteError, check_site, format_errors, guards_required, load_site
from tests.site.test_site_validation import MINIMAL, line_of, mutate

ROOT = Path(__file__).resolve().parents[2]
CITY = ROOT / "examples" / "city.yaml"
SCHOOL = "organisation.units[0].schools[0]"

CLASS = """\
          classes:
            - id: class-3-2
              name: Year 3, class 2
              pupils: 28
              buses: [bus-1]
              head_teacher:
                id: hana-teacher
                name: Hana Teacher
                role: head_teacher
                locale: zh-CN
"""


def with_class(text: str = CLASS) -> str:
    """The minimal site with a class (and its head teacher) under its school."""
    return MINIMAL + text


def only_error(text: str) -> SiteError:
    site, errors = check_site(text, "site.yaml")
    assert site is None
    assert len(errors) == 1, format_errors(errors, "site.yaml")
    return errors[0]


@pytest.mark.parametrize(("pupils", "guards"), [(0, 1), (1, 1), (99, 1), (100, 2), (999, 2), (1000, 3),
                                                (1499, 3), (1500, 4), (1999, 4), (2000, 5), (2600, 6)])
def test_guards_required_by_gb_t_29315(pupils: int, guards: int) -> None:
    assert guards_required(pupils) == guards


def test_guards_required_refuses_a_negative_enrolment() -> None:
    with pytest.raises(ValueError, match="negative"):
        guards_required(-1)


def test_a_class_is_the_fifth_level_and_its_head_teacher_is_scoped_to_it() -> None:
    site, errors = check_site(with_class(), "site.yaml")
    assert errors == [] and site is not None
    school = site.organisation.units[0].schools[0]
    assert [(c.id, c.head_teacher.id, c.buses) for c in school.classes] == [("class-3-2", "hana-teacher", ("bus-1",))]
    assert ("hana-teacher", "class-3-2") in [(p.id, scope) for p, scope in site.iter_people()]


def test_a_head_teacher_among_the_schools_staff_is_refused() -> None:
    text = mutate("              role: guard", "              role: head_teacher")
    error = only_error(text)
    assert (error.path, error.line) == (f"{SCHOOL}.people[0].role", line_of(text, "role: head_teacher"))
    assert error.message == "a head_teacher belongs under a class of a school (its head_teacher), not under a school"


def test_a_guard_as_a_classs_head_teacher_is_refused() -> None:
    text = with_class(CLASS.replace("role: head_teacher", "role: guard"))
    error = only_error(text)
    assert (error.path, error.line) == (f"{SCHOOL}.classes[0].head_teacher.role", line_of(text, "role: guard", 2))
    assert error.message == "a guard belongs under a school, not under a class of a school (its head_teacher)"


def test_a_roster_naming_another_schools_bus_is_refused() -> None:
    text = with_class(CLASS.replace("buses: [bus-1]", "buses: [bus-9]"))
    error = only_error(text)
    assert (error.path, error.line) == (f"{SCHOOL}.classes[0].buses[0]", line_of(text, "buses: [bus-9]"))
    assert error.message == "no bus 'bus-9' serves prairie-view; a class rides its own school's buses"


def test_a_class_id_clashing_with_a_person_is_reported_at_both() -> None:
    text = with_class(CLASS.replace("id: class-3-2", "id: gus-guard"))
    site, errors = check_site(text, "site.yaml")
    assert site is None
    assert sorted(e.path for e in errors) == [f"{SCHOOL}.classes[0].id", f"{SCHOOL}.people[0].id"]


@pytest.mark.parametrize(("line", "bad", "message"), [
    ("          timezone: America/Chicago", "          timezone: America/Chicago\n          pupils: 0",
     "Input should be greater than or equal to 1 (got 0)"),
    ("          timezone: America/Chicago", "          timezone: America/Chicago\n          stage: college",
     "Input should be 'kindergarten', 'primary', 'middle', 'nine_year', 'high' or 'vocational' (got 'college')"),
    ("          timezone: America/Chicago", "          timezone: America/Chicago\n          boarding: sometimes",
     "Input should be a valid boolean, unable to interpret input (got 'sometimes')"),
])
def test_new_school_fields_explain_themselves(line: str, bad: str, message: str) -> None:
    text = mutate(line, bad)
    error = only_error(text)
    field = bad.rsplit("\n", 1)[1].split(":")[0].strip()
    assert (error.path, error.line) == (f"{SCHOOL}.{field}", line_of(text, f"{field}:"))
    assert error.message == message


def test_the_example_city_has_five_levels_and_what_the_issue_asks() -> None:
    site = load_site(CITY)
    units = list(site.iter_units())
    schools = [entry.school for entry in site.iter_schools()]
    people = list(site.iter_people())
    assert site.organisation.kind == "city"
    counties = [u for u, _, depth in units if depth == 1]
    assert Counter(u.kind for u in counties) == {"district": 3, "county": 2, "functional zone": 2}
    assert {u.kind for u, _, depth in units if depth == 2} == {"town", "township", "subdistrict"}
    assert all(not u.schools for u, _, depth in units if depth < 2)  # every school sits under a township
    assert 28 <= len(schools) <= 32
    assert {s.stage for s in schools} == {"kindergarten", "primary", "middle", "nine_year"}
    assert all(s.timezone == "Asia/Shanghai" and s.pupils for s in schools)
    assert all(113.9 < lon < 114.8 and 35.4 < lat < 36.1 for s in schools for lon, lat in s.campus.coordinates[0])
    for s in schools:
        guards = [p for p in s.people if p.role == "guard"]
        assert s.pupils is not None and len(guards) >= guards_required(s.pupils), s.id
        assert {"gate", "perimeter", "kitchen", "canteen"} <= {c.place_kind for c in s.cameras}, s.id
        kitchen_zones = {z.name for c in s.cameras if c.place_kind == "kitchen" for z in c.zones}
        assert kitchen_zones == {"灶台区", "切配区", "库房"}, s.id
        assert s.classes and all(c.head_teacher.role == "head_teacher" for c in s.classes), s.id
        assert ("dormitory" in {c.place_kind for c in s.cameras}) == s.boarding, s.id
        if s.boarding:  # boarders are in the canteen at supper: no intrusion alarm for eating after class
            canteen = next(z for c in s.cameras if c.place_kind == "canteen" for z in c.zones)
            assert canteen.hours and max(h.end for h in canteen.hours) >= dt.time(19), s.id
        # Every bus's village pupils belong to a class whose head teacher follows the roster.
        assert {b.id for b in s.buses} == {bus for c in s.classes for bus in c.buses}, s.id
    buses = [b for s in schools for b in s.buses]
    assert len(buses) >= 15 and all(s.boarding for s in schools if s.buses)
    assert all([t.source for t in b.trackers] == ["jt808"] for b in buses)
    assert all(b.route.stops[-1].scheduled < s.hours[0].start for s in schools for b in s.buses)
    assert all(stop.name.endswith("村口") for b in buses for stop in b.route.stops[:-1])
    assert Counter(p.person.role for p in people).keys() == {"guard", "school_admin", "head_teacher",
                                                             "district_officer", "district_admin", "auditor"}
    assert all(p.person.locale == "zh-CN" and re.fullmatch(r"\+86 1\d\d \d{4} \d{4}", p.person.phone or "")
               for p in people)
    trackers = Counter(p.person.tracker.source for p in people if p.person.tracker)
    assert trackers["gt06"] >= 2 and trackers["owntracks"] >= 1
    officers = {scope for p, scope in people if p.role == "district_officer"}
    assert officers == {u.id for u, _, depth in units if depth in (1, 2)}  # an officer at every county and township


def test_the_example_city_matches_its_generator() -> None:
    spec = importlib.util.spec_from_file_location("make_city", ROOT / "scripts" / "make_example_city.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.render() == CITY.read_text(encoding="utf-8")
