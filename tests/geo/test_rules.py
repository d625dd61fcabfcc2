"""Rule unit tests: debounce, overspeed, after hours, subjects, child check, thresholds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from domain.messages import Position
from domain.site import load_site
from geo.config import GeoRules
from geo.engine import GeoEngine
from geo.rules.child_check import (
    UNKNOWN_CHECK,
    ChildCheckConfirmation,
    confirm_child_check,
    step_child_check,
    tick_child_check,
)
from geo.rules.sustained import IDLE, sustain

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "district.yaml"
T0 = datetime(2025, 3, 10, 13, 0, tzinfo=UTC)  # 08:00 in Lincoln (CDT): bus-01 in service


def at(seconds: float, lon: float = -96.65, lat: float = 40.8, speed: float | None = None,
       device: str = "bus-01-gps") -> Position:
    time = T0 + timedelta(seconds=seconds)
    return Position(device, time, time, lon, lat, "test", speed_kmh=speed)


@pytest.fixture(scope="module")
def engine() -> GeoEngine:
    return GeoEngine.from_site(load_site(EXAMPLE))


def feed(engine: GeoEngine, fixes: list[Position]) -> list[str]:
    state, names = engine.new_state(fixes[0].device_id), []
    for f in fixes:
        state, found = engine.evaluate(state, f)
        names += [type(e).__name__ for e in found]
    return names


def test_sustain_needs_the_condition_to_hold() -> None:
    state, switch = sustain(IDLE, True, at(0), 10, 5)
    assert switch is None and not state.active
    state, switch = sustain(state, True, at(10), 10, 5)
    assert switch is not None and switch.on and switch.first.time == T0 and state.active
    state, switch = sustain(state, False, at(12), 10, 5)
    state, switch = sustain(state, True, at(13), 10, 5)  # back over the limit: the clear run restarts
    assert switch is None and state.active and state.pending_since is None


def test_overspeed_uses_the_route_limit_outside_school_zones(engine: GeoEngine) -> None:
    fixes = [at(i * 5, lon=-96.65 - i * 0.0005, speed=48) for i in range(5)]  # route limit 40
    fixes += [at(25 + i * 5, lon=-96.6525 - i * 0.0003, speed=35) for i in range(3)]
    overspeed = [n for n in feed(engine, fixes) if n.startswith("Overspeed")]  # (it is also late: 08:00)
    assert overspeed == ["OverspeedStarted", "OverspeedEnded"]


def test_after_hours_movement(engine: GeoEngine) -> None:
    night = 10 * 3600  # 03:00 local
    fixes = [at(night + i * 10, lon=-96.65 - i * 0.001, speed=30) for i in range(6)]
    fixes += [at(night + 60 + i * 60, lon=-96.656, speed=0) for i in range(7)]
    assert feed(engine, fixes) == ["AfterHoursMovement", "AfterHoursMovementEnded"]


def test_person_tracker_feeds_the_person(engine: GeoEngine) -> None:
    assert engine.new_state("leah-wang-phone").subject_id == "leah-wang"
    assert engine.new_state("bus-04-osmand").subject_id == "bus-04"


def test_child_check_state_machine() -> None:
    rules = GeoRules(child_check_minutes=10)
    state, events = step_child_check(UNKNOWN_CHECK, False, True, at(0), rules, "bus-01")
    assert state.phase == "trip" and events == []
    state, events = step_child_check(state, True, False, at(60), rules, "bus-01")
    assert state.phase == "awaiting" and type(events[0]).__name__ == "ChildCheckDue"
    early = ChildCheckConfirmation("bus-01", T0)  # pressed before the bus got back: does not count
    assert confirm_child_check(state, early, "bus-01")[0] is state
    assert tick_child_check(state, T0 + timedelta(minutes=10), "bus-01")[1] == []
    missed, events = tick_child_check(state, T0 + timedelta(minutes=11), "bus-01")
    assert missed.phase == "missed" and type(events[0]).__name__ == "ChildCheckMissed"
    assert tick_child_check(missed, T0 + timedelta(hours=1), "bus-01")[1] == []  # raised once
    done, completed = confirm_child_check(missed, ChildCheckConfirmation("bus-01", T0 + timedelta(minutes=12)),
                                          "bus-01")
    assert done.phase == "done" and completed[0].late


def test_thresholds_refuse_unknown_keys_and_bad_values() -> None:
    with pytest.raises(ValidationError):
        GeoRules(hysteresis=5)  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        GeoRules(dwell_s=-1)
    assert all(field.description for field in GeoRules.model_fields.values())
