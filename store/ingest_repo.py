"""Database side of ingest apart from the bulk writer: panics, liveness, unregistered devices, the directory.

Every statement here is idempotent or monotonic, so a replayed spool or two workers doing the same thing at
once cannot corrupt state: panics are keyed by device and time, liveness only moves forward, and the offline
sweep flips a device only once however many workers run it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from domain.messages import PanicPressed
from store.channels import EVENT_CHANNEL, PANIC_CHANNEL
from store.partitions import ensure_partitions


@dataclass(frozen=True, slots=True)
class Touch:
    """A device was heard from: when (arrival time) and its newest battery level, if any."""

    device_id: str
    seen_at: datetime
    battery_pct: float | None


@dataclass(frozen=True, slots=True)
class LivenessChange:
    """A device came back online or its battery went low, as judged by this touch."""

    device_id: str
    time: datetime
    kind: str  # "online" or "low_battery"
    battery_pct: float | None


@dataclass(frozen=True, slots=True)
class UnregisteredHit:
    """Messages from a device the site file does not know, seen by one batch."""

    source: str
    external_id: str
    first_seen: datetime
    last_seen: datetime
    messages: int
    last_topic: str


def directory_rows(conn: psycopg.Connection) -> list[dict[str, Any]]:
    """Active devices with how ingest resolves them."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            "SELECT id, school_id, kind, bus_id, user_id, source, external_id, config"
            " FROM devices WHERE active"
        )
        return cur.fetchall()


# How far apart two copies of one press timed at arrival may arrive and still be known as one press. Two real
# presses with byte-identical payloads this close are one situation for the alert stage anyway.
COPY_WINDOW = timedelta(minutes=2)


def record_panics(conn: psycopg.Connection, panics: Sequence[PanicPressed]) -> list[PanicPressed]:
    """Store panics and announce the new ones on ``campusguard_panic``; returns those that were new.

    A press already stored (the fast path got there first, or a replay) is neither stored nor announced again,
    so a press is announced once however many times it is handed in. A press with a device time outside the
    prepared partitions (a phone with a wrong clock) gets its partition rather than an error.
    """
    try:
        return _record_panics(conn, panics)
    except pg_errors.CheckViolation as exc:
        if "no partition" not in str(exc):
            raise
    with conn.transaction():
        for p in panics:
            ensure_partitions(conn, "device_events", p.time, p.time + timedelta(microseconds=1))
    return _record_panics(conn, panics)


def _record_panics(conn: psycopg.Connection, panics: Sequence[PanicPressed]) -> list[PanicPressed]:
    new = []
    with conn.transaction():
        for p in panics:
            detail = {"action": p.action, "source": p.source, "lon": p.lon, "lat": p.lat, "school_id": p.school_id}
            if p.digest is not None:
                # The check and the insert are one step for this device, across every process.
                conn.execute("SELECT pg_advisory_xact_lock(hashtext('campusguard-panic:' || %s))", (p.device_id,))
                if p.maybe_copy and _seen_copy(conn, p):
                    continue
            row = conn.execute(
                "INSERT INTO device_events (device_id, time, kind, received_at, detail)"
                " VALUES (%s, %s, 'panic', %s, %s) ON CONFLICT DO NOTHING RETURNING 1",
                (p.device_id, p.time, p.received_at,
                 Jsonb(detail if p.digest is None else detail | {"digest": p.digest})),
            ).fetchone()
            if row is None:
                continue
            new.append(p)
            conn.execute("SELECT pg_notify(%s, %s)", (PANIC_CHANNEL, _panic_json(p)))
    return new


def _seen_copy(conn: psycopg.Connection, p: PanicPressed) -> bool:
    """Tell whether a press timed at arrival was stored already from another copy of the same message.

    MQTT QoS 1 delivers at least once: a copy re-delivered after a reconnect (DUP set), or taken over from a
    retired session, arrives later than the first, so the key (device, time) cannot know it. Its payload can.
    Only a message flagged as a possible copy is compared, so two real presses with the same payload stay two.
    """
    row = conn.execute(
        "SELECT 1 FROM device_events WHERE device_id = %s AND kind = 'panic' AND detail->>'digest' = %s"
        " AND time BETWEEN %s AND %s LIMIT 1",
        (p.device_id, p.digest, p.time - COPY_WINDOW, p.time + COPY_WINDOW)).fetchone()
    return row is not None


def _panic_json(p: PanicPressed) -> str:
    return json.dumps({"device_id": p.device_id, "school_id": p.school_id, "time": p.time.isoformat(),
                       "received_at": p.received_at.isoformat(), "action": p.action, "source": p.source,
                       "lon": p.lon, "lat": p.lat})


_TOUCH = """
WITH incoming AS (
    SELECT * FROM unnest(%(ids)s::text[], %(seen)s::timestamptz[], %(battery)s::real[])
        AS t(device_id, seen_at, battery_pct)
), prev AS (
    SELECT l.device_id, l.online, l.battery_low FROM device_liveness l JOIN incoming USING (device_id)
), up AS (
    -- first_seen is written here, on the first message only: the ON CONFLICT update never touches it.
    INSERT INTO device_liveness AS l (device_id, last_seen, first_seen, online, battery_pct, battery_low)
    SELECT device_id, seen_at, seen_at, true, battery_pct, coalesce(battery_pct < %(low)s, false) FROM incoming
    ON CONFLICT (device_id) DO UPDATE SET
        last_seen = greatest(l.last_seen, excluded.last_seen),
        online = true,
        battery_pct = coalesce(excluded.battery_pct, l.battery_pct),
        -- Hysteresis: low below `low`, cleared only above `rearm`, so a battery hovering at the
        -- threshold does not alert on every message.
        battery_low = CASE WHEN excluded.battery_pct IS NULL THEN l.battery_low
                           WHEN excluded.battery_pct < %(low)s THEN true
                           WHEN excluded.battery_pct > %(rearm)s THEN false
                           ELSE l.battery_low END
    RETURNING l.device_id, l.battery_low, l.battery_pct
)
SELECT up.device_id, coalesce(prev.online = false, false) AS came_back,
       up.battery_low AND NOT coalesce(prev.battery_low, false) AS went_low, up.battery_pct
FROM up LEFT JOIN prev USING (device_id)
"""


def touch_liveness(
    conn: psycopg.Connection, touches: Iterable[Touch], low_pct: float, rearm_pct: float
) -> list[LivenessChange]:
    """Record that devices were heard from; returns the back-online and low-battery transitions."""
    by_device = {t.device_id: t for t in touches}
    if not by_device:
        return []
    params = {"ids": list(by_device), "seen": [t.seen_at for t in by_device.values()],
              "battery": [t.battery_pct for t in by_device.values()], "low": low_pct, "rearm": rearm_pct}
    changes = []
    # Sorted ids lock rows in one order, so two workers touching the same devices cannot deadlock.
    with conn.transaction():
        conn.execute("SELECT 1 FROM device_liveness WHERE device_id = ANY(%s) ORDER BY device_id FOR UPDATE",
                     (sorted(by_device),))
        for device_id, came_back, went_low, battery in conn.execute(_TOUCH, params).fetchall():
            seen = by_device[device_id].seen_at
            if came_back:
                changes.append(LivenessChange(device_id, seen, "online", battery))
            if went_low:
                changes.append(LivenessChange(device_id, seen, "low_battery", battery))
    return changes


def sweep_offline(
    conn: psycopg.Connection, now: datetime, offline_after_s: Mapping[str, int]
) -> list[tuple[str, datetime]]:
    """Mark devices silent for longer than their kind's timeout offline; returns (device, last seen) flipped."""
    with conn.transaction():
        rows = conn.execute(
            "UPDATE device_liveness l SET online = false FROM devices d"
            " WHERE d.id = l.device_id AND l.online AND d.active"
            " AND (%s::jsonb ->> d.kind) IS NOT NULL"
            " AND l.last_seen < %s - make_interval(secs => (%s::jsonb ->> d.kind)::int)"
            " RETURNING l.device_id, l.last_seen",
            (Jsonb(dict(offline_after_s)), now, Jsonb(dict(offline_after_s))),
        ).fetchall()
    return [(r[0], r[1]) for r in rows]


def count_unregistered(conn: psycopg.Connection, hits: Iterable[UnregisteredHit]) -> None:
    """Add messages from unknown devices to their counters."""
    rows = [(h.source, h.external_id, h.first_seen, h.last_seen, h.messages, h.last_topic) for h in hits]
    if not rows:
        return
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO unregistered_devices AS u (source, external_id, first_seen, last_seen, messages, last_topic)"
            " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (source, external_id) DO UPDATE SET"
            " first_seen = least(u.first_seen, excluded.first_seen),"
            " last_seen = greatest(u.last_seen, excluded.last_seen),"
            " messages = u.messages + excluded.messages, last_topic = excluded.last_topic",
            sorted(rows),
        )


def notify_device_events(
    conn: psycopg.Connection, events: Iterable[Mapping[str, Any]], channel: str = EVENT_CHANNEL
) -> None:
    """Announce device events (offline, online, low battery, geo) to listeners such as the alert stage."""
    with conn.transaction():
        for event in events:
            conn.execute("SELECT pg_notify(%s, %s)", (channel, json.dumps(event, default=str)))
