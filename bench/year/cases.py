"""What people do with a year of data, each beside its naive form: the pairs ``bench.year.run`` times.

The production form is the store function the API calls (``store.queries``, ``store.audit_repo``, with
``command_ui.uptime`` for the uptime report); the naive form asks the same question the way a first version
would: no partition pruning, OFFSET paging, an unbounded fetch computed in Python, max() over the table.
Each call draws its parameters (a bus, a school day, a page) from the seeded ``random.Random`` it is given.
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from bench.year import fleet
from command_ui.bulletin import cards_of
from command_ui.uptime import school_uptime
from domain.compliance import rollup
from store import audit_repo, compliance_repo, queries

Query = Callable[[psycopg.Connection, random.Random], object]


@dataclass(frozen=True, slots=True)
class Context:
    """What the cases draw from: the district's path, its buses' trackers, the year, a deep page's position."""

    district: str
    buses: tuple[tuple[str, tuple[str, ...], str], ...]
    """(bus id, tracker ids, timezone) of every bus."""
    start: datetime
    end: datetime
    deep: int
    """A deep page's offset: half the incidents the search filter matches."""
    cursor: tuple[datetime, int]
    """The keyset of the row just before that page."""
    incident_ids: tuple[int, int]
    scorecard: tuple[str, datetime, datetime]
    """The root unit's path and the last whole month of the year, in its schools' timezone."""


@dataclass(frozen=True, slots=True)
class Case:
    """A question people ask, its production form and its naive form."""

    name: str
    production: Query
    naive_name: str
    naive: Query


SEARCH = queries.IncidentFilter(types=("overspeed", "route_deviated"), severities=("medium", "high"))
PAGE = 100


def context(conn: psycopg.Connection) -> Context:
    """Read what the cases need from the loaded year."""
    district = conn.execute("SELECT path FROM org_units WHERE kind = 'district' ORDER BY path LIMIT 1").fetchone()
    assert district is not None, "the example district has a district unit"
    buses = conn.execute(
        "SELECT b.id, array_agg(d.id ORDER BY d.id), s.timezone FROM buses b JOIN devices d ON d.bus_id = b.id"
        " JOIN schools s ON s.id = b.school_id GROUP BY b.id, s.timezone ORDER BY b.id").fetchall()
    span = conn.execute("SELECT min(time), max(time) FROM positions").fetchone()
    assert span is not None and span[0] is not None, "load a year first"
    params = SEARCH.params(district[0])
    total = conn.execute(
        "SELECT count(*) FROM incidents i JOIN org_units u ON u.id = i.school_id"
        " WHERE campusguard_within(u.path, %(scope)s) AND i.type = ANY(%(types)s) AND i.severity = ANY(%(severities)s)",
        params).fetchone()
    assert total is not None
    deep = max(int(total[0]) // 2, 1)
    row = conn.execute(
        "SELECT i.opened_at, i.id FROM incidents i JOIN org_units u ON u.id = i.school_id"
        " WHERE campusguard_within(u.path, %(scope)s) AND i.type = ANY(%(types)s) AND i.severity = ANY(%(severities)s)"
        " ORDER BY i.opened_at DESC, i.id DESC OFFSET %(deep)s LIMIT 1", params | {"deep": deep - 1}).fetchone()
    ids = conn.execute("SELECT min(id), max(id) FROM incidents").fetchone()
    assert row is not None and ids is not None
    return Context(district[0], tuple((b, tuple(t), tz) for b, t, tz in buses), span[0], span[1] + timedelta(0, 1),
                   deep, (row[0], row[1]), (ids[0], ids[1]), _month(conn, span[1]))


def _month(conn: psycopg.Connection, last: datetime) -> tuple[str, datetime, datetime]:
    # The month before the one the year ends in, read in the zone most schools keep, as the route reads it (a
    # tiny year, in tests, may hold little of it).
    root = compliance_repo.units(conn, "/")[0]
    local = last.astimezone(ZoneInfo(compliance_repo.scope_zone(conn, root.path) or "UTC"))
    end = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    start = (end - timedelta(days=1)).replace(day=1)
    return root.path, start.astimezone(UTC), end.astimezone(UTC)


def _school_day(ctx: Context, rng: random.Random) -> date:
    days = [ctx.start.date() + timedelta(days=n) for n in range((ctx.end - ctx.start).days)]
    return rng.choice([d for d in days if fleet.school_day(d)] or days)


def _bus_day(ctx: Context, rng: random.Random) -> tuple[list[str], datetime, datetime, date]:
    _, trackers, tz = rng.choice(ctx.buses)
    day = _school_day(ctx, rng)
    start = datetime.combine(day, time(0), ZoneInfo(tz))
    return list(trackers), start, start + timedelta(days=1) - timedelta(microseconds=1), day


def cases(ctx: Context) -> list[Case]:
    """List the questions, in the order the report lists them."""
    def replay(conn: psycopg.Connection, rng: random.Random) -> object:
        trackers, start, end, _ = _bus_day(ctx, rng)
        return queries.fixes(conn, trackers, start, end)

    def replay_naive(conn: psycopg.Connection, rng: random.Random) -> object:
        # The day as a date test on the column: right answer, but no partition can be pruned.
        trackers, start, _, day = _bus_day(ctx, rng)
        return conn.execute(
            "SELECT DISTINCT ON (time) device_id, time, received_at, lon, lat, speed_kmh, heading_deg, source"
            " FROM positions WHERE device_id = ANY(%s) AND (time AT TIME ZONE %s)::date = %s"
            " ORDER BY time, device_id", (trackers, str(start.tzinfo), day)).fetchall()

    def latest(conn: psycopg.Connection, rng: random.Random) -> object:
        return queries.devices(conn, ctx.district, "bus_tracker")

    def latest_naive(conn: psycopg.Connection, rng: random.Random) -> object:
        return conn.execute(
            "SELECT p.device_id, p.time, p.lon, p.lat FROM positions p JOIN ("
            " SELECT device_id, max(time) AS time FROM positions WHERE device_id IN ("
            "  SELECT d.id FROM devices d JOIN org_units u ON u.id = d.school_id WHERE d.kind = 'bus_tracker'"
            "  AND campusguard_within(u.path, %s)) GROUP BY device_id) m USING (device_id, time)",
            (ctx.district,)).fetchall()

    def first_page(conn: psycopg.Connection, rng: random.Random) -> object:
        return queries.incident_page(conn, ctx.district, SEARCH, PAGE)

    def deep_keyset(conn: psycopg.Connection, rng: random.Random) -> object:
        return queries.incident_page(conn, ctx.district, SEARCH, PAGE, ctx.cursor)

    def deep_offset(conn: psycopg.Connection, rng: random.Random) -> object:
        return _offset_page(conn, ctx.district, ctx.deep)

    def audit_incident(conn: psycopg.Connection, rng: random.Random) -> object:
        target = f"incident:{rng.randint(*ctx.incident_ids)}"
        return audit_repo.search(conn, target=target, scope=ctx.district)

    def audit_newest(conn: psycopg.Connection, rng: random.Random) -> object:
        return audit_repo.search(conn, action="incident.acknowledge", scope=ctx.district, newest_first=True)

    def audit_deep(conn: psycopg.Connection, rng: random.Random) -> object:
        return audit_repo.search(conn, action="incident.acknowledge", scope=ctx.district, newest_first=True,
                                 offset=ctx.deep)

    def audit_scan(conn: psycopg.Connection, rng: random.Random) -> object:
        # Every record of the district fetched, the one incident's picked out in the client.
        target = f"incident:{rng.randint(*ctx.incident_ids)}"
        rows = conn.execute("SELECT id, target FROM audit_log WHERE campusguard_within(scope_path, %s)",
                            (ctx.district,)).fetchall()
        return [r for r in rows if r[1] == target]

    def response(conn: psycopg.Connection, rng: random.Random) -> object:
        return queries.response_times(conn, ctx.district, ctx.start, ctx.end)

    def response_naive(conn: psycopg.Connection, rng: random.Random) -> object:
        return _response_in_python(conn, ctx)

    def response_timeline(conn: psycopg.Connection, rng: random.Random) -> object:
        return response_from_timeline(conn, ctx.district, ctx.start, ctx.end)

    def uptime(conn: psycopg.Connection, rng: random.Random) -> object:
        return school_uptime(queries.device_availability(conn, ctx.district, ctx.start, ctx.end), ctx.start, ctx.end)

    def uptime_naive(conn: psycopg.Connection, rng: random.Random) -> object:
        return conn.execute(
            "SELECT e.device_id, e.time, e.kind FROM device_events e JOIN devices d ON d.id = e.device_id"
            " JOIN org_units u ON u.id = d.school_id WHERE campusguard_within(u.path, %s) ORDER BY e.time",
            (ctx.district,)).fetchall()

    def scorecard(conn: psycopg.Connection, rng: random.Random) -> object:
        # What GET /api/v1/reports/scorecard does for the root unit: the set-based facts, scored, rolled up.
        root, since, until = ctx.scorecard
        cards = cards_of(compliance_repo.school_records(conn, root, since, until, until, _retention))
        return cards, rollup(cards, {u.id: u.path for u in compliance_repo.units(conn, root)})

    def scorecard_per_school(conn: psycopg.Connection, rng: random.Random) -> object:
        # A first version's loop: each school's facts asked for alone (its five statements), then scored together.
        root, since, until = ctx.scorecard
        paths = [r[0] for r in conn.execute(
            "SELECT u.path FROM schools s JOIN org_units u ON u.id = s.id WHERE s.active"
            " AND campusguard_within(u.path, %s) ORDER BY u.path", (root,))]
        records = [r for path in paths for r in compliance_repo.school_records(conn, path, since, until, until,
                                                                                _retention)]
        cards = cards_of(records)
        return cards, rollup(cards, {u.id: u.path for u in compliance_repo.units(conn, root)})

    return [
        Case("bus day replayed (history API)", replay, "no partition pruning", replay_naive),
        Case("latest position of every bus in the district", latest, "max() over positions", latest_naive),
        Case("incident search, first page", first_page, "deep page by OFFSET", deep_offset),
        Case("incident search, deep page by keyset", deep_keyset, "deep page by OFFSET", deep_offset),
        Case("audit search, one incident's records", audit_incident, "district's records filtered in Python",
             audit_scan),
        Case("audit search, newest acknowledgements", audit_newest, "deep page by OFFSET", audit_deep),
        Case("response-time report, a year", response, "incidents and timelines fetched, computed in Python",
             response_naive),
        Case("response-time report, a year, first moves from the timeline (before 0045)", response_timeline,
             "incidents and timelines fetched, computed in Python", response_naive),
        Case("uptime report, a year", uptime, "every device event fetched", uptime_naive),
        Case("compliance scorecard, the city, a month", scorecard, "each school's facts asked for alone",
             scorecard_per_school),
    ]


def _retention(camera: str) -> float:
    return 30.0  # the video settings' default: the benchmark has no settings, only the database


def _offset_page(conn: psycopg.Connection, scope: str, offset: int) -> object:
    params = SEARCH.params(scope) | {"offset": offset, "limit": PAGE}
    rows = conn.execute(
        "SELECT i.* FROM incidents i JOIN org_units u ON u.id = i.school_id"
        " WHERE campusguard_within(u.path, %(scope)s) AND i.type = ANY(%(types)s) AND i.severity = ANY(%(severities)s)"
        " ORDER BY i.opened_at DESC, i.id DESC OFFSET %(offset)s LIMIT %(limit)s", params).fetchall()
    total = conn.execute(
        "SELECT count(*) FROM incidents i JOIN org_units u ON u.id = i.school_id"
        " WHERE campusguard_within(u.path, %(scope)s) AND i.type = ANY(%(types)s) AND i.severity = ANY(%(severities)s)",
        params).fetchone()
    return rows, total


def _response_in_python(conn: psycopg.Connection, ctx: Context) -> object:
    firsts: dict[int, dict[str, Any]] = {}
    for incident_id, school, raised, kind, at in conn.execute(
            "SELECT i.id, i.school_id, i.raised_at, e.kind, e.time FROM incidents i"
            " JOIN org_units u ON u.id = i.school_id JOIN incident_events e ON e.incident_id = i.id"
            " WHERE campusguard_within(u.path, %s) AND NOT i.drill AND i.opened_at >= %s AND i.opened_at < %s",
            (ctx.district, ctx.start, ctx.end)):
        entry = firsts.setdefault(incident_id, {"school": school, "raised": raised, "ack": None})
        if kind in ("acknowledge", "respond", "resolve") and (entry["ack"] is None or at < entry["ack"]):
            entry["ack"] = at
    waits: dict[str, list[float]] = {}
    for entry in firsts.values():
        if entry["ack"] is not None:
            waits.setdefault(entry["school"], []).append((entry["ack"] - entry["raised"]).total_seconds())
    return {school: statistics.median(w) for school, w in waits.items()}


def response_from_timeline(conn: psycopg.Connection, scope: str, since: datetime, until: datetime) -> object:
    """Ask for the response-time report as it was before migration 0045: first moves found in the timeline.

    One pass over the timeline's partitions from the window's start on (the day's slack covers a device whose
    clock ran ahead: opened_at is device time), grouped per incident, joined to the incidents in scope.
    """
    return conn.execute(
        "WITH moves AS ("
        "  SELECT e.incident_id, min(e.time) AS acked, min(e.time) FILTER (WHERE e.kind = 'resolve') AS resolved"
        "  FROM incident_events e WHERE e.kind IN ('acknowledge', 'respond', 'resolve')"
        "    AND e.time >= %(since)s::timestamptz - interval '1 day' GROUP BY e.incident_id"
        "), firsts AS ("
        "  SELECT i.id, i.school_id, i.opened_at, i.raised_at, s.timezone, m.acked, m.resolved"
        "  FROM incidents i JOIN org_units u ON u.id = i.school_id JOIN schools s ON s.id = i.school_id"
        "  LEFT JOIN moves m ON m.incident_id = i.id"
        "  WHERE campusguard_within(u.path, %(scope)s) AND i.opened_at >= %(since)s AND i.opened_at < %(until)s"
        "    AND NOT i.drill)"
        " SELECT school_id, date_trunc('week', opened_at AT TIME ZONE timezone)::date AS week, count(*),"
        "  count(acked), percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM acked - raised_at)),"
        "  percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM acked - raised_at)),"
        "  count(resolved), percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM resolved - raised_at)),"
        "  percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM resolved - raised_at))"
        " FROM firsts GROUP BY school_id, week ORDER BY school_id, week",
        {"scope": scope, "since": since, "until": until}).fetchall()
