"""Route deviation: outside the corridor for ``deviation_s`` while on a trip; back on route after dwell.

A bus is *on a trip* from its first fix inside the corridor in a service window until it reaches the end
of the route (or the window ends), once per window: the drive from the depot to the first stop and back
from school is not on the route, and must not read as a deviation. Leaving counts beyond ``corridor_m``;
coming back only within ``corridor_m - hysteresis_m`` (the fences' hysteresis), so the edge cannot flap.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from domain.messages import Position
from geo.config import GeoRules
from geo.events import RouteDeviated, RouteRejoined
from geo.facts import FixFacts
from geo.rules.sustained import IDLE, Sustained, sustain


@dataclass(frozen=True, slots=True)
class RouteState:
    """Whether the bus is on a trip along its route, and the debounced off-route condition."""

    on_trip: bool = False
    finished: tuple[date, int] | None = None
    """The service window (local date, index) whose trip reached the end of the route."""
    off: Sustained = IDLE


OFF_TRIP = RouteState()


def step_route(
    state: RouteState, facts: FixFacts, position: Position, corridor_m: float, length_m: float,
    service: tuple[date, int] | None,
    rules: GeoRules, subject_id: str,
) -> tuple[RouteState, list[RouteDeviated | RouteRejoined]]:
    """Feed one fix; return the new state and a deviation or rejoin event when one is confirmed."""
    distance, along = facts.route_distance_m, facts.along_m
    if distance is None or along is None:
        return state, []
    in_corridor = distance <= corridor_m
    finished = state.finished if state.finished == service else None
    on_trip = service is not None and finished is None and (state.on_trip or in_corridor)
    limit = max(corridor_m - rules.hysteresis_m, 0.0) if state.off.active else corridor_m
    off, switch = sustain(state.off, on_trip and distance > limit, position, rules.deviation_s, rules.dwell_s)
    if on_trip and in_corridor and along >= length_m - rules.arrival_radius_m:
        on_trip, finished = False, service  # reached the end of the route: no more trip in this window
    changed = on_trip != state.on_trip or finished != state.finished or off is not state.off
    new = RouteState(on_trip, finished, off) if changed else state
    if switch is None:
        return new, []
    if switch.on:
        return new, [RouteDeviated(subject_id, switch.first.time, switch.first, distance, corridor_m,
                                   switch.confirmed_by)]
    return new, [RouteRejoined(subject_id, switch.first.time, switch.first, state.off.began or switch.first.time)]
