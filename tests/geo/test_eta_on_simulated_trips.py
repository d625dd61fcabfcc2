"""The late-arrival rule against whole simulated service days: on-time buses are never called late.

The simulator (campusguard/simulate) drives every bus of the example district along its route with realistic
acceleration, dwell at stops and school-zone speeds; only the bus scripted to run late is late at its stops
(tests/simulate/test_trips.py proves that of the plans). Fed through the geo engine fix by fix, the other
buses must raise no late arrival, projected or actual: a flood of false "late" alerts is what a dispatcher
learns to ignore.
"""

from __future__ import annotations

import datetime as dt

from campusguard.simulate.model import Role, SimFix
from domain.messages import Position
from geo.engine import GeoEngine
from geo.events import LateArrival
from tests.simulate.helpers import DAY, district


def test_buses_that_keep_their_timetable_raise_no_late_arrival() -> None:
    plan = district()
    engine = GeoEngine.from_site(plan.site)
    trips = {e.bus.id: plan.trip(e.bus.id, DAY) for e in plan.entries}
    starts = [t.calls[0].departed for t in trips.values() if t is not None]
    ends = [t.route_end for t in trips.values() if t is not None]
    fixes = [r for r in plan.reports_between(min(starts) - dt.timedelta(minutes=30),
                                             max(ends) + dt.timedelta(minutes=10)) if isinstance(r, SimFix)]
    states: dict[str, object] = {}
    late: dict[str, list[LateArrival]] = {}
    for fix in fixes:
        subject = engine.subject_of(fix.device.id)
        state = states.get(subject) or engine.new_state(fix.device.id)
        position = Position(fix.device.id, fix.time, fix.time, fix.lon, fix.lat, fix.device.source,
                            speed_kmh=fix.speed_kmh, heading_deg=fix.heading_deg)
        state, events = engine.evaluate(state, position)  # type: ignore[arg-type]
        states[subject] = state
        for event in events:
            if isinstance(event, LateArrival):
                late.setdefault(subject, []).append(event)
    scripted = {e.bus.id for e in plan.entries if e.role in (Role.LATE, Role.DEVIATING, Role.SILENT)}
    assert any(bus in late for bus in scripted if plan.roles.get(bus) is Role.LATE), "the late bus is caught"
    false_alarms = {bus: [(e.stop_id, round(e.delay_s), e.projected) for e in events]
                    for bus, events in late.items() if bus not in scripted}
    assert not false_alarms
