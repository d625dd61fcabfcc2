"""Device uptime: the share of a window each device was online, from ingest's online/offline changes.

Ingest records a device going quiet (``offline`` from its sweep, ``availability_offline`` from Zigbee2MQTT)
and coming back (``online``) as device events, and keeps the present state in ``device_liveness``. A
device's state at the window's start is the last change before it; failing that, the opposite of its first
change inside it; failing that (nothing changed around the window), its present state.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from store.queries import DeviceAvailability


def online_seconds(device: DeviceAvailability, start: datetime, end: datetime) -> float:
    """Return how many seconds of [start, end) the device was online."""
    if end <= start:
        return 0.0
    if device.before is not None:
        online = device.before
    elif device.changes:
        online = not device.changes[0][1]
    else:
        online = device.online_now
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
    """Online time of the devices that ever reported over their total time; None when none did."""


def school_uptime(devices: Iterable[DeviceAvailability], start: datetime, end: datetime) -> list[SchoolUptime]:
    """Sum device uptime per school, in school id order.

    A device that never reported is counted but left out of the share: it says nothing about availability,
    only that it was never installed or configured, which ``heard`` against ``devices`` shows.
    """
    span = max((end - start).total_seconds(), 0.0)
    sums: dict[str, list[float]] = {}
    for d in devices:
        entry = sums.setdefault(d.school_id, [0, 0, 0, 0.0])
        entry[0] += 1
        entry[2] += d.online_now
        if d.heard:
            entry[1] += 1
            entry[3] += online_seconds(d, start, end)
    return [SchoolUptime(school, int(n), int(heard), int(now), (up / (heard * span)) if heard and span else None)
            for school, (n, heard, now, up) in sorted(sums.items())]
