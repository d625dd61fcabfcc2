"""Compiling a camera's zones and its school's hours: zone membership by foot point, after hours by local time."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from domain.site import load_site
from domain.site.devices import CameraZone
from tests.vision.zone_helpers import CAMERA_ID, camera, obs, person, rules, school, thing
from vision.zones import after_hours, compile_camera, object_point, zones_at

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "district.yaml"
UTC = dt.UTC


def test_every_example_camera_compiles_with_its_school() -> None:
    site = load_site(EXAMPLE)
    compiled = [compile_camera(cam, entry.school) for entry in site.iter_schools() for cam in entry.school.cameras]
    assert len(compiled) == 14
    kitchen = next(c for c in compiled if c.camera_id == "antelope-park-cam-kitchen")
    assert kitchen.place_kind == "kitchen"
    assert [(z.name, z.kind) for z in kitchen.zones] == [("Cold room door", "restricted"), ("Cooking line", "kitchen")]
    assert kitchen.timezone == ZoneInfo("America/Chicago")
    assert all(zone.polygon.is_valid for c in compiled for zone in c.zones)


def test_zone_thresholds_come_from_the_site_file() -> None:
    compiled = rules([{"name": "Hall", "kind": "general", "polygon": [[0, 0], [1, 0], [1, 1]],
                       "max_people": 4, "loiter_s": 30}])
    assert (compiled.zone("Hall").max_people, compiled.zone("Hall").loiter_s) == (4, 30)
    assert (rules().zone("Gate").max_people, rules().zone("Gate").loiter_s) == (None, None)
    with pytest.raises(KeyError):
        compiled.zone("Nowhere")


@pytest.mark.parametrize("field", ["max_people", "loiter_s"])
def test_zone_thresholds_must_be_positive(field: str) -> None:
    with pytest.raises(ValidationError):
        CameraZone.model_validate({"name": "Hall", "kind": "general", "polygon": [[0, 0], [1, 0], [1, 1]],
                                   field: 0})


def test_a_person_is_where_their_feet_are() -> None:
    compiled = rules()
    # Feet in the Gate, head well above it (over nothing): the feet decide.
    standing = person(1, 0.5, 0.45)
    assert standing.box.y1 / 1000 < 0.4
    assert [z.name for z in zones_at(compiled, object_point(standing, obs(0, standing)))] == ["Gate"]
    # Head inside the Store, feet below it: not in the Store.
    below = person(2, 0.15, 0.35)
    assert zones_at(compiled, object_point(below, obs(0, below))) == ()


def test_a_held_object_is_where_its_centre_is_and_points_stay_in_the_image() -> None:
    knife = thing("knife", 3, 0.15, 0.15)
    assert object_point(knife, obs(0, knife)) == pytest.approx((0.15, 0.15))
    assert [z.name for z in zones_at(rules(), object_point(knife, obs(0, knife)))] == ["Store"]
    off_frame = person(4, 0.5, 1.08)  # a predicted box running past the bottom edge
    assert object_point(off_frame, obs(0, off_frame)) == pytest.approx((0.5, 1.0))
    assert [z.name for z in zones_at(rules(), (0.5, 1.0))] == ["Gate"]  # the zone's edge counts as inside


def test_a_self_crossing_outline_is_repaired() -> None:
    bowtie = [{"name": "Bow", "kind": "general", "polygon": [[0, 0], [1, 1], [1, 0], [0, 1]]}]
    compiled = rules(bowtie)
    assert compiled.zones[0].polygon.is_valid
    assert compiled.zones[0].contains((0.9, 0.5))


@pytest.mark.parametrize(
    ("utc", "expected"),
    [
        # Monday before the spring change: 13:00 UTC is 07:00 CST, before school.
        (dt.datetime(2024, 3, 4, 13, 0, tzinfo=UTC), True),
        # Monday after it: the same 13:00 UTC is 08:00 CDT, in school.
        (dt.datetime(2024, 3, 11, 13, 0, tzinfo=UTC), False),
        # Friday before the autumn change: 20:45 UTC is 15:45 CDT, after school.
        (dt.datetime(2024, 11, 1, 20, 45, tzinfo=UTC), True),
        # Monday after it: 20:45 UTC is 14:45 CST, in school.
        (dt.datetime(2024, 11, 4, 20, 45, tzinfo=UTC), False),
        # The change day itself (a Sunday) has no school at all.
        (dt.datetime(2024, 3, 10, 15, 0, tzinfo=UTC), True),
        # The start is in the window, the end is not.
        (dt.datetime(2024, 3, 13, 12, 30, tzinfo=UTC), False),
        (dt.datetime(2024, 3, 13, 20, 30, tzinfo=UTC), True),
        (dt.datetime(2024, 3, 13, 20, 29, 59, tzinfo=UTC), False),
    ],
)
def test_after_hours_is_judged_in_the_schools_local_time(utc: dt.datetime, expected: bool) -> None:
    assert after_hours(rules(), utc) is expected


def test_after_hours_with_several_windows_and_another_timezone() -> None:
    hours = [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "08:00", "end": "12:00"},
             {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "13:00", "end": "17:00"},
             {"days": ["sat"], "start": "09:00", "end": "11:00"}]
    compiled = compile_camera(camera(), school(hours, timezone="Asia/Shanghai"))
    local = ZoneInfo("Asia/Shanghai")
    assert not after_hours(compiled, dt.datetime(2024, 3, 13, 9, 0, tzinfo=local))
    assert after_hours(compiled, dt.datetime(2024, 3, 13, 12, 30, tzinfo=local))  # lunch break
    assert not after_hours(compiled, dt.datetime(2024, 3, 16, 10, 0, tzinfo=local))  # Saturday club
    assert after_hours(compiled, dt.datetime(2024, 3, 17, 10, 0, tzinfo=local))
    assert compiled.camera_id == CAMERA_ID


def test_after_hours_refuses_a_naive_time() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        after_hours(rules(), dt.datetime(2024, 3, 13, 10, 0))  # noqa: DTZ001 - the point of the test


# hypothesis takes naive bounds and attaches the timezone itself.
FIRST, LAST = dt.datetime(2020, 1, 1), dt.datetime(2030, 1, 1)  # noqa: DTZ001


@given(st.datetimes(min_value=FIRST, max_value=LAST, timezones=st.just(UTC)),
       st.sampled_from(["Asia/Shanghai", "Europe/London", "America/Los_Angeles", "Australia/Lord_Howe"]))
def test_after_hours_depends_only_on_the_instant(utc: dt.datetime, other: str) -> None:
    compiled = rules()
    assert after_hours(compiled, utc) == after_hours(compiled, utc.astimezone(ZoneInfo(other)))
    local = utc.astimezone(ZoneInfo("America/Chicago"))
    in_school = local.weekday() < 5 and dt.time(7, 30) <= local.time() < dt.time(15, 30)
    assert after_hours(compiled, utc) is not in_school
