"""The process's incident feed against a real PostgreSQL: one read per change, scoped, nothing skipped.

Two writers can commit their cursors out of order; the later-committing lower cursor still reaches the screens.
"""

from __future__ import annotations

import asyncio
import json
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


def drain(subscription: IncidentSubscription, resumes: list[int] | None = None) -> list[int]:
    """The cursors queued for a socket (and, into ``resumes``, where each message says to resume from)."""
    out = []
    while not subscription.queue.empty():
        change = subscription.queue.get_nowait()
        out.append(change.cursor)
        if resumes is not None:
            resumes.append(json.loads(change.message)["resume"])
    return out


async def read(hub: IncidentHub, url: str, start: bool = False) -> None:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        if start:
            await hub._start(conn)
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
        resumes: list[int] = []
        assert drain(screen, resumes) == [higher]
        assert resumes == [lower - 1]  # a screen that drops now must reconnect below the hole
        slow.commit()
    asyncio.run(read(hub, url))
    assert drain(screen, resumes) == [lower]  # read from the hole left below ``higher``
    assert resumes[-1] == higher  # nothing open below: resume after the newest
    asyncio.run(read(hub, url))
    assert drain(screen) == []  # and only once


def test_a_cursor_still_committing_when_the_hub_starts_is_delivered(url: str) -> None:
    press(url, "antelope-park-office-panic-1")
    press(url, "walton-road-office-panic-1")
    with psycopg.connect(url) as slow, psycopg.connect(url) as fast:
        lower = note(slow, OWN, 100)
        note(fast, OTHER, 100)
        fast.commit()
        hub = IncidentHub(url)
        screen = hub.subscribe("/")
        asyncio.run(read(hub, url, start=True))  # starts after ``higher``, with ``lower`` not yet committed
        assert drain(screen) == []
        slow.commit()
    asyncio.run(read(hub, url))
    assert drain(screen) == [lower]


def test_a_stale_copy_never_follows_a_newer_one_on_a_socket() -> None:
    hub = IncidentHub("unused")
    screen = hub.subscribe("/")
    base = {"id": 7, "school_id": OWN, "type": "panic", "severity": "critical", "outcome": None, "title": "t",
            "lon": 0.0, "lat": 0.0, "occurrences": 1, "opened_at": None, "acknowledged_at": None,
            "resolved_at": None, "escalation_level": 0, "path": "/x/"}
    # The press came from a button whose clock runs two minutes fast: updated_at goes backwards on the
    # acknowledgement (server time); the version (event_seq) does not.
    hub.offer({**base, "cursor": 5, "event_seq": 1, "status": "raised",
               "updated_at": datetime(2026, 11, 23, 8, 2, tzinfo=UTC)})
    hub.offer({**base, "cursor": 6, "event_seq": 2, "status": "acknowledged",
               "updated_at": datetime(2026, 11, 23, 8, 0, 30, tzinfo=UTC)})
    hub.offer({**base, "cursor": 7, "event_seq": 3, "status": "resolved",
               "updated_at": datetime(2026, 11, 23, 8, 1, tzinfo=UTC)})
    raised, acknowledged, resolved = (screen.queue.get_nowait() for _ in range(3))
    assert screen.fresher(raised) and screen.fresher(acknowledged)  # the acknowledgement is not taken as older
    assert screen.fresher(resolved)
    assert not screen.fresher(acknowledged)  # a copy read before a replay must not reopen it on the screen
    assert not screen.fresher(resolved)  # nor is the same state sent twice


def test_a_feed_that_stops_reading_is_called_stale() -> None:
    hub = IncidentHub("unused")
    assert hub.state(now=100.0) == "starting"
    hub._started = 100.0
    assert hub.state(now=100.0 + STALE_S) == "starting"
    assert hub.state(now=101.0 + STALE_S) == "stale"  # never read since it started
    hub.last_read = 200.0
    assert hub.state(now=200.0 + STALE_S) == "ok"
    assert hub.state(now=201.0 + STALE_S) == "stale"
