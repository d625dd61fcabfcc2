"""Last month's history for the example city: written into a real database, scored, the same for the same seed.

The cameras and alarms criteria are judged on the month's own device history, as the generator wrote it, while
every device is offline now (nothing has heard the simulated city since the month ended): the weak schools'
long outages cost them key areas, the others' short ones do not.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import psycopg
import pytest

from campusguard.simulate.last_month import PROFILES, Written, generate, profiles
from command_ui.bulletin import cards_of
from command_ui.uptime import counted_seconds, online_seconds
from domain.compliance import ONLINE_SHARE, Scorecard, online_over
from domain.site import load_site
from store import compliance_repo, incident_repo, queries
from store.config import RetentionSettings, StorageBackend
from store.migrate import migrate
from store.site_repo import load_site as store_site
from tests.command_ui.test_scope_matrix_city import CITY
from tests.support.postgres import scratch_database

NOW = dt.datetime(2026, 12, 1, 1, 30, tzinfo=ZoneInfo("Asia/Shanghai"))  # the small hours of the 1st
SEED = 7
_DIGEST = {
    "patrol_scans": "SELECT checkpoint_id, round_start, scanned_at FROM patrol_scans ORDER BY 1, 2",
    "drills": "SELECT school_id, device_id, started_at FROM drills ORDER BY 1",
    "incidents": "SELECT school_id, status, outcome, opened_at, acknowledged_at FROM incidents ORDER BY 4, 1",
    "device_events": "SELECT device_id, time, kind FROM device_events ORDER BY 1, 2, 3",
}


def _fresh(server: str, backend: StorageBackend = StorageBackend.AUTO) -> Iterator[str]:
    with scratch_database(server) as db, psycopg.connect(db, autocommit=True) as conn:
        migrate(conn, backend, RetentionSettings())
        store_site(conn, load_site(CITY))
        yield db


def _digest(conn: psycopg.Connection) -> dict[str, str]:
    return {table: hashlib.sha256(repr(conn.execute(query).fetchall()).encode()).hexdigest()
            for table, query in _DIGEST.items()}


@pytest.fixture(scope="module")
def written(service_urls: object) -> Iterator[tuple[str, Written, dict[str, str]]]:
    server = service_urls.database_url  # type: ignore[attr-defined]
    for db in _fresh(server):
        with psycopg.connect(db, autocommit=True) as conn:
            made = generate(conn, NOW.astimezone(dt.UTC), SEED)
            assert made is not None
            yield db, made, _digest(conn)


START = dt.datetime(2026, 11, 1, tzinfo=NOW.tzinfo).astimezone(dt.UTC)
END = dt.datetime(2026, 12, 1, tzinfo=NOW.tzinfo).astimezone(dt.UTC)


def _records(conn: psycopg.Connection) -> list[compliance_repo.SchoolRecord]:
    return compliance_repo.school_records(conn, "/", START, END, NOW.astimezone(dt.UTC), lambda _: 30.0)


def _cards(conn: psycopg.Connection) -> list[Scorecard]:
    return cards_of(_records(conn))


def test_weak_schools_need_rectification_and_the_rest_pass(written: tuple[str, Written, dict[str, str]]) -> None:
    db, made, _ = written
    assert made.month == "2026-11"
    with psycopg.connect(db, autocommit=True) as conn:
        assert conn.execute("SELECT bool_or(online) FROM device_liveness").fetchone() == (False,)  # none heard now
        cards = {c.school_id: c for c in _cards(conn)}
    weak = {s for s, p in made.profiles.items() if p == "weak"}
    assert len(cards) == len(made.profiles) == 30 and 1 <= len(weak) <= 5
    rectify = {s for s, c in cards.items() if c.rectify}
    assert weak <= rectify, {s: cards[s].score for s in weak}
    assert len(rectify) <= len(cards) // 4, {s: (cards[s].score, [j.criterion for j in cards[s].judgements
                                                                  if j.status == "fail"]) for s in rectify}
    for school in weak:  # weak: its rounds mostly missed, no drill, its devices down for days
        assert cards[school].judgement("patrols").status == "fail"
    good = [c for s, c in cards.items() if made.profiles[s] == "good"]
    assert all(c.judgement("patrols").status == "pass" and c.judgement("response").status in ("pass", "na")
               for c in good)
    assert made.rows["patrol_scans"] > 10_000 and made.rows["incidents"] >= 30 and made.rows["drills"] >= 20


def test_last_months_cameras_and_alarms_are_judged_on_its_outages(
        written: tuple[str, Written, dict[str, str]]) -> None:
    db, made, _ = written
    # The generator's design: a patchy school's longest outage is within the downtime a month allows a device
    # counted online, a weak school's shortest is beyond it; most weak devices go down, a quarter of the others.
    allowed_h = (1 - ONLINE_SHARE) * (END - START) / dt.timedelta(hours=1)
    assert PROFILES["good"].outage_h[1] < PROFILES["patchy"].outage_h[1] < allowed_h < PROFILES["weak"].outage_h[0]
    with psycopg.connect(db, autocommit=True) as conn:
        records = {r.facts.school_id: r for r in _records(conn)}
        devices = queries.device_availability(conn, "/", START, END)
    weak = {s for s, p in made.profiles.items() if p == "weak"}
    cards = {c.school_id: c for c in cards_of(list(records.values()))}
    short = {s for s, c in cards.items() if c.judgement("cameras").status != "pass"}
    # Only weak schools lose a key area, and at least one of them does: most schools pass, a few weak ones fail.
    assert short <= weak and 1 <= len(short) <= len(weak), {s: made.profiles[s] for s in short}
    assert all(records[s].facts.buttons_online == records[s].facts.buttons for s in cards if s not in weak)
    # The store's set-based judgement is the uptime report's, device by device (command_ui/uptime.py).
    expected: dict[str, list[tuple[str, bool]]] = {}
    for device in devices:
        if device.kind in ("camera", "panic_button"):
            up = online_over(online_seconds(device, START, END), counted_seconds(device, START, END))
            expected.setdefault(device.school_id, []).append((device.kind, up))
    for school, record in records.items():
        cameras = sorted(up for kind, up in expected[school] if kind == "camera")
        assert sorted(c.online for c in record.facts.cameras) == cameras
        assert record.facts.buttons_online == sum(up for kind, up in expected[school] if kind == "panic_button")


def test_the_same_seed_writes_the_same_month(service_urls: object,
                                              written: tuple[str, Written, dict[str, str]]) -> None:
    db, made, digest = written
    with psycopg.connect(db, autocommit=True) as conn:
        assert generate(conn, NOW.astimezone(dt.UTC), SEED) is None  # a month with history is left alone
        assert conn.execute("SELECT count(*) FROM audit_log WHERE action = 'demo.history'").fetchone() == (1,)
    # The other database on the plain-PostgreSQL path (partitions made for the month), the first on TimescaleDB
    # where the server has it: the same rows either way.
    for other in _fresh(service_urls.database_url, StorageBackend.PLAIN):  # type: ignore[attr-defined]
        with psycopg.connect(other, autocommit=True) as conn:
            again = generate(conn, NOW.astimezone(dt.UTC), SEED)
            assert again is not None and again.profiles == made.profiles and again.rows == made.rows
            assert _digest(conn) == digest
    assert profiles(list(made.profiles), SEED + 1) != made.profiles


def test_last_months_alarms_are_closed_cases_the_alerts_stage_reads_as_it_writes(
        written: tuple[str, Written, dict[str, str]]) -> None:
    """Nothing of the past is left open (the alerts stage would escalate it today), and each reads back whole."""
    db, _, _ = written
    with psycopg.connect(db, autocommit=True) as conn:
        assert incident_repo.unacknowledged(conn) == []
        assert conn.execute("SELECT count(*) FROM incidents WHERE status NOT IN ('resolved', 'closed')").fetchone() \
            == (0,)
        ids = [r[0] for r in conn.execute("SELECT id FROM incidents ORDER BY id")]
        loaded = [incident_repo.get_incident(conn, i, lock=False) for i in ids]
    assert ids and all(i is not None and i.evidence and i.evidence[0].summary for i in loaded)
