"""Classes (the fifth level of the tree) and their bus rosters, as a head teacher or anyone above them reads them.

A class is an ``org_units`` row of kind ``class`` under its school (migration 0033), so the usual scope test
(``campusguard_within``) decides who sees it: its head teacher, the school's staff and every level above. Its
buses come from ``class_buses``: a head teacher sees the buses their pupils ride, with each bus's newest fix, and
nothing else of the school.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

import psycopg

from store.child_check_repo import Confirmation, Rider, TripEnd, confirmations, riders, trip_ends


@dataclass(frozen=True, slots=True)
class RosterBus:
    """A bus a class's pupils ride, with where its newest fix put it (none before the first)."""

    id: str
    name: str
    plate: str | None
    last_fix: datetime | None
    lon: float | None
    lat: float | None
    riders: tuple[Rider, ...] = ()
    trip: TripEnd | None = None
    """Its newest trip that ended at the depot, where the child check is owed or was given."""
    confirmation: Confirmation | None = None
    """This class's confirmation of that trip's child check, where it gave one."""


@dataclass(frozen=True, slots=True)
class ClassRoster:
    """A class with its school, its head teacher and the buses on its roster."""

    id: str
    name: str
    school_id: str
    school_name: str
    timezone: str
    head_teacher_id: str | None
    head_teacher_name: str | None
    buses: tuple[RosterBus, ...]


def classes(conn: psycopg.Connection, scope_path: str) -> list[ClassRoster]:
    """Every class under ``scope_path`` with its roster, by school and class name."""
    rows = conn.execute(
        "SELECT c.id, c.name, s.id, s.name, s.timezone, t.id, t.display_name"
        " FROM org_units c JOIN schools s ON s.id = c.parent_id"
        " LEFT JOIN LATERAL (SELECT u.id, u.display_name FROM users u WHERE u.scope_id = c.id AND u.active"
        "   AND u.role = 'head_teacher' ORDER BY u.id LIMIT 1) t ON true"
        " WHERE c.kind = 'class' AND c.retired_at IS NULL AND s.active AND campusguard_within(c.path, %s)"
        " ORDER BY s.name, c.name, c.id",
        (scope_path,)).fetchall()
    buses: dict[str, list[RosterBus]] = {}
    if rows:
        # A bus's newest fix is that of whichever of its trackers reported last.
        for class_id, *bus in conn.execute(
            "SELECT cb.class_id, b.id, b.name, b.plate, lp.time, lp.lon, lp.lat"
            " FROM class_buses cb JOIN buses b ON b.id = cb.bus_id AND b.active"
            " LEFT JOIN LATERAL (SELECT p.time, p.lon, p.lat FROM devices d JOIN latest_positions p"
            "   ON p.device_id = d.id WHERE d.bus_id = b.id AND d.active ORDER BY p.time DESC LIMIT 1) lp ON true"
            " WHERE cb.class_id = ANY(%s) ORDER BY cb.class_id, b.name", ([r[0] for r in rows],)):
            buses.setdefault(class_id, []).append(RosterBus(*bus))
        _add_checks(conn, buses)
    return [ClassRoster(class_id, name, school_id, school_name, timezone, teacher_id, teacher_name,
                        tuple(buses.get(class_id, ())))
            for class_id, name, school_id, school_name, timezone, teacher_id, teacher_name in rows]


def _add_checks(conn: psycopg.Connection, buses: dict[str, list[RosterBus]]) -> None:
    """Give each roster bus its class's riders, its newest ended trip and the class's confirmation of it."""
    on = riders(conn, list(buses))
    trips = trip_ends(conn, sorted({b.id for listed in buses.values() for b in listed}))
    for class_id, listed in buses.items():
        mine = {b.id: trips[b.id] for b in listed if b.id in trips}
        given = confirmations(conn, class_id, mine)
        listed[:] = [replace(b, riders=tuple(on.get((class_id, b.id), ())), trip=mine.get(b.id),
                             confirmation=given.get(b.id)) for b in listed]


@dataclass(frozen=True, slots=True)
class ClassBus:
    """A class (its place in the tree) and one bus of its roster: what a child-check confirmation is about."""

    class_id: str
    class_path: str
    school_id: str
    bus_id: str
    riders: int | None
    """The class's riders of this bus on file; None when no roster of children is on file."""


def class_bus(conn: psycopg.Connection, class_id: str, bus_id: str) -> ClassBus | None:
    """Find the class and bus, if the bus is on the (current) class's roster."""
    row = conn.execute(
        "SELECT c.id, c.path, c.parent_id, cb.bus_id,"
        "       (SELECT count(*) FROM class_riders r WHERE r.class_id = c.id AND r.bus_id = cb.bus_id)"
        " FROM org_units c JOIN class_buses cb ON cb.class_id = c.id JOIN buses b ON b.id = cb.bus_id AND b.active"
        " WHERE c.id = %s AND c.kind = 'class' AND c.retired_at IS NULL AND cb.bus_id = %s",
        (class_id, bus_id)).fetchone()
    if row is None:
        return None
    return ClassBus(row[0], row[1], row[2], row[3], int(row[4]) or None)
