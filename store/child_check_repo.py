"""The end-of-route child check (下车清点) as the class page gives it and the geo stage takes it.

A trip's end is what the geo stage stored when the bus came back to its depot: a ``geo.child_check_due`` event of
one of the bus's trackers (its time is the arrival). The class page reads, per bus, the newest such end and what
followed it (the check done, by whom; or missed); a head teacher's confirmation is one row of
``child_check_confirmations`` (migration 0042) per bus, trip and class, so confirming twice is confirming once.

The rows are an outbox the geo stage drains (:func:`trips_confirmed`, :func:`mark_applied`, migration 0044): a trip
whose every class on the bus's roster has confirmed is handed to the same rule a press of the bus's button
satisfies, as a :class:`store.feed.ChildCheckPressed` carrying the person and the trip: this module is the
contract between the web process and the geo stage, and neither imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg


@dataclass(frozen=True, slots=True)
class Confirmation:
    """One class's confirmation that all its children got off a bus after a trip."""

    bus_id: str
    arrived_at: datetime
    class_id: str
    person_id: str
    person_name: str | None
    pupils: int | None
    confirmed_at: datetime


@dataclass(frozen=True, slots=True)
class TripEnd:
    """The newest trip of a bus that ended at its depot, and where its child check stands.

    ``done_by`` is who completed it in the geo stage (a person's id; None for the driver's button or not yet);
    ``done_at`` when, ``missed`` whether the deadline passed first.
    """

    bus_id: str
    device_id: str
    arrived_at: datetime
    deadline: datetime | None
    done_at: datetime | None
    done_by: str | None
    missed: bool
    waiting: int = 0
    """Classes on the bus's roster that have not confirmed this trip: the teachers complete it at none."""


def trip_ends(conn: psycopg.Connection, bus_ids: list[str]) -> dict[str, TripEnd]:
    """Read the newest ended trip of each bus that has one, with its check's outcome so far."""
    rows = conn.execute(
        "SELECT b.id, due.device_id, due.time, due.detail->>'deadline', done.time, done.detail->>'person_id',"
        "       EXISTS (SELECT 1 FROM device_events m JOIN devices md ON md.id = m.device_id"
        "               WHERE md.bus_id = b.id AND m.kind = 'geo.child_check_missed' AND m.time >= due.time),"
        "       (SELECT count(*) FROM class_buses r WHERE r.bus_id = b.id AND NOT EXISTS ("
        "          SELECT 1 FROM child_check_confirmations c WHERE c.bus_id = b.id AND c.arrived_at = due.time"
        "          AND c.class_id = r.class_id))"
        " FROM buses b"
        " JOIN LATERAL (SELECT e.device_id, e.time, e.detail FROM device_events e JOIN devices d ON d.id = e.device_id"
        "   WHERE d.bus_id = b.id AND e.kind = 'geo.child_check_due' ORDER BY e.time DESC LIMIT 1) due ON true"
        " LEFT JOIN LATERAL (SELECT e.time, e.detail FROM device_events e JOIN devices d ON d.id = e.device_id"
        "   WHERE d.bus_id = b.id AND e.kind = 'geo.child_check_completed' AND e.time >= due.time"
        "   ORDER BY e.time LIMIT 1) done ON true"
        " WHERE b.id = ANY(%s)", (bus_ids,)).fetchall()
    return {bus: TripEnd(bus, device, arrived, datetime.fromisoformat(deadline) if deadline else None,
                         done_at, done_by, bool(missed), int(waiting))
            for bus, device, arrived, deadline, done_at, done_by, missed, waiting in rows}


def confirmations(conn: psycopg.Connection, class_id: str, trips: dict[str, TripEnd]) -> dict[str, Confirmation]:
    """Read the class's confirmation of each bus's newest trip, where it gave one."""
    if not trips:
        return {}
    rows = conn.execute(
        "SELECT c.bus_id, c.arrived_at, c.class_id, c.person_id, u.display_name, c.pupils, c.confirmed_at"
        " FROM child_check_confirmations c LEFT JOIN users u ON u.id = c.person_id"
        " JOIN unnest(%s::text[], %s::timestamptz[]) AS t(bus_id, arrived_at)"
        "   ON t.bus_id = c.bus_id AND t.arrived_at = c.arrived_at"
        " WHERE c.class_id = %s",
        ([t.bus_id for t in trips.values()], [t.arrived_at for t in trips.values()], class_id)).fetchall()
    return {row[0]: Confirmation(*row) for row in rows}


def confirm(conn: psycopg.Connection, trip: TripEnd, class_id: str, person_id: str, pupils: int | None,
            now: datetime) -> tuple[Confirmation, bool]:
    """Record a class's confirmation of a trip; the existing one if the class already gave it (and False)."""
    inserted = conn.execute(
        "INSERT INTO child_check_confirmations (bus_id, arrived_at, class_id, device_id, person_id, pupils,"
        " confirmed_at) VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING seq",
        (trip.bus_id, trip.arrived_at, class_id, trip.device_id, person_id, pupils, now)).fetchone()
    found = confirmations(conn, class_id, {trip.bus_id: trip})[trip.bus_id]
    return found, inserted is not None


@dataclass(frozen=True, slots=True)
class TripConfirmed:
    """A trip whose every class on the bus's roster has confirmed its children off: the bus's check is done.

    ``time`` is when the last class confirmed (the server's clock; never before the bus was back), ``person_id``
    who that was.
    """

    bus_id: str
    device_id: str
    arrived_at: datetime
    time: datetime
    person_id: str


def trips_confirmed(conn: psycopg.Connection, limit: int = 500) -> list[TripConfirmed]:
    """Read the trips with a confirmation the geo stage has not applied whose every rostered class confirmed.

    A head teacher vouches for their own class only: the bus's check is done by the teachers when every class
    whose children ride it (``class_buses``) has confirmed that trip, never by the first of them (the driver's
    button is the walk-through of the whole bus). A trip still waiting for a class stays pending.
    """
    rows = conn.execute(
        "SELECT c.bus_id, min(c.device_id), c.arrived_at, max(greatest(c.confirmed_at, c.arrived_at)),"
        "       (array_agg(c.person_id ORDER BY c.confirmed_at DESC, c.seq DESC))[1]"
        " FROM child_check_confirmations c"
        " WHERE (c.bus_id, c.arrived_at) IN (SELECT p.bus_id, p.arrived_at FROM child_check_confirmations p"
        "                                    WHERE p.applied_at IS NULL)"
        " GROUP BY c.bus_id, c.arrived_at"
        " HAVING NOT EXISTS (SELECT 1 FROM class_buses r WHERE r.bus_id = c.bus_id"
        "                    AND NOT (r.class_id = ANY (array_agg(c.class_id))))"
        " ORDER BY max(c.confirmed_at) LIMIT %s", (limit,)).fetchall()
    return [TripConfirmed(bus, device, arrived, at, person) for bus, device, arrived, at, person in rows]


def mark_applied(conn: psycopg.Connection, trips: list[TripConfirmed], now: datetime) -> None:
    """Mark the confirmations of these trips applied by the geo stage (every class's row of each)."""
    if trips:
        conn.execute(
            "UPDATE child_check_confirmations c SET applied_at = %s"
            " FROM unnest(%s::text[], %s::timestamptz[]) AS t(bus_id, arrived_at)"
            " WHERE c.bus_id = t.bus_id AND c.arrived_at = t.arrived_at AND c.applied_at IS NULL",
            (now, [t.bus_id for t in trips], [t.arrived_at for t in trips]))


@dataclass(frozen=True, slots=True)
class Rider:
    """A child of a class on a bus: where they get on and off, and which runs they ride."""

    bus_id: str
    pupil: str
    stop_name: str | None
    morning: bool
    afternoon: bool


def riders(conn: psycopg.Connection, class_ids: list[str]) -> dict[tuple[str, str], list[Rider]]:
    """Each class's riders per bus, keyed (class, bus), in stop order then by name."""
    found: dict[tuple[str, str], list[Rider]] = {}
    for class_id, *rider in conn.execute(
            "SELECT r.class_id, r.bus_id, r.pupil, s.name, r.morning, r.afternoon FROM class_riders r"
            " LEFT JOIN bus_stops s ON s.id = r.stop_id AND s.bus_id = r.bus_id"
            " WHERE r.class_id = ANY(%s) ORDER BY r.class_id, r.bus_id, s.seq NULLS LAST, r.pupil", (class_ids,)):
        found.setdefault((class_id, rider[0]), []).append(Rider(*rider))
    return found
