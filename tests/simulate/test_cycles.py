"""The demo's one clock: service days laid around their start, repeated, and judged by the real geo engine.

The rules run here as the geo service runs them (batch path, ticks by device time, the engine rebuilt from
each day's site file with the states carried over), fed by every fix and press of two consecutive days.
Each day must raise exactly the scripted situations: one late bus, one deviation, one missed child check,
and no other.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import Counter
from typing import Any

import yaml

from campusguard.simulate.cycles import Cycle, lay_cycle, leads, parse
from campusguard.simulate.model import Role, SimFix, SimPress, SimReport
from campusguard.simulate.reports import backlog
from campusguard.simulate.timetable import LEAD, retimed
from domain.messages import Position
from geo.engine import DeviceGeoState, GeoEngine
from geo.events import ChildCheckMissed, GeoEvent, LateArrival, RouteDeviated
from geo.rules.child_check import ChildCheckConfirmation
from tests.simulate.helpers import district
from tests.support.ingest import EXAMPLE

START = dt.datetime(2026, 12, 5, 16, 40, 17, tzinfo=dt.UTC)  # a Saturday afternoon: no timetable of the file


@functools.cache
def original() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    return document


@functools.cache
def days(start: dt.datetime = START) -> tuple[Cycle, Cycle]:
    bus_leads = leads(district())
    first = lay_cycle(original(), bus_leads, start, 0)
    return first, lay_cycle(original(), bus_leads, first.end, 1)


def test_every_bus_leaves_its_depot_within_minutes_of_the_start_on_any_weekday() -> None:
    for cycle in days():
        trips = [trip for _, trip in cycle.plan.trips_around(cycle.start + dt.timedelta(minutes=30))]
        assert len(trips) == len(cycle.plan.entries) == 21
        for trip in trips:
            assert cycle.start < trip.depart <= cycle.start + LEAD + dt.timedelta(minutes=3), trip.bus_id
        assert cycle.start < cycle.back < cycle.end


def test_the_timetable_keeps_its_spacing_and_its_window_holds_it() -> None:
    moved = parse(retimed(original(), START, {}))
    before = parse(original())
    for (_, old), (_, new) in zip(((e, b) for e in before.iter_schools() for b in e.school.buses),
                                  ((e, b) for e in moved.iter_schools() for b in e.school.buses), strict=True):
        minutes = [(s.scheduled.hour * 60 + s.scheduled.minute) for s in new.route.stops]
        original_minutes = [(s.scheduled.hour * 60 + s.scheduled.minute) for s in old.route.stops]
        assert [m - minutes[0] for m in minutes] == [m - original_minutes[0] for m in original_minutes]
        (window,) = new.service_windows
        assert len(window.days) == 7
        assert window.start <= new.route.stops[0].scheduled and new.route.stops[-1].scheduled <= window.end


def test_a_day_that_would_cross_midnight_is_laid_after_it() -> None:
    late_evening = dt.datetime(2026, 12, 6, 5, 50, tzinfo=dt.UTC)  # 23:50 in Lincoln
    moved = parse(retimed(original(), late_evening, {}))
    for entry in moved.iter_schools():
        for bus in entry.school.buses:
            assert bus.route.stops[0].scheduled < dt.time(2, 0)


def test_the_next_day_starts_when_this_one_is_over_and_the_roles_recur() -> None:
    first, second = days()
    assert second.start == first.end
    assert first.plan.roles == second.plan.roles
    scripted = {r for r in first.plan.roles.values() if r is not Role.NORMAL}
    assert scripted == set(Role) - {Role.NORMAL}


def _judge(cycles: tuple[Cycle, ...]) -> list[tuple[int, GeoEvent]]:
    """Run the geo engine over each day's reports as the geo service does; return (day, event)."""
    states: dict[str, DeviceGeoState] = {}
    found: list[tuple[int, GeoEvent]] = []
    held: list[SimReport] = []
    for cycle in cycles:
        engine = GeoEngine.from_site(cycle.plan.site)  # the service reloads the site file the simulator wrote
        last = cycle.start
        while last < cycle.end:
            upto = min(last + dt.timedelta(minutes=5), cycle.end)
            fixes: list[Position] = []
            for report in [*held, *cycle.plan.reports_between(last, upto)]:
                if isinstance(report, SimFix):
                    fixes.append(Position(report.device.id, report.time, report.time, report.lon, report.lat,
                                          report.device.source, speed_kmh=report.speed_kmh,
                                          heading_deg=report.heading_deg, accuracy_m=report.accuracy_m))
                    continue
                assert isinstance(report, SimPress) and report.action == "child_check"
                states, events = engine.evaluate_batch(states, fixes, tick=True)
                found += [(cycle.index, e) for e in events]
                fixes = []
                bus = engine.subject_of(report.device.id)
                state = states.get(bus) or engine.new_state(report.device.id)
                states[bus], events = engine.confirm_child_check(state, ChildCheckConfirmation(bus, report.time))
                found += [(cycle.index, e) for e in events]
            states, events = engine.evaluate_batch(states, fixes, tick=True)
            found += [(cycle.index, e) for e in events]
            last, held = upto, []
        # The silent tracker is heard again as the next day begins: it uploads what it kept.
        held = [r for e in cycle.plan.entries
                for r in backlog(cycle.plan, e, cycle.start.astimezone(e.school.zone()).date())]
    return found


def test_two_days_raise_the_scripted_situations_and_nothing_else() -> None:
    cycles = days()
    roles = cycles[0].plan.roles
    found = _judge(cycles)

    def subjects(kind: type[GeoEvent]) -> Counter[tuple[int, str]]:
        return Counter((day, e.subject_id) for day, e in found if isinstance(e, kind))

    late_bus = next(b for b, r in roles.items() if r is Role.LATE)
    deviator = next(b for b, r in roles.items() if r is Role.DEVIATING)
    skipper = next(b for b, r in roles.items() if r is Role.NO_CHILD_CHECK)
    assert subjects(ChildCheckMissed) == Counter({(0, skipper): 1, (1, skipper): 1})
    assert set(subjects(RouteDeviated)) == {(0, deviator), (1, deviator)}
    assert {bus for _, bus in subjects(LateArrival)} == {late_bus}
    assert {day for day, _ in subjects(LateArrival)} == {0, 1}
