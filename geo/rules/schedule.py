"""Late and early running: stop arrivals by linear referencing, live ETAs, and late/early events.

A fix within the corridor is projected onto the route line; the farthest point reached so far is the bus's
*progress* (it never goes back, so GPS noise cannot "un-reach" a stop). A stop is reached when progress
comes within ``arrival_radius_m`` of it and left once progress is that far past it.

An arrival projection is the later of two lower bounds: the timetable shifted by the present delay (the
scheduled pace), and the remaining distance at the recent moving speed along the route (progress over
``eta_window_s``, stationary spells left out). A stop's lateness is judged on the projection for the
next stop and on the actual arrival, each stop at most once per trip. Early is judged on departure, when
it strands riders.

Only service windows that contain the stop schedule run a scheduled trip; a trip is one such window on one
local date, and its schedule is converted to UTC for that date in the school's timezone.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from domain.messages import Position
from geo.config import GeoRules
from geo.events import EarlyDeparture, LateArrival, StopEta
from geo.facts import FixFacts
from geo.routes import BusPlan

_MAX_SAMPLES = 6
"""Progress samples kept per trip; spaced ``eta_window_s / _MAX_SAMPLES`` apart, so state stays bounded."""


@dataclass(frozen=True, slots=True)
class ScheduleState:
    """One trip's progress: its schedule, the stops reached and left, and recent progress samples."""

    trip: tuple[date, int] | None = None
    times: tuple[datetime, ...] = ()
    """Scheduled instants (UTC) of the trip's stops."""
    reached: tuple[datetime, ...] = ()
    """When each stop so far was reached, in stop order."""
    departed: int = 0
    progress_m: float = 0.0
    samples: tuple[tuple[datetime, float], ...] = ()
    late: frozenset[int] = frozenset()
    last_time: datetime | None = None


NO_TRIP = ScheduleState()


def step_schedule(
    state: ScheduleState, plan: BusPlan, facts: FixFacts, position: Position, service: tuple[date, int] | None,
    rules: GeoRules,
    subject_id: str,
) -> tuple[ScheduleState, list[LateArrival | EarlyDeparture]]:
    """Feed one fix of a bus; return the new state and any late or early events."""
    if service is None or service[1] not in plan.scheduled_windows:
        return (NO_TRIP if state.trip is not None else state), []
    if state.trip != service:
        state = ScheduleState(trip=service, times=plan.schedule_on(service[0]))
    along, distance = facts.along_m, facts.route_distance_m
    if along is None or distance is None or distance > plan.corridor_m:
        return state, []  # off the route, a projection onto it says nothing about progress
    progress = max(state.progress_m, along)
    events: list[LateArrival | EarlyDeparture] = []
    reached, late = list(state.reached), set(state.late)
    stops, times = plan.stops, state.times
    while len(reached) < len(stops) and stops[len(reached)].along_m <= progress + rules.arrival_radius_m:
        index = len(reached)
        delay = (position.time - times[index]).total_seconds()
        if delay > rules.late_threshold_min * 60 and index not in late:
            late.add(index)
            events.append(LateArrival(subject_id, position.time, position, stops[index].id, stops[index].name,
                                      times[index], position.time, delay, projected=False))
        reached.append(position.time)
    departed = state.departed
    while departed < len(reached) and stops[departed].along_m + rules.arrival_radius_m < progress:
        early = (times[departed] - position.time).total_seconds()
        # The last stop is the school: arriving there early is fine, and "leaving" it is just the trip's end.
        if early > rules.early_threshold_min * 60 and departed < len(stops) - 1:
            events.append(EarlyDeparture(subject_id, position.time, position, stops[departed].id,
                                         stops[departed].name, times[departed], early))
        departed += 1
    new = ScheduleState(state.trip, times, tuple(reached), departed, progress,
                        _sample(state.samples, position.time, progress, rules), frozenset(late), position.time)
    nxt = len(reached)
    if nxt < len(stops) and nxt not in late:
        eta = _eta(plan, new, nxt, position.time, rules)
        delay = (eta - times[nxt]).total_seconds()
        if delay > rules.late_threshold_min * 60:
            new = ScheduleState(new.trip, times, new.reached, departed, progress, new.samples,
                                new.late | {nxt}, position.time)
            events.append(LateArrival(subject_id, position.time, position, stops[nxt].id, stops[nxt].name,
                                      times[nxt], eta, delay, projected=True))
    return new, events


def stop_etas(plan: BusPlan, state: ScheduleState, rules: GeoRules) -> list[StopEta]:
    """Return the live arrival projection of every stop of the current trip (empty outside one)."""
    now = state.last_time
    if state.trip is None or now is None:
        return []
    result = []
    for index, stop in enumerate(plan.stops):
        scheduled = state.times[index]
        if index < len(state.reached):
            at = state.reached[index]
            result.append(StopEta(stop.id, stop.name, scheduled, None, at, (at - scheduled).total_seconds()))
        else:
            eta = _eta(plan, state, index, now, rules)
            result.append(StopEta(stop.id, stop.name, scheduled, eta, None, (eta - scheduled).total_seconds()))
    return result


def _sample(
    samples: tuple[tuple[datetime, float], ...], now: datetime, progress: float, rules: GeoRules
) -> tuple[tuple[datetime, float], ...]:
    spacing = rules.eta_window_s / _MAX_SAMPLES
    if samples and (now - samples[-1][0]).total_seconds() < spacing:
        return samples
    horizon = now - timedelta(seconds=rules.eta_window_s)
    return (*(s for s in samples if s[0] >= horizon), (now, progress))[-(_MAX_SAMPLES + 1):]


def _eta(plan: BusPlan, state: ScheduleState, index: int, now: datetime, rules: GeoRules) -> datetime:
    # Two lower bounds, the later wins: the schedule shifted by the present delay (a bus ahead of time holds
    # at its stops, so an early bus is expected on time), and the remaining distance at the recent moving
    # speed (dwell excluded: the average over stops would make every ETA pessimistic).
    delay = max(now - _scheduled_at(plan, state), timedelta(0))
    eta = max(now, state.times[index] + delay)
    speed = _moving_speed_mps(state, now, rules)
    if speed is not None:
        remaining = max(plan.stops[index].along_m - state.progress_m, 0.0)
        eta = max(eta, now + timedelta(seconds=remaining / speed))
    return eta


def _moving_speed_mps(state: ScheduleState, now: datetime, rules: GeoRules) -> float | None:
    horizon = now - timedelta(seconds=rules.eta_window_s)
    recent = [s for s in state.samples if s[0] >= horizon]
    metres = seconds = 0.0
    for (t0, s0), (t1, s1) in itertools.pairwise(recent):
        span = (t1 - t0).total_seconds()
        if span > 0 and (s1 - s0) / span * 3.6 >= rules.eta_min_speed_kmh:
            metres += s1 - s0
            seconds += span
    return metres / seconds if seconds >= max(rules.eta_min_moving_s, 1e-9) else None


def _scheduled_at(plan: BusPlan, state: ScheduleState) -> datetime:
    stops, times, progress = plan.stops, state.times, state.progress_m
    if progress <= stops[0].along_m:
        return times[0]
    for index in range(1, len(stops)):
        before, after = stops[index - 1], stops[index]
        if progress <= after.along_m:
            share = (progress - before.along_m) / max(after.along_m - before.along_m, 1e-9)
            return times[index - 1] + (times[index] - times[index - 1]) * share
    return times[-1]
