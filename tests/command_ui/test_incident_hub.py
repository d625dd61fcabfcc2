"""The process's incident feed against a real PostgreSQL: one read per change, scoped, nothing skipped.

Two writers can commit their cursors out of order; the later-committing lower cursor still reaches the screens.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import psycopg

from command_ui.incident_hub import STALE_S, IncidentHub, IncidentSubscription
from tests.command_ui.test_live import OTHER, OWN, press


def school_path(url: str, school: str) -> str:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT path FROM org_units WHERE id = %s", (school,)).fetchone()
    assert row is not None
    return str(row[0])


def note(conn: psycopg.Connection[tuple[object, ...]], school: str, seq: int) -> int:
    """Write a change of the school's incident (uncommitted); return its cursor."""
    row = conn.execute("SELECT id FROM incidents WHERE school_id = %s", (school,)).fetchone()
    assert row is not None
    incident = row[0]
    row = conn.execute("INSERT INTO incident_events (incident_id, seq, time, school_id, kind) VALUES"
                       " (%s, %s, now(), %s, 'note') RETURNING cursor", (incident, seq, school)).fetchone()
    conn.execute("UPDATE incidents SET updated_at = clock_timestamp() WHERE id = %s", (incident,))
    assert row is not None
    return int(str(row[0]))


def drain(subscription: IncidentSubscription) -> list[int]:
    out = []
    while not subscription.queue.empty():
        out.append(subscription.queue.get_nowait().cursor)
    return out


async def read(hub: IncidentHub, url: str) -> None:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await hub.read(conn)


def test_changes_go_only_to_sockets_whose_scope_holds_the_school(url: str) -> None:
    hub = IncidentHub(url)
    own, other = hub.subscribe(school_path(url, OWN)), hub.subscribe(school_path(url, OTHER))
    city = hub.subscribe("/")
    press(url, "antelope-park-office-panic-1")
    asyncio.run(read(hub, url))
    assert drain(own) and not drain(other)
    assert drain(city)


def test_a_cursor_that_commits_after_a_higher_one_is_still_delivered(url: str) -> None:
    # Two incidents (writers of one incident queue on its row lock and so commit in cursor order).
    press(url, "antelope-park-office-panic-1")
    press(url, "walton-road-office-panic-1")
    hub = IncidentHub(url)
    asyncio.run(read(hub, url))
    screen = hub.subscribe("/")
    with psycopg.connect(url) as slow, psycopg.connect(url) as fast:
        lower = note(slow, OWN, 100)  # a guard's acknowledgement, still committing
        higher = note(fast, OTHER, 100)  # the alert stage's escalation elsewhere, committed first
        fast.commit()
        asyncio.run(read(hub, url))
        assert drain(screen) == [higher]
        slow.commit()
    asyncio.run(read(hub, url))
    assert drain(screen) == [lower]  # read from the hole left below ``higher``
    asyncio.run(read(hub, url))
    assert drain(screen) == []  # and only once


def test_a_stale_copy_never_follows_a_newer_one_on_a_socket() -> None:
    hub = IncidentHub("unused")
    screen = hub.subscribe("/")
    base = {"id": 7, "school_id": OWN, "type": "panic", "severity": "critical", "outcome": None, "title": "t",
            "lon": 0.0, "lat": 0.0, "occurrences": 1, "opened_at": None, "acknowledged_at": None,
            "resolved_at": None, "escalation_level": 0, "path": "/x/"}
    hub.offer({**base, "cursor": 5, "status": "raised", "updated_at": datetime(2026, 11, 23, 8, 0, tzinfo=UTC)})
    hub.offer({**base, "cursor": 6, "status": "resolved", "updated_at": datetime(2026, 11, 23, 8, 5, tzinfo=UTC)})
    first, second = screen.queue.get_nowait(), screen.queue.get_nowait()
    assert screen.fresher(second)  # the replay sent the resolved state first
    assert not screen.fresher(first)  # the raised copy read earlier must not reopen it on the screen
    assert not screen.fresher(second)  # nor is the same change sent twice


def test_a_feed_that_stops_reading_is_called_stale() -> None:
    hub = IncidentHub("unused")
    assert hub.state(now=100.0) == "starting"
    hub._started = 100.0
    assert hub.state(now=100.0 + STALE_S) == "starting"
    assert hub.state(now=101.0 + STALE_S) == "stale"  # never read since it started
    hub.last_read = 200.0
    assert hub.state(now=200.0 + STALE_S) == "ok"
    assert hub.state(now=201.0 + STALE_S) == "stale"
