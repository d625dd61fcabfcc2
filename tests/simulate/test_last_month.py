"""Last month's history for the example city: written into a real database, scored, the same for the same seed.

The scorecard's present-state criteria (cameras and alarms online) read the devices' liveness now, which is the
live stages' to write, not the history's: the test marks every device heard, as a running city would have them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import psycopg
import pytest

from campusguard.simulate.last_month import Written, generate, profiles
from command_ui.bulletin import cards_of
from domain.compliance import Scorecard
from domain.site import load_site
from store import compliance_repo
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


def _cards(conn: psycopg.Connection) -> list[Scorecard]:
    start, end = dt.datetime(2026, 11, 1, tzinfo=NOW.tzinfo), dt.datetime(2026, 12, 1, tzinfo=NOW.tzinfo)
    return cards_of(compliance_repo.school_records(conn, "/", start.astimezone(dt.UTC), end.astimezone(dt.UTC),
                                                   NOW.astimezone(dt.UTC), lambda _: 30.0))


def test_weak_schools_need_rectification_and_the_rest_pass(written: tuple[str, Written, dict[str, str]]) -> None:
    db, made, _ = written
    assert made.month == "2026-11"
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("UPDATE device_liveness SET online = true")  # the live stages hear the city's devices
        cards = {c.school_id: c for c in _cards(conn)}
    weak = {s for s, p in made.profiles.items() if p == "weak"}
    assert len(cards) == len(made.profiles) == 30 and 1 <= len(weak) <= 5
    rectify = {s for s, c in cards.items() if c.rectify}
    assert weak <= rectify, {s: cards[s].score for s in weak}
    assert len(rectify) <= len(cards) // 4, {s: (cards[s].score, [j.criterion for j in cards[s].judgements
                                                                  if j.status == "fail"]) for s in rectify}
    for school in weak:  # weak: its rounds mostly missed, no drill, no camera wholly missed
        assert cards[school].judgement("patrols").status == "fail"
    good = [c for s, c in cards.items() if made.profiles[s] == "good"]
    assert all(c.judgement("patrols").status == "pass" and c.judgement("response").status in ("pass", "na")
               for c in good)
    assert made.rows["patrol_scans"] > 10_000 and made.rows["incidents"] >= 30 and made.rows["drills"] >= 20


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
