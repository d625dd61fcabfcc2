"""Seeding helpers for the API tests: incidents with a timeline, a bus's trip, device availability changes.

Rows go straight into the tables the stages write (``incidents``/``incident_events``, ``positions``/
``latest_positions``, ``device_events``/``device_liveness``), with chosen times, so the figures the API
computes from them are known in advance.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import shapely
from fastapi.testclient import TestClient

from campusguard.settings import Mode, Settings
from command_ui.app import create_app
from command_ui.deps import SESSION_COOKIE
from store.partitions import PARTITIONED_TABLES, ensure_partitions
from tests.support.secrets import TEST_ADMIN_PASSWORD, TEST_SECRET_KEY

PASSWORD = "a long enough password"
CHICAGO = ZoneInfo("America/Chicago")
# bus-01 of antelope-park-es, as the example site file draws it.
BUS_01_ROUTE = shapely.LineString([(-96.6303, 40.795875), (-96.6303, 40.8), (-96.69, 40.8)])


def cover_past(conn: psycopg.Connection, days: int = 60) -> None:
    """Create the time-series partitions of the past ``days`` (the migration makes only the last two days')."""
    now = dt.datetime.now(dt.UTC)
    for table in PARTITIONED_TABLES:
        ensure_partitions(conn, table, now - dt.timedelta(days=days), now + dt.timedelta(days=7))


def add_incident(conn: psycopg.Connection, school: str, opened: dt.datetime, *, ack_s: float | None = None,
                 resolve_s: float | None = None, kind: str = "panic", severity: str = "critical",
                 outcome: str | None = None, title: str | None = None) -> int:
    """Store an incident with its timeline: raised at ``opened``, acted on and resolved after so many seconds."""
    acked = opened + dt.timedelta(seconds=ack_s) if ack_s is not None else None
    resolved = opened + dt.timedelta(seconds=resolve_s) if resolve_s is not None else None
    status = "resolved" if resolved else "acknowledged" if acked else "raised"
    if resolved and outcome is None:
        outcome = "real"
    row = conn.execute(
        "INSERT INTO incidents (school_id, type, severity, status, outcome, title, lon, lat, opened_at, updated_at,"
        " acknowledged_at, resolved_at, last_signal_at) VALUES (%s, %s, %s, %s, %s, %s, -96.69, 40.80, %s, %s, %s,"
        " %s, %s) RETURNING id",
        (school, kind, severity, status, outcome, title or f"{kind} at {school}", opened,
         resolved or acked or opened, acked, resolved, opened)).fetchone()
    assert row is not None
    incident_id = int(row[0])
    events: list[tuple[str, dt.datetime, str | None]] = [("raised", opened, None)]
    if acked:
        events.append(("acknowledge", acked, "someone"))
    if resolved:
        events.append(("resolve", resolved, "someone"))
    for seq, (event, at, actor) in enumerate(events, start=1):
        conn.execute("INSERT INTO incident_events (incident_id, seq, time, school_id, kind, actor)"
                     " VALUES (%s, %s, %s, %s, %s, %s)", (incident_id, seq, at, school, event, actor))
    conn.execute("UPDATE incidents SET event_seq = %s WHERE id = %s", (len(events), incident_id))
    return incident_id


def last_weekday(today: dt.date | None = None) -> dt.date:
    """The latest Monday-to-Friday date before today in Chicago: a school day with a morning trip."""
    day = (today or dt.datetime.now(CHICAGO).date()) - dt.timedelta(days=1)
    while day.weekday() >= 5:
        day -= dt.timedelta(days=1)
    return day


def drive_bus_01(conn: psycopg.Connection, day: dt.date, start: dt.time, end: dt.time, share_at_end: float,
                 every_s: int = 10) -> list[tuple[dt.datetime, float, float]]:
    """Drive bus-01 along its route at a steady pace from its start, reaching ``share_at_end`` of it at ``end``.

    Returns the fixes (time, lon, lat); the last one is also the bus's latest position.
    """
    t0 = dt.datetime.combine(day, start, tzinfo=CHICAGO).astimezone(dt.UTC)
    t1 = dt.datetime.combine(day, end, tzinfo=CHICAGO).astimezone(dt.UTC)
    steps = int((t1 - t0).total_seconds() // every_s)
    out = []
    for i in range(steps + 1):
        at = t0 + dt.timedelta(seconds=i * every_s)
        point = shapely.line_interpolate_point(BUS_01_ROUTE, share_at_end * i / steps, normalized=True)
        out.append((at, float(point.x), float(point.y)))
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO positions (device_id, time, received_at, lon, lat, speed_kmh, heading_deg, source)"
                        " VALUES ('bus-01-gps', %s, %s, %s, %s, 30, 270, 'test') ON CONFLICT DO NOTHING",
                        [(at, at, lon, lat) for at, lon, lat in out])
    at, lon, lat = out[-1]
    conn.execute("INSERT INTO latest_positions (device_id, time, lon, lat, speed_kmh, heading_deg, source)"
                 " VALUES ('bus-01-gps', %s, %s, %s, 30, 270, 'test') ON CONFLICT (device_id) DO UPDATE"
                 " SET time = excluded.time, lon = excluded.lon, lat = excluded.lat", (at, lon, lat))
    return out


@contextmanager
def api(url: str, data_dir: Path) -> Iterator[TestClient]:
    """The app on a database, through a test client that keeps no cookies of its own between sign-ins."""
    settings = Settings(mode=Mode.PRODUCTION, database_url=url, secret_key=TEST_SECRET_KEY,
                        admin_password=TEST_ADMIN_PASSWORD, data_dir=data_dir, cookie_secure=False)
    with TestClient(create_app(settings)) as client:
        yield client


def sign_in(client: TestClient, user: str) -> dict[str, str]:
    """Sign ``user`` in; returns the Cookie header that carries their session, so one client serves many people."""
    response = client.post("/api/v1/auth/login", json={"username": user, "password": PASSWORD})
    assert response.status_code == 200, response.text
    token = response.cookies[SESSION_COOKIE]
    client.cookies.clear()
    return {"Cookie": f"{SESSION_COOKIE}={token}"}
