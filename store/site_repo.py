"""Upsert a validated site file into the relational tables, idempotently and in one transaction.

Loading the same file twice changes nothing (an update only happens when a value differs). Things that
disappeared from the file are retired (``active = false``) rather than deleted, because their positions,
events and incidents still refer to them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, LiteralString

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from domain.audit import AuditRecord
from domain.site import Person, School, Site, Tracker
from store import audit_repo, patrol_repo


@dataclass(frozen=True, slots=True)
class TableCounts:
    """What a load did to one table."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    retired: int = 0


@dataclass(frozen=True, slots=True)
class LoadReport:
    """What a load did, per table."""

    tables: dict[str, TableCounts] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        """Tell whether the load changed anything."""
        return any(c.inserted or c.updated or c.retired for c in self.tables.values())


Row = dict[str, Any]
# What happens to rows of a table that the file no longer has.
Retire = Literal["flag", "delete", "keep"]


def load_site(conn: psycopg.Connection, site: Site, actor: str = "system", source: str | None = None) -> LoadReport:
    """Upsert ``site``; returns per-table counts. Runs in its own transaction, audited when it changed anything."""
    with conn.transaction():
        tables = {
            # Units stay: users and history point at them, and an emptied unit does no harm.
            "org_units": _upsert(conn, "org_units", list(_unit_rows(site)), retire="keep"),
            "schools": _upsert(conn, "schools", [_school_row(s.school) for s in site.iter_schools()]),
            "users": _upsert(conn, "users", list(_user_rows(site)), retire_where="role <> 'admin'"),
            "buses": _upsert(conn, "buses", list(_bus_rows(site))),
            # Stops have no history of their own; a removed stop simply goes.
            "bus_stops": _upsert(conn, "bus_stops", list(_stop_rows(site)), retire="delete", stamped=False),
            "devices": _upsert(conn, "devices", list(_device_rows(site))),
            # Only the site's own fences: those drawn through the API are not the file's to retire.
            "geofences": _upsert(conn, "geofences", list(_fence_rows(site)), retire_where="source = 'site'"),
            "classes": _retire_classes(conn, site),
            "class_buses": _replace_rosters(conn, site),
            "class_riders": _replace_riders(conn, site),
            # Patrol checkpoints and plans (store/patrol_repo.py); key versions stay the database's.
            "patrol_checkpoints": _upsert(conn, "patrol_checkpoints", list(patrol_repo.checkpoint_rows(site))),
            "patrol_plans": _upsert(conn, "patrol_plans", list(patrol_repo.plan_rows(site))),
        }
        report = LoadReport(tables)
        if report.changed:
            audit_repo.append(conn, AuditRecord(
                at=datetime.now(UTC), actor=actor, action="site.load", target=source,
                detail={t: {"inserted": c.inserted, "updated": c.updated, "retired": c.retired}
                        for t, c in tables.items() if c.inserted or c.updated or c.retired}))
    return report


def _unit_rows(site: Site) -> Iterator[Row]:
    paths: dict[str | None, str] = {None: "/"}
    for entry in site.iter_units():
        unit = entry.unit
        paths[unit.id] = f"{paths[entry.parent_id]}{unit.id}/"
        yield {"id": unit.id, "parent_id": entry.parent_id, "kind": unit.kind, "name": unit.name,
               "path": paths[unit.id], "depth": entry.depth}
        # A school is also a unit of the tree, so scoping by path covers it like any other unit; so is a class,
        # the fifth level, whose head teacher is scoped to it.
        for school in unit.schools:
            school_path = f"{paths[unit.id]}{school.id}/"
            yield {"id": school.id, "parent_id": unit.id, "kind": "school", "name": school.name,
                   "path": school_path, "depth": entry.depth + 1}
            for school_class in school.classes:
                yield {"id": school_class.id, "parent_id": school.id, "kind": "class", "name": school_class.name,
                       "path": f"{school_path}{school_class.id}/", "depth": entry.depth + 2}


def _school_row(school: School) -> Row:
    return {
        "id": school.id, "name": school.name, "timezone": school.timezone,
        "campus": Jsonb(school.campus.model_dump(mode="json")), "address": school.address,
        "hours": Jsonb([h.model_dump(mode="json") for h in school.hours]),
        "school_zone_speed_kmh": school.school_zone_speed_kmh, "stage": school.stage, "pupils": school.pupils,
        "boarding": school.boarding, "active": True,
    }


def _user_rows(site: Site) -> Iterator[Row]:
    for entry in site.iter_people():
        p = entry.person
        yield {"id": p.id, "display_name": p.name, "role": p.role, "scope_id": entry.scope_id,
               "email": p.email, "phone": p.phone, "locale": p.locale, "active": True}


def _bus_rows(site: Site) -> Iterator[Row]:
    for entry in site.iter_schools():
        for bus in entry.school.buses:
            depot = bus.route.depot
            yield {
                "id": bus.id, "school_id": entry.school.id, "name": bus.name, "plate": bus.plate,
                "capacity": bus.capacity, "route": Jsonb(bus.route.path.model_dump(mode="json")),
                "corridor_m": bus.route.corridor_m, "speed_limit_kmh": bus.route.speed_limit_kmh,
                "depot_lon": depot[0] if depot else None, "depot_lat": depot[1] if depot else None,
                "service_windows": Jsonb([w.model_dump(mode="json") for w in bus.service_windows]),
                "active": True,
            }


def _fence_rows(site: Site) -> Iterator[Row]:
    for entry in site.iter_schools():
        for area in entry.school.restricted_areas:
            yield {"id": area.id, "school_id": entry.school.id, "kind": "restricted", "name": area.name,
                   "geometry": Jsonb(area.polygon.model_dump(mode="json")), "speed_limit_kmh": None,
                   "source": "site", "active": True}


def _stop_rows(site: Site) -> Iterator[Row]:
    for entry in site.iter_schools():
        for bus in entry.school.buses:
            for seq, stop in enumerate(bus.route.stops):
                yield {"id": stop.id, "bus_id": bus.id, "seq": seq, "name": stop.name,
                       "lon": stop.location[0], "lat": stop.location[1], "scheduled": stop.scheduled}


def _device(school_id: str | None, kind: str, ident: str, name: str, source: str,
            external_id: str | None, **extra: Any) -> Row:
    row: Row = {"id": ident, "school_id": school_id, "kind": kind, "subtype": None, "name": name,
                "bus_id": None, "user_id": None, "source": source, "external_id": external_id,
                "lon": None, "lat": None, "place": None, "config": Jsonb({}), "active": True}
    row.update(extra)
    return row


def _tracker(school_id: str | None, kind: str, tracker: Tracker, name: str, **extra: Any) -> Row:
    if tracker.clock_offset_min:  # a GT06 unit set to local time (ingest reads its times with the offset)
        extra["config"] = Jsonb({"clock_offset_min": tracker.clock_offset_min})
    return _device(school_id, kind, tracker.id, name, tracker.source, tracker.external_id, **extra)


def _retire_classes(conn: psycopg.Connection, site: Site) -> TableCounts:
    """Flag the classes the file no longer has as retired, and bring back any it has again.

    Units stay in the tree (users and history point at them), but a retired class leaves the class lists.
    """
    wanted = [c.id for e in site.iter_schools() for c in e.school.classes]
    retired = conn.execute("UPDATE org_units SET retired_at = now(), updated_at = now()"
                           " WHERE kind = 'class' AND retired_at IS NULL AND NOT (id = ANY(%s))", (wanted,)).rowcount
    back = conn.execute("UPDATE org_units SET retired_at = NULL, updated_at = now()"
                        " WHERE kind = 'class' AND retired_at IS NOT NULL AND id = ANY(%s)", (wanted,)).rowcount
    return TableCounts(0, back, len(wanted) - back, retired)


def _replace_rosters(conn: psycopg.Connection, site: Site) -> TableCounts:
    """Make ``class_buses`` the file's rosters: pairs are facts without history, so a removed one simply goes."""
    wanted = {(c.id, bus) for e in site.iter_schools() for c in e.school.classes for bus in c.buses}
    held = {(str(r[0]), str(r[1])) for r in conn.execute("SELECT class_id, bus_id FROM class_buses")}
    gone, new = held - wanted, wanted - held
    with conn.cursor() as cur:
        cur.executemany("DELETE FROM class_buses WHERE class_id = %s AND bus_id = %s", sorted(gone))
        cur.executemany("INSERT INTO class_buses (class_id, bus_id) VALUES (%s, %s)", sorted(new))
    return TableCounts(inserted=len(new), unchanged=len(held & wanted), retired=len(gone))


def _replace_riders(conn: psycopg.Connection, site: Site) -> TableCounts:
    """Make ``class_riders`` the file's per-child rosters (after the class rosters they hang on).

    Like the rosters they are facts without history: a child who no longer rides is simply gone, one whose stop
    or trips changed is updated.
    """
    wanted = {(c.id, r.bus, r.pupil): (r.stop, r.morning, r.afternoon)
              for e in site.iter_schools() for c in e.school.classes for r in c.riders}
    held = {(str(c), str(b), str(p)): (s, bool(m), bool(a)) for c, b, p, s, m, a in conn.execute(
        "SELECT class_id, bus_id, pupil, stop_id, morning, afternoon FROM class_riders")}
    gone = sorted(held.keys() - wanted.keys())
    changed = sorted(k for k in wanted.keys() & held.keys() if wanted[k] != held[k])
    new = sorted(wanted.keys() - held.keys())
    with conn.cursor() as cur:
        cur.executemany("DELETE FROM class_riders WHERE class_id = %s AND bus_id = %s AND pupil = %s", gone)
        cur.executemany("INSERT INTO class_riders (class_id, bus_id, pupil, stop_id, morning, afternoon)"
                        " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (class_id, bus_id, pupil) DO UPDATE"
                        " SET stop_id = excluded.stop_id, morning = excluded.morning, afternoon = excluded.afternoon",
                        [(*k, *wanted[k]) for k in [*new, *changed]])
    return TableCounts(inserted=len(new), updated=len(changed), unchanged=len(wanted) - len(new) - len(changed),
                       retired=len(gone))


def _device_rows(site: Site) -> Iterator[Row]:
    # A phone is its owner's school's device: a head teacher's through the school of their class.
    school_ids = {s.school.id: s.school.id for s in site.iter_schools()}
    school_ids.update({c.id: s.school.id for s in site.iter_schools() for c in s.school.classes})
    for entry in site.iter_schools():
        school = entry.school
        for bus in school.buses:
            for tracker in bus.trackers:
                yield _tracker(school.id, "bus_tracker", tracker, f"{bus.name} tracker", bus_id=bus.id)
        for b in school.panic_buttons:
            yield _device(school.id, "panic_button", b.id, b.place, b.source, b.external_id, subtype=b.kind,
                          lon=_lon(b.location), lat=_lat(b.location), place=b.place,
                          config=Jsonb({"panic_actions": list(b.panic_actions)}))
        for c in school.cameras:
            yield _device(school.id, "camera", c.id, c.name, "rtsp", None, subtype=c.place_kind,
                          lon=c.location[0], lat=c.location[1], place=c.name,
                          config=Jsonb({"rtsp_url": c.rtsp_url,
                                        "zones": [z.model_dump(mode="json") for z in c.zones]}))
        for s in school.sensors:
            yield _device(school.id, "sensor", s.id, s.place, s.source, s.external_id, subtype=s.kind,
                          lon=_lon(s.location), lat=_lat(s.location), place=s.place)
    for person_entry in site.iter_people():
        person: Person = person_entry.person
        if person.tracker is not None:
            school_id = school_ids.get(person_entry.scope_id)
            yield _tracker(school_id, "person_tracker", person.tracker, f"{person.name}'s phone",
                           user_id=person.id, subtype=person.role)


def _lon(point: tuple[float, float] | None) -> float | None:
    return point[0] if point else None


def _lat(point: tuple[float, float] | None) -> float | None:
    return point[1] if point else None


def _upsert(conn: psycopg.Connection, table: str, rows: list[Row], *, retire: Retire = "flag",
            retire_where: LiteralString = "TRUE", stamped: bool = True) -> TableCounts:
    """Insert new rows, update changed ones, leave equal ones alone, retire the ones not given."""
    inserted = updated = 0
    if rows:
        columns = list(rows[0])
        changeable = [c for c in columns if c != "id"]
        statement = sql.SQL(
            "INSERT INTO {table} ({cols}) VALUES ({vals}) ON CONFLICT (id) DO UPDATE SET {sets}"
            " WHERE ({old}) IS DISTINCT FROM ({new}) RETURNING (xmax = 0)"
        ).format(
            table=sql.Identifier(table),
            cols=sql.SQL(", ").join(map(sql.Identifier, columns)),
            vals=sql.SQL(", ").join(sql.Placeholder(c) for c in columns),
            sets=sql.SQL(", ").join(
                [sql.SQL("{c} = excluded.{c}").format(c=sql.Identifier(c)) for c in changeable]
                + ([sql.SQL("updated_at = now()")] if stamped else [])
            ),
            old=sql.SQL(", ").join(sql.SQL("{}.{}").format(sql.Identifier(table), sql.Identifier(c))
                                   for c in changeable),
            new=sql.SQL(", ").join(sql.SQL("excluded.{}").format(sql.Identifier(c)) for c in changeable),
        )
        with conn.cursor() as cur:
            cur.executemany(statement, rows, returning=True)
            for was_insert in _returned(cur):
                inserted += was_insert
                updated += not was_insert
    ids = [r["id"] for r in rows]
    retired = 0 if retire == "keep" else _retire(conn, table, ids, retire_where, delete=retire == "delete")
    return TableCounts(inserted, updated, len(rows) - inserted - updated, retired)


def _returned(cur: psycopg.Cursor[Any]) -> Iterable[bool]:
    while True:
        row = cur.fetchone()
        if row is not None:
            yield bool(row[0])
        if not cur.nextset():
            return


def _retire(
    conn: psycopg.Connection, table: str, keep_ids: list[str], where: LiteralString, *, delete: bool
) -> int:
    if delete:
        statement = sql.SQL("DELETE FROM {} WHERE NOT (id = ANY(%s))")
    else:
        statement = sql.SQL(
            "UPDATE {} SET active = false WHERE active AND NOT (id = ANY(%s)) AND " + where
        )
    cur = conn.execute(statement.format(sql.Identifier(table)), (keep_ids,))
    return cur.rowcount
