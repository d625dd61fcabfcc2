"""The end-of-route child check (下车清点) as the class page gives it and the geo stage takes it.

A trip's end is what the geo stage stored when the bus came back to its depot: a ``geo.child_check_due`` event of
one of the bus's trackers (its time is the arrival). The class page reads, per bus, the newest such end and what
followed it (the check done, by whom; or missed); a head teacher's confirmation is one row of
``child_check_confirmations`` (migration 0042) per bus, trip and class, so confirming twice is confirming once.

The geo stage reads new rows in ``seq`` order (:func:`confirmations_after`) and hands each to the same rule a
press of the bus's button satisfies, as a :class:`store.feed.ChildCheckPressed` carrying the person: this module
is the contract between the web process and the geo stage, and neither imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg

from store.feed import ChildCheckPressed


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


def trip_ends(conn: psycopg.Connection, bus_ids: list[str]) -> dict[str, TripEnd]:
    """Read the newest ended trip of each bus that has one, with its check's outcome so far."""
    rows = conn.execute(
        "SELECT b.id, due.device_id, due.time, due.detail->>'deadline', done.time, done.detail->>'person_id',"
        "       EXISTS (SELECT 1 FROM device_events m JOIN devices md ON md.id = m.device_id"
        "               WHERE md.bus_id = b.id AND m.kind = 'geo.child_check_missed' AND m.time >= due.time)"
        " FROM buses b"
        " JOIN LATERAL (SELECT e.device_id, e.time, e.detail FROM device_events e JOIN devices d ON d.id = e.device_id"
        "   WHERE d.bus_id = b.id AND e.kind = 'geo.child_check_due' ORDER BY e.time DESC LIMIT 1) due ON true"
        " LEFT JOIN LATERAL (SELECT e.time, e.detail FROM device_events e JOIN devices d ON d.id = e.device_id"
        "   WHERE d.bus_id = b.id AND e.kind = 'geo.child_check_completed' AND e.time >= due.time"
        "   ORDER BY e.time LIMIT 1) done ON true"
        " WHERE b.id = ANY(%s)", (bus_ids,)).fetchall()
    return {bus: TripEnd(bus, device, arrived, datetime.fromisoformat(deadline) if deadline else None,
                         done_at, done_by, bool(missed))
            for bus, device, arrived, deadline, done_at, done_by, missed in rows}


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


def last_seq(conn: psycopg.Connection) -> int:
    """Return the newest confirmation's place: a reader starting now reads only those after it."""
    row = conn.execute("SELECT coalesce(max(seq), 0) FROM child_check_confirmations").fetchone()
    return int(row[0]) if row else 0


def confirmations_after(conn: psycopg.Connection, seq: int, limit: int = 500) -> tuple[int, list[ChildCheckPressed]]:
    """Read the confirmations after ``seq`` in order, as presses of the bus's check, and the place to read on from.

    The time of each is when it was given, but never before the bus was back: the rule refuses a confirmation
    that comes before the arrival, and a web server's clock a little behind the tracker's must not lose one.
    """
    rows = conn.execute(
        "SELECT seq, bus_id, device_id, greatest(confirmed_at, arrived_at), person_id"
        " FROM child_check_confirmations WHERE seq > %s ORDER BY seq LIMIT %s", (seq, limit)).fetchall()
    upto = max((int(r[0]) for r in rows), default=seq)
    return upto, [ChildCheckPressed(bus, device, at, person) for _, bus, device, at, person in rows]


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
