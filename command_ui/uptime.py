"""Device uptime: the share of a window each device was online, from ingest's liveness history.

Ingest records a device going quiet (``offline`` from its sweep, ``availability_offline`` from Zigbee2MQTT)
and coming back (``online``) as device events, and keeps the present state in ``device_liveness``.

A device's state at the window's start is read from the history, nearest evidence first: the last change
before the window; else the opposite of its first change inside it; else the opposite of its first change
after it (a device that went offline tomorrow was online today); only with no change on record at all, its
present state. A device that never reported (no liveness record) was down the whole window: it is counted in
the share, so "3 of 13 devices reporting" can never sit beside a bar at 100 %.

A device is counted only from when it was first heard (``first_seen``), in its online time and in the total
alike: a camera installed yesterday is judged on yesterday and today, not as up (or down) all last month.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from store.queries import DeviceAvailability


def online_at_start(device: DeviceAvailability) -> bool:
    """Whether the device was online when the window opened, from the nearest evidence (see the module)."""
    if not device.heard:
        return False
    if device.before is not None:
        return device.before
    if device.changes:
        return not device.changes[0][1]
    if device.after is not None:
        return not device.after
    return device.online_now


def counted_from(device: DeviceAvailability, start: datetime) -> datetime:
    """Give where the device's part of a window begins: the window's start, or its first message if later."""
    return max(start, device.first_seen) if device.first_seen is not None else start


def counted_seconds(device: DeviceAvailability, start: datetime, end: datetime) -> float:
    """Return how many seconds of [start, end) count for the device (from its first message on)."""
    return max((end - counted_from(device, start)).total_seconds(), 0.0)


def online_seconds(device: DeviceAvailability, start: datetime, end: datetime) -> float:
    """Return how many seconds of [start, end) the device was online (none before its first message)."""
    start = counted_from(device, start)
    if end <= start or not device.heard:
        return 0.0
    online = online_at_start(device)
    total, since = 0.0, start
    for at, now_online in device.changes:
        at = min(max(at, start), end)
        if online:
            total += (at - since).total_seconds()
        online, since = now_online, at
    if online:
        total += (end - since).total_seconds()
    return total


@dataclass(frozen=True, slots=True)
class SchoolUptime:
    """A school's devices over a window: how many, how many ever reported, online now, and the uptime share."""

    school_id: str
    devices: int
    heard: int
    online_now: int
    uptime: float | None
    """Online time of all its devices over their total time, each from its first message (never-reported ones
    count as down throughout); None when the school has no devices or no device time in the window."""


def school_uptime(devices: Iterable[DeviceAvailability], start: datetime, end: datetime) -> list[SchoolUptime]:
    """Sum device uptime per school, in school id order."""
    count: dict[str, int] = {}
    heard: dict[str, int] = {}
    now: dict[str, int] = {}
    up: dict[str, float] = {}
    total: dict[str, float] = {}
    for d in devices:
        count[d.school_id] = count.get(d.school_id, 0) + 1
        heard[d.school_id] = heard.get(d.school_id, 0) + d.heard
        now[d.school_id] = now.get(d.school_id, 0) + (d.heard and d.online_now)
        up[d.school_id] = up.get(d.school_id, 0.0) + online_seconds(d, start, end)
        total[d.school_id] = total.get(d.school_id, 0.0) + counted_seconds(d, start, end)
    return [SchoolUptime(school, n, heard[school], now[school],
                         up[school] / total[school] if total[school] else None)
            for school, n in sorted(count.items())]
