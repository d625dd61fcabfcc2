"""What the operations page reads: devices in trouble, stalled cameras, dead letters, unknown ids, ingest rates.

Every read is scoped like the rest of the API (``campusguard_within`` on the organisation path). What belongs to
no school, a dead letter no registered device sent or an unknown id whose school cannot be read from its topic,
is for the whole tree's readers only (``domain.scope.owns_tree``): a school's administrator has no business with
another school's typos, and an unresolved one could be anybody's.

Every query is bounded: the time series by a window on their partitioning column, the lists by a limit.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg

from domain.scope import owns_tree

LIST_LIMIT = 500
EXCERPT_CHARS = 160
# Kinds whose silence is news. Cameras report through the vision workers (see stalled_cameras), and a phone
# reports only while its owner shares a position.
WATCHED_KINDS = ("bus_tracker", "panic_button", "sensor")


@dataclass(frozen=True, slots=True)
class DeviceTrouble:
    """A device that is offline, low on battery, or was never heard from."""

    device_id: str
    name: str
    kind: str
    school_id: str | None
    last_seen: datetime | None
    online: bool | None  # None: never heard
    battery_pct: float | None
    battery_low: bool


@dataclass(frozen=True, slots=True)
class StalledCamera:
    """A camera whose latest health event says it stopped delivering frames."""

    camera_id: str
    name: str
    school_id: str | None
    since: datetime
    reason: str | None


@dataclass(frozen=True, slots=True)
class DeadLetterRow:
    """One refused input, as an operator needs to see it."""

    time: datetime
    source: str
    topic: str
    reason: str
    message: str
    excerpt: str
    size: int
    device_id: str | None
    school_id: str | None


@dataclass(frozen=True, slots=True)
class UnknownDevice:
    """Messages from an id no device is registered under."""

    source: str
    external_id: str
    first_seen: datetime
    last_seen: datetime
    messages: int
    last_topic: str
    school_id: str | None
    closest: str | None  # the registered id it most resembles (a typo's likely intent)


@dataclass(frozen=True, slots=True)
class MinuteCounts:
    """What arrived in one minute."""

    minute: datetime
    positions: int
    events: int
    readings: int
    dead_letters: int


def _visible(column: str) -> str:
    """Write the SQL test: an organisation path inside the scope, or none at all for whole-tree readers."""
    return f"(campusguard_within({column}, %(scope)s) OR ({column} IS NULL AND %(whole)s))"


def _params(scope: str, **more: Any) -> dict[str, Any]:
    return {"scope": scope, "whole": owns_tree(scope), **more}


def device_trouble(conn: psycopg.Connection, scope: str) -> list[DeviceTrouble]:
    """Active devices in scope that are offline or low on battery, then those never heard from."""
    rows = conn.execute(
        "SELECT d.id, d.name, d.kind, d.school_id, l.last_seen, l.online, l.battery_pct,"
        " coalesce(l.battery_low, false)"
        " FROM devices d LEFT JOIN org_units u ON u.id = d.school_id"
        " LEFT JOIN device_liveness l ON l.device_id = d.id"
        f" WHERE d.active AND {_visible('u.path')}"
        " AND ((l.device_id IS NOT NULL AND (NOT l.online OR l.battery_low))"
        "      OR (l.device_id IS NULL AND d.kind = ANY(%(watched)s)))"
        " ORDER BY l.device_id IS NULL, l.online, l.last_seen, d.id LIMIT %(limit)s",
        _params(scope, watched=list(WATCHED_KINDS), limit=LIST_LIMIT)).fetchall()
    return [DeviceTrouble(r[0], r[1], r[2], r[3], r[4], r[5], None if r[6] is None else float(r[6]), bool(r[7]))
            for r in rows]


def stalled_cameras(conn: psycopg.Connection, scope: str, now: datetime,
                    window: timedelta = timedelta(days=7)) -> list[StalledCamera]:
    """Cameras whose latest health event in the window is ``camera_offline`` (vision/worker.py)."""
    rows = conn.execute(
        "SELECT * FROM (SELECT DISTINCT ON (e.device_id) e.device_id, d.name, d.school_id, e.kind, e.time,"
        "   e.detail->>'reason'"
        "   FROM device_events e JOIN devices d ON d.id = e.device_id AND d.active AND d.kind = 'camera'"
        "   LEFT JOIN org_units u ON u.id = d.school_id"
        "   WHERE e.kind IN ('camera_offline', 'camera_online') AND e.time >= %(since)s AND e.time <= %(now)s"
        f"  AND {_visible('u.path')}"
        "   ORDER BY e.device_id, e.time DESC) latest"
        " WHERE kind = 'camera_offline' ORDER BY time LIMIT %(limit)s",
        _params(scope, since=now - window, now=now, limit=LIST_LIMIT)).fetchall()
    return [StalledCamera(r[0], r[1], r[2], r[4], r[5]) for r in rows]


# A dead letter's device, read from where each listener put its id (ingest/route.py, ingest/decoders): the last
# level of our schema's topic, OwnTracks' user/device, Zigbee2MQTT's friendly name, OsmAnd's id= parameter, the
# JT/T 808 number or GT06 IMEI the TCP listeners write first in theirs (``jt808/{number}``, ``gt06/{imei}[/min]``).
# Registered devices are keyed as the ingest directory keys them (ingest/directory.py).
_SCOPED_LETTERS = f"""
WITH keyed AS (
    SELECT DISTINCT ON (key_source, key_id) * FROM (
        SELECT d.id, d.school_id, u.path,
               CASE WHEN d.external_id IS NULL THEN 'campusguard' ELSE d.source END AS key_source,
               coalesce(d.external_id, d.id) AS key_id
        FROM devices d LEFT JOIN org_units u ON u.id = d.school_id WHERE d.active) k
    ORDER BY key_source, key_id, id
), letters AS (
    SELECT l.*, CASE
        WHEN l.source = 'mqtt' AND starts_with(l.topic, 'campusguard/') THEN 'campusguard'
        WHEN l.source = 'mqtt' AND starts_with(l.topic, 'owntracks/') THEN 'owntracks'
        WHEN l.source = 'mqtt' AND starts_with(l.topic, 'zigbee2mqtt/') THEN 'zigbee2mqtt'
        WHEN l.source = 'osmand-http' THEN 'osmand'
        WHEN l.source = 'jt808-tcp' THEN 'jt808'
        WHEN l.source = 'gt06-tcp' THEN 'gt06' END AS key_source,
      CASE
        WHEN l.source = 'mqtt' AND starts_with(l.topic, 'campusguard/') THEN split_part(l.topic, '/', 5)
        WHEN l.source = 'mqtt' AND starts_with(l.topic, 'owntracks/')
            THEN split_part(l.topic, '/', 2) || '/' || split_part(l.topic, '/', 3)
        WHEN l.source = 'mqtt' AND starts_with(l.topic, 'zigbee2mqtt/')
            THEN regexp_replace(substr(l.topic, 13), '/availability$', '')
        WHEN l.source = 'osmand-http'
            THEN substring(split_part(l.topic, E'\\n', 1) FROM '(?:^|[?&])(?:id|deviceid)=([^&]*)')
        WHEN l.source IN ('jt808-tcp', 'gt06-tcp')
            THEN split_part(split_part(l.topic, E'\\n', 1), '/', 2) END AS key_id
    FROM dead_letters l WHERE l.time >= %(since)s AND l.time < %(until)s
), scoped AS (
    SELECT l.*, k.id AS device_id, k.school_id FROM letters l
    LEFT JOIN keyed k ON k.key_source = l.key_source AND k.key_id = l.key_id
    WHERE {_visible('k.path')}
)
"""


def dead_letters(conn: psycopg.Connection, scope: str, since: datetime, until: datetime,
                 reason: str | None = None, limit: int = 100) -> list[DeadLetterRow]:
    """List the dead letters of the window in scope (with ``reason``, only those), newest first."""
    if not 1 <= limit <= LIST_LIMIT:
        raise ValueError(f"limit must be between 1 and {LIST_LIMIT}, got {limit}")
    rows = conn.execute(
        _SCOPED_LETTERS + "SELECT time, source, topic, reason, message, substring(payload FROM 1 FOR %(head)s),"
        " length(payload), device_id, school_id FROM scoped"
        " WHERE %(reason)s::text IS NULL OR reason = %(reason)s ORDER BY time DESC LIMIT %(limit)s",
        _params(scope, since=since, until=until, reason=reason, limit=limit, head=EXCERPT_CHARS * 4)).fetchall()
    return [DeadLetterRow(r[0], r[1], excerpt(r[2].encode()), r[3], r[4], excerpt(bytes(r[5])), int(r[6]), r[7], r[8])
            for r in rows]


def dead_letter_reasons(conn: psycopg.Connection, scope: str, since: datetime, until: datetime) -> dict[str, int]:
    """How many dead letters of the window in scope each reason has."""
    rows = conn.execute(_SCOPED_LETTERS + "SELECT reason, count(*) FROM scoped GROUP BY reason ORDER BY reason",
                        _params(scope, since=since, until=until)).fetchall()
    return {r[0]: int(r[1]) for r in rows}


def excerpt(raw: bytes, chars: int = EXCERPT_CHARS) -> str:
    """Show the start of a payload as one line of text: bad UTF-8 replaced, control characters as spaces."""
    text = raw.decode("utf-8", errors="replace")
    line = "".join(" " if ord(c) < 32 or ord(c) == 127 else c for c in text)
    return line if len(line) <= chars else line[: chars - 1] + "…"


def unknown_devices(conn: psycopg.Connection, scope: str) -> list[UnknownDevice]:
    """Ids nobody registered, most recently heard first, each with the registered id it most resembles.

    A school is inferred only from our own schema's topic (``campusguard/v1/{school}/...``); any other id is
    shown to whole-tree readers only.
    """
    rows = conn.execute(
        "SELECT x.source, x.external_id, x.first_seen, x.last_seen, x.messages, x.last_topic, o.id"
        " FROM unregistered_devices x"
        " LEFT JOIN org_units o ON x.source = 'campusguard' AND starts_with(x.last_topic, 'campusguard/v1/')"
        "   AND o.id = split_part(x.last_topic, '/', 3)"
        f" WHERE {_visible('o.path')} ORDER BY x.last_seen DESC LIMIT %(limit)s",
        _params(scope, limit=LIST_LIMIT)).fetchall()
    registered = conn.execute(
        "SELECT CASE WHEN d.external_id IS NULL THEN 'campusguard' ELSE d.source END, coalesce(d.external_id, d.id)"
        " FROM devices d LEFT JOIN org_units u ON u.id = d.school_id"
        f" WHERE d.active AND {_visible('u.path')}", _params(scope)).fetchall()
    by_source: dict[str, list[str]] = {}
    for source, key in registered:
        by_source.setdefault(source, []).append(key)
    return [UnknownDevice(r[0], r[1], r[2], r[3], int(r[4]), excerpt(r[5].encode(), 300), r[6],
                          closest_id(r[1], by_source.get(r[0], ()))) for r in rows]


def closest_id(unknown: str, registered: Iterable[str]) -> str | None:
    """Find the registered id a mistyped one most resembles (a swapped or missing character), if any is close."""
    found = difflib.get_close_matches(unknown, list(registered), n=1, cutoff=0.75)
    return found[0] if found else None


# Positions and readings are partitioned by device time, not arrival: a fix is looked for among those timed up to
# LATE_SLACK before the window, so the count is cheap; a fix buffered longer than that is not counted.
LATE_SLACK = timedelta(hours=1)


def ingest_rates(conn: psycopg.Connection, scope: str, now: datetime,
                 minutes: int = 60) -> list[MinuteCounts]:
    """Messages stored per minute of arrival over the last ``minutes`` (at most a day), oldest first."""
    if not 1 <= minutes <= 1440:
        raise ValueError(f"minutes must be between 1 and 1440, got {minutes}")
    end = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    start = end - timedelta(minutes=minutes)
    params = _params(scope, since=start, until=end, early=start - LATE_SLACK)
    counts: dict[datetime, list[int]] = {start + timedelta(minutes=n): [0, 0, 0, 0] for n in range(minutes)}
    scoped_device = (" JOIN devices d ON d.id = t.device_id LEFT JOIN org_units u ON u.id = d.school_id"
                     f" WHERE {_visible('u.path')} AND t.received_at >= %(since)s AND t.received_at < %(until)s")
    series = (
        ("SELECT date_trunc('minute', t.received_at), count(*) FROM positions t" + scoped_device
         + " AND t.time >= %(early)s GROUP BY 1"),
        # device_events has an index on received_at; geo.* are derived by the geo stage, not received.
        ("SELECT date_trunc('minute', t.received_at), count(*) FROM device_events t" + scoped_device
         + " AND t.kind NOT LIKE 'geo.%%' GROUP BY 1"),
        ("SELECT date_trunc('minute', t.received_at), count(*) FROM sensor_readings t" + scoped_device
         + " AND t.time >= %(early)s GROUP BY 1"),
        (_SCOPED_LETTERS + "SELECT date_trunc('minute', time), count(*) FROM scoped GROUP BY 1"),
    )
    for index, query in enumerate(series):
        for minute, count in conn.execute(query, params).fetchall():
            if minute in counts:
                counts[minute][index] += int(count)
    return [MinuteCounts(minute, *values) for minute, values in counts.items()]
