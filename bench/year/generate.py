"""Load a city's year into a freshly migrated database with binary COPY, seeded and sized by ``--scale``.

The city is the example district (examples/district.yaml) with its bus fleet cloned until a full year (scale
1.0) holds about 50 M positions, 2 M device events and 100 k incidents (each with its timeline and about nine
audit records on a valid hash chain), with what the compliance scorecard reads besides (patrol rounds, camera
and button outages, drills, and people's audit records: ``bench.year.people``; about 1.1 M audit records in all
at 1.0). A smaller scale first drops clones, then days: the district has 41 bus
trackers, so the full year is 3 copies of its fleet, scale 0.1 is the district's own fleet over 110 days, and a
tiny scale (tests) the district over two days.

COPY goes straight into the tables rather than through ``store.writer``: the writer's staging and duplicate
skipping are for re-delivered messages, and a generated year has none. The latest positions and liveness that
ingest would keep are written once at the end. Run:
``python -m devtools.devservices run -- .venv/bin/python -m bench.year.generate --scale 0.01``
"""

from __future__ import annotations

import argparse
import itertools
import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from bench.year import fleet, people
from bench.year.incidents import Generated, School, chained, incident
from domain.audit import GENESIS, AuditRecord
from domain.site.validate import load_site as read_site
from store.config import RetentionSettings, StorageBackend
from store.migrate import migrate
from store.partitions import ensure_partitions
from store.site_repo import load_site

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "district.yaml"
FULL_POSITIONS, FULL_EVENTS, FULL_INCIDENTS = 50_000_000, 2_000_000, 100_000
AUDIT_COLUMNS = ("at", "actor", "action", "target", "detail", "prev_hash", "hash", "scope_path")
AUDIT_TYPES = ("timestamptz", "text", "text", "text", "jsonb", "bytea", "bytea", "text")
GEO_KINDS = ("geo.fence_entered", "geo.overspeed_started", "geo.overspeed", "geo.unexpected_stop",
             "geo.unexpected_stop_ended", "geo.route_deviated", "geo.route_rejoined")


@dataclass(frozen=True, slots=True)
class Plan:
    """How big the generated year is: fleet copies, days, incidents, device events per tracker and school day."""

    scale: float
    copies: int
    days: int
    incidents: int
    events_per_school_day: int
    end: datetime

    @property
    def start(self) -> datetime:
        """Midnight UTC of the first day."""
        return self.end - timedelta(days=self.days)


@dataclass
class Loaded:
    """Rows loaded per table and the seconds each took."""

    rows: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def rate(self) -> float:
        """Rows per second over every table together."""
        return sum(self.rows.values()) / max(sum(self.seconds.values()), 1e-9)


def plan(scale: float, base_trackers: int, end: datetime) -> Plan:
    """Size the year: clones of the fleet first, then days, so that 1.0 is about 50 M positions."""
    if not 0 < scale <= 4:
        raise ValueError(f"scale must be in (0, 4], got {scale}")
    per_tracker = fleet.fixes_per_tracker_year()
    full_copies = max(1, round(FULL_POSITIONS / (per_tracker * base_trackers)))
    copies = max(1, round(full_copies * scale))
    days = max(2, min(365, round(365 * scale * full_copies / copies)))
    school_days = sum(fleet.school_day(date(2025, 1, 1) + timedelta(days=n)) for n in range(365))
    per_day = max(2, round(FULL_EVENTS / (base_trackers * full_copies * school_days)))
    return Plan(scale, copies, days, max(50, round(FULL_INCIDENTS * scale)), per_day, end)


def plan_of(conn: psycopg.Connection) -> Plan:
    """Read the plan a database was loaded with (``bench_year_plan``)."""
    row = conn.execute("SELECT scale, copies, days, incidents, events, ends FROM bench_year_plan").fetchone()
    if row is None:
        raise LookupError("this database holds no generated year")
    return Plan(*row)


def clone_fleet(conn: psycopg.Connection, copies: int) -> None:
    """Add ``copies - 1`` copies of every bus and its trackers (``<id>-c<n>``) to the district's schools."""
    conn.execute(
        "INSERT INTO buses (id, school_id, name, plate, capacity, route, corridor_m, speed_limit_kmh, depot_lon,"
        " depot_lat, service_windows, active) SELECT b.id || '-c' || n, b.school_id, b.name || ' #' || n, b.plate,"
        " b.capacity, b.route, b.corridor_m, b.speed_limit_kmh, b.depot_lon, b.depot_lat, b.service_windows, true"
        " FROM buses b, generate_series(1, %s) n", (copies - 1,))
    conn.execute(
        "INSERT INTO devices (id, school_id, kind, subtype, name, bus_id, source, config, active)"
        " SELECT d.id || '-c' || n, d.school_id, d.kind, d.subtype, d.name || ' #' || n, d.bus_id || '-c' || n,"
        " d.source, d.config, true FROM devices d, generate_series(1, %s) n"
        " WHERE d.kind = 'bus_tracker' AND d.bus_id NOT LIKE '%%-c%%'", (copies - 1,))


def trackers(conn: psycopg.Connection) -> list[fleet.Tracker]:
    """Every active bus tracker with its bus's route and depot and its school's timezone."""
    rows = conn.execute(
        "SELECT d.id, b.id, b.school_id, s.timezone, d.source, b.route, b.depot_lon, b.depot_lat FROM devices d"
        " JOIN buses b ON b.id = d.bus_id JOIN schools s ON s.id = b.school_id"
        " WHERE d.kind = 'bus_tracker' AND d.active ORDER BY d.id").fetchall()
    out = []
    for device_id, bus_id, school_id, tz, source, route, depot_lon, depot_lat in rows:
        line = tuple((float(x), float(y)) for x, y in route["coordinates"])
        depot = (depot_lon, depot_lat) if depot_lon is not None else line[0]
        out.append(fleet.Tracker(device_id, bus_id, school_id, tz, source, line, depot))
    return out


def _copy(conn: psycopg.Connection, table: str, columns: Sequence[str], types: Sequence[str],
          rows: Iterator[tuple[Any, ...]]) -> int:
    count = 0
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(list(types))
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


def _positions(the_plan: Plan, fleet_now: list[fleet.Tracker], last: dict[str, fleet.Fix]) -> Iterator[tuple[Any, ...]]:
    paths: dict[tuple[tuple[float, float], ...], list[tuple[float, float, float, float]]] = {}
    lag = timedelta(seconds=2)
    for n in range(the_plan.days):
        day = (the_plan.start + timedelta(days=n)).date()
        for tracker in fleet_now:
            path = paths.setdefault(tracker.route, fleet.run_path(tracker.route))
            fixes = [f for f in fleet.day_fixes(tracker, day, path) if the_plan.start <= f.time < the_plan.end]
            for f in fixes:
                yield (tracker.device_id, f.time, f.time + lag, f.lon, f.lat, f.speed_kmh, f.heading_deg,
                       tracker.source)
            if fixes:
                last[tracker.device_id] = fixes[-1]


def _device_events(the_plan: Plan, fleet_now: list[fleet.Tracker]) -> Iterator[tuple[Any, ...]]:
    # On a school day: online before the morning run, geo events spread over the day's service, offline after.
    kinds = itertools.cycle(GEO_KINDS)
    inner = the_plan.events_per_school_day - 2
    for n in range(the_plan.days):
        day = (the_plan.start + timedelta(days=n)).date()
        if not fleet.school_day(day):
            continue
        for tracker in fleet_now:
            first, final = fleet.service_day(tracker, day)
            step = (final - first) / max(inner, 1)
            second = timedelta(seconds=1)
            yield (tracker.device_id, first - timedelta(minutes=10), "online", first - timedelta(minutes=10) + second)
            for k in range(inner):
                at = first + step * k
                yield (tracker.device_id, at, next(kinds), at + second)
            yield (tracker.device_id, final + timedelta(minutes=10), "offline", final + timedelta(minutes=10) + second)


def schools(conn: psycopg.Connection) -> list[School]:
    """Each school with its path, the people who act on its incidents, and a bus (or itself) as the source."""
    rows = conn.execute(
        "SELECT s.id, u.path, coalesce((SELECT array_agg(p.id ORDER BY p.id) FROM users p"
        "   WHERE p.scope_id = s.id AND p.role IN ('guard', 'school_admin')), '{}'),"
        " coalesce((SELECT min(b.id) FROM buses b WHERE b.school_id = s.id), s.id),"
        " coalesce((s.campus->'coordinates'->0->0->>0)::float8, 0),"
        " coalesce((s.campus->'coordinates'->0->0->>1)::float8, 0)"
        " FROM schools s JOIN org_units u ON u.id = s.id ORDER BY s.id").fetchall()
    return [School(r[0], r[1], tuple(r[2]), r[3], r[4], r[5]) for r in rows]


def _incidents(the_plan: Plan, places: list[School], rng: random.Random, first_id: int,
               events: list[tuple[Any, ...]], audits: list[tuple[AuditRecord, str]]) -> Iterator[tuple[Any, ...]]:
    span = (the_plan.end - the_plan.start) / the_plan.incidents
    for n in range(the_plan.incidents):
        opened = the_plan.start + span * n + timedelta(seconds=rng.uniform(0, span.total_seconds()))
        made: Generated = incident(rng, first_id + n, rng.choice(places), opened, the_plan.end)
        events.extend(made.events)
        audits.extend(made.audits)
        row = list(made.incident)
        row[8], row[12] = Jsonb(row[8]), Jsonb(row[12])
        yield tuple(row)


def timed_copy(conn: psycopg.Connection, loaded: Loaded) -> people.Copy:
    """COPY into a table, counting its rows and seconds in ``loaded`` under the name given."""
    def timed(name: str, columns: Sequence[str], types: Sequence[str], rows: Iterator[tuple[Any, ...]]) -> None:
        # A name may say which rows of its table these are ("device_events (cameras, buttons)"): counted apart.
        began = time.perf_counter()
        loaded.rows[name] = _copy(conn, name.split(" ")[0], columns, types, rows)
        conn.commit()
        loaded.seconds[name] = time.perf_counter() - began
    return timed


def load_people(conn: psycopg.Connection, the_plan: Plan, loaded: Loaded, rng: random.Random
                ) -> list[tuple[AuditRecord, str]]:
    """Write the year's rounds, outages and drills (``bench.year.people``); return their audit records."""
    places = people.schools(conn)
    row = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM patrol_scans").fetchone()
    made = people.make(places, the_plan.start, the_plan.end, rng, int(row[0]) if row else 1)
    people.write(conn, made, places, the_plan.start, the_plan.end, timed_copy(conn, loaded))
    return made.audits


def load_year(conn: psycopg.Connection, scale: float, seed: int = 21, end: datetime | None = None,
              with_fleet: bool = True) -> tuple[Plan, Loaded]:
    """Migrate (plain PostgreSQL), load the example district and generate its year into ``conn``'s database.

    ``with_fleet=False`` leaves out the buses' positions and device events (the export benchmark's year: the
    audit trail and incidents at full size in two minutes, not fifteen).
    """
    migrate(conn, StorageBackend.PLAIN, RetentionSettings())
    load_site(conn, read_site(EXAMPLE))
    end = end or datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    base = len(trackers(conn))
    the_plan = plan(scale, base, end)
    clone_fleet(conn, the_plan.copies)
    for table in ("positions", "device_events", "incident_events"):
        ensure_partitions(conn, table, the_plan.start - timedelta(days=1), the_plan.end + timedelta(days=1))
    conn.commit()
    fleet_now, loaded, rng = trackers(conn), Loaded(), random.Random(seed)

    timed = timed_copy(conn, loaded)

    last: dict[str, fleet.Fix] = {}
    if not with_fleet:
        fleet_now = []
    timed("positions", ("device_id", "time", "received_at", "lon", "lat", "speed_kmh", "heading_deg", "source"),
          ("text", "timestamptz", "timestamptz", "float8", "float8", "float4", "float4", "text"),
          _positions(the_plan, fleet_now, last))
    timed("device_events", ("device_id", "time", "kind", "received_at"),
          ("text", "timestamptz", "text", "timestamptz"), _device_events(the_plan, fleet_now))
    _latest(conn, fleet_now, last)
    # Seeded apart from the incidents, so adding these left the incidents the generator made as they were.
    scorecard_audits = load_people(conn, the_plan, loaded, random.Random(seed + 1))
    events: list[tuple[Any, ...]] = []
    audits: list[tuple[AuditRecord, str]] = []
    row = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM incidents").fetchone()
    first_id = int(row[0]) if row else 1
    timed("incidents", ("id", "school_id", "type", "severity", "status", "outcome", "title", "title_key",
                        "title_params", "lon", "lat", "occurrences", "evidence", "opened_at", "updated_at",
                        "acknowledged_at", "resolved_at", "raised_at", "drill", "event_seq", "first_move_at",
                        "first_resolved_at"),
          ("int8", "text", "text", "text", "text", "text", "text", "text", "jsonb", "float8", "float8", "int4",
           "jsonb", "timestamptz", "timestamptz", "timestamptz", "timestamptz", "timestamptz", "bool", "int4",
           "timestamptz", "timestamptz"),
          _incidents(the_plan, schools(conn), rng, first_id, events, audits))
    conn.execute("SELECT setval(pg_get_serial_sequence('incidents', 'id'), (SELECT max(id) FROM incidents))")
    timed("incident_events", ("incident_id", "seq", "time", "school_id", "kind", "actor", "note"),
          ("int8", "int4", "timestamptz", "text", "text", "text", "text"), iter(events))
    head = conn.execute("SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()
    # Commit order is time order, as the append lock makes it in production.
    ordered = sorted(audits + scorecard_audits, key=lambda a: a[0].at)
    timed("audit_log", AUDIT_COLUMNS, AUDIT_TYPES, chained(iter(ordered), bytes(head[0]) if head else GENESIS))
    # Only in the benchmark's own cluster: what was loaded, so a later run can measure without loading again.
    conn.execute("CREATE TABLE bench_year_plan (scale float8, copies int, days int, incidents int, events int,"
                 " ends timestamptz)")
    conn.execute("INSERT INTO bench_year_plan VALUES (%s, %s, %s, %s, %s, %s)",
                 (the_plan.scale, the_plan.copies, the_plan.days, the_plan.incidents,
                  the_plan.events_per_school_day, the_plan.end))
    began = time.perf_counter()
    conn.execute("ANALYZE")
    conn.commit()
    loaded.seconds["analyze"] = time.perf_counter() - began
    return the_plan, loaded


def _latest(conn: psycopg.Connection, fleet_now: list[fleet.Tracker], last: dict[str, fleet.Fix]) -> None:
    # What ingest keeps as it goes: each tracker's newest fix, and when it was last heard.
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO latest_positions (device_id, time, lon, lat, speed_kmh, heading_deg, source)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (device_id) DO NOTHING",
            [(t.device_id, last[t.device_id].time, last[t.device_id].lon, last[t.device_id].lat,
              last[t.device_id].speed_kmh, last[t.device_id].heading_deg, t.source)
             for t in fleet_now if t.device_id in last])
        cur.executemany(
            "INSERT INTO device_liveness (device_id, last_seen, online) VALUES (%s, %s, true)"
            " ON CONFLICT (device_id) DO NOTHING", [(d, f.time) for d, f in last.items()])
    conn.commit()


def main(argv: Sequence[str] | None = None) -> None:
    """Load a year into the database in CAMPUSGUARD_DATABASE_URL (it must be empty) and print the load rates."""
    from campusguard.settings import Mode, Settings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--scale", type=float, default=0.01, help="1.0 is the full year (about 50 M positions)")
    parser.add_argument("--seed", type=int, default=21)
    args = parser.parse_args(argv)
    settings = Settings(mode=Mode.DEMO)
    with psycopg.connect(settings.database_url) as conn:
        the_plan, loaded = load_year(conn, args.scale, args.seed)
    print(f"{the_plan}")
    for table, rows in loaded.rows.items():
        print(f"{table}: {rows:,} rows in {loaded.seconds[table]:.1f} s ({rows / loaded.seconds[table]:,.0f} rows/s)")
    print(f"all: {loaded.rate():,.0f} rows/s; ANALYZE {loaded.seconds['analyze']:.1f} s")


if __name__ == "__main__":
    main()
