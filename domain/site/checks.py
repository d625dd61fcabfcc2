"""Rules that span the site tree, run once the file has validated structurally.

Each rule yields :class:`Finding` objects located by a pydantic-style loc tuple, so that ``validate.py`` can
turn them into paths and YAML lines exactly as it does for pydantic's own errors.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import shapely

from domain.site.geometry import metre_projection
from domain.site.models import OrgUnit, School, Site

Loc = tuple[str | int, ...]

MAX_STOP_TO_ROUTE_M = 500.0
"""A stop further than this from the route path is almost certainly a typo in its coordinates."""

MAX_DEVICE_TO_CAMPUS_M = 1000.0
"""Fixed devices belong on or next to their campus (a gate camera may look across the street)."""


@dataclass(frozen=True)
class Finding:
    """One broken rule at one place in the tree."""

    loc: Loc
    message: str
    other: Loc | None = None
    """Where the clashing counterpart is, so the report can name its line too."""


@dataclass(frozen=True)
class _Owner:
    """Something that claims a key (an id, an external id) at a place in the tree."""

    what: str
    loc: Loc


def _walk_units(unit: OrgUnit, loc: Loc) -> Iterator[tuple[OrgUnit, Loc]]:
    yield unit, loc
    for index, child in enumerate(unit.units):
        yield from _walk_units(child, (*loc, "units", index))


def _schools(site: Site) -> Iterator[tuple[School, Loc]]:
    for unit, loc in _walk_units(site.organisation, ("organisation",)):
        for index, school in enumerate(unit.schools):
            yield school, (*loc, "schools", index)


def _ids(site: Site) -> Iterator[tuple[str, _Owner]]:
    """Every id in the file with what carries it and where."""
    for unit, loc in _walk_units(site.organisation, ("organisation",)):
        yield unit.id, _Owner("unit", loc)
        for index, person in enumerate(unit.people):
            yield person.id, _Owner("person", (*loc, "people", index))
            if person.tracker:
                yield person.tracker.id, _Owner("tracker", (*loc, "people", index, "tracker"))
    for school, loc in _schools(site):
        yield school.id, _Owner("school", loc)
        for b, bus in enumerate(school.buses):
            yield bus.id, _Owner("bus", (*loc, "buses", b))
            for t, tracker in enumerate(bus.trackers):
                yield tracker.id, _Owner("tracker", (*loc, "buses", b, "trackers", t))
            for s, stop in enumerate(bus.route.stops):
                yield stop.id, _Owner("bus stop", (*loc, "buses", b, "route", "stops", s))
        for group, what in (("panic_buttons", "panic button"), ("cameras", "camera"), ("sensors", "sensor"),
                            ("restricted_areas", "restricted area"), ("checkpoints", "patrol checkpoint")):
            for index, device in enumerate(getattr(school, group)):
                yield device.id, _Owner(what, (*loc, group, index))
        for index, person in enumerate(school.people):
            yield person.id, _Owner("person", (*loc, "people", index))
            if person.tracker:
                yield person.tracker.id, _Owner("tracker", (*loc, "people", index, "tracker"))
        for index, school_class in enumerate(school.classes):
            yield school_class.id, _Owner("class", (*loc, "classes", index))
            teacher = school_class.head_teacher
            yield teacher.id, _Owner("person", (*loc, "classes", index, "head_teacher"))
            if teacher.tracker:
                yield teacher.tracker.id, _Owner("tracker", (*loc, "classes", index, "head_teacher", "tracker"))


def _external_ids(site: Site) -> Iterator[tuple[tuple[str, str], _Owner]]:
    """Every (source, external_id) pair: what a device reports itself by must find exactly one record."""

    def of(thing: Any, what: str, loc: Loc) -> Iterator[tuple[tuple[str, str], _Owner]]:
        if thing.external_id is not None:
            yield (thing.source, thing.external_id), _Owner(what, loc)

    for unit, loc in _walk_units(site.organisation, ("organisation",)):
        for index, person in enumerate(unit.people):
            if person.tracker:
                yield from of(person.tracker, "tracker", (*loc, "people", index, "tracker"))
    for school, loc in _schools(site):
        for b, bus in enumerate(school.buses):
            for t, tracker in enumerate(bus.trackers):
                yield from of(tracker, "tracker", (*loc, "buses", b, "trackers", t))
        for index, button in enumerate(school.panic_buttons):
            yield from of(button, "panic button", (*loc, "panic_buttons", index))
        for index, sensor in enumerate(school.sensors):
            yield from of(sensor, "sensor", (*loc, "sensors", index))
        for index, person in enumerate(school.people):
            if person.tracker:
                yield from of(person.tracker, "tracker", (*loc, "people", index, "tracker"))
        for index, group in enumerate(school.classes):
            if group.head_teacher.tracker:
                yield from of(group.head_teacher.tracker, "tracker",
                              (*loc, "classes", index, "head_teacher", "tracker"))


def loc_to_path(loc: Loc) -> str:
    """Render a loc tuple as a path: ``organisation.units[0].schools[2].id``."""
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc).lstrip(".")


def _duplicates(keyed: Iterator[tuple[Any, _Owner]], field: str, describe: Any) -> Iterator[Finding]:
    first: dict[Any, _Owner] = {}
    reported: set[Any] = set()
    for key, owner in keyed:
        if key not in first:
            first[key] = owner
            continue
        original = first[key]
        if key not in reported:
            # Report the first place once, however many copies follow, so both ends of the clash show.
            reported.add(key)
            yield Finding(
                (*original.loc, field),
                f"{describe(key)} is used again by the {owner.what} at {loc_to_path(owner.loc)}",
                owner.loc,
            )
        yield Finding(
            (*owner.loc, field),
            f"{describe(key)} is already used by the {original.what} at {loc_to_path(original.loc)}",
            original.loc,
        )


def _distance_m(point: tuple[float, float], geometry: Any) -> float:
    project = metre_projection(point)
    return float(shapely.distance(project(shapely.Point(point)), project(geometry)))


def _routes(site: Site) -> Iterator[Finding]:
    for school, loc in _schools(site):
        for b, bus in enumerate(school.buses):
            route_loc = (*loc, "buses", b, "route")
            if bus.route.depot is None:
                yield Finding((*route_loc, "depot"), "the route has no depot: give the [lon, lat] where the bus parks")
            path = bus.route.path.shape()
            for s, stop in enumerate(bus.route.stops):
                distance = _distance_m(stop.location, path)
                if distance > MAX_STOP_TO_ROUTE_M:
                    yield Finding(
                        (*route_loc, "stops", s, "location"),
                        f"stop is {distance:.0f} m from the route path (at most {MAX_STOP_TO_ROUTE_M:.0f} m)",
                    )


def _devices(site: Site) -> Iterator[Finding]:
    for school, loc in _schools(site):
        campus = school.campus.shape()
        for group in ("panic_buttons", "cameras", "sensors"):
            for index, device in enumerate(getattr(school, group)):
                if device.location is None:
                    continue
                distance = _distance_m(device.location, campus)
                if distance > MAX_DEVICE_TO_CAMPUS_M:
                    yield Finding(
                        (*loc, group, index, "location"),
                        f"{distance:.0f} m from the campus of {school.id} (at most {MAX_DEVICE_TO_CAMPUS_M:.0f} m)",
                    )


def _rosters(site: Site) -> Iterator[Finding]:
    """Find class rosters naming a bus of another school.

    A roster naming another school's bus would show its head teacher children they have no business with.
    """
    for school, loc in _schools(site):
        own = {bus.id for bus in school.buses}
        stops = {bus.id: {stop.id for stop in bus.route.stops} for bus in school.buses}
        for index, group in enumerate(school.classes):
            for b, bus_id in enumerate(group.buses):
                if bus_id not in own:
                    yield Finding((*loc, "classes", index, "buses", b),
                                  f"no bus {bus_id!r} serves {school.id}; a class rides its own school's buses")
            for r, rider in enumerate(group.riders):
                if rider.stop is not None and rider.bus in own and rider.stop not in stops.get(rider.bus, set()):
                    yield Finding((*loc, "classes", index, "riders", r, "stop"),
                                  f"{rider.bus} has no stop {rider.stop!r}")


def cross_checks(site: Site) -> list[Finding]:
    """Return every broken cross-tree rule of a structurally valid site."""
    return [
        *_duplicates(_ids(site), "id", lambda key: f"id {key!r}"),
        *_duplicates(
            _external_ids(site),
            "external_id",
            lambda key: f"{key[0]} external_id {key[1]!r}",
        ),
        *_routes(site),
        *_devices(site),
        *_rosters(site),
    ]
