"""The position feed: committed fixes, re-published for the geo stage on internal MQTT topics by subject.

Geo rules keep state per subject (a bus, a person), but shared subscriptions hand a subject's fixes to any
ingest worker. So once a batch is committed, the worker publishes its fixes to
``campusguard/internal/fixes/{shard}``, the shard chosen by subject, and each geo service owns whole shards:
every fix of a bus reaches the same state. The feed is published before the spool forgets the batch, so a
crash re-publishes rather than skips; geo ignores a fix that is not newer than the last it saw.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from campusguard.domain import DeviceEvent, Position

FEED_PREFIX = "campusguard/internal/fixes"
CHILD_CHECK_ACTION = "child_check"


@dataclass(frozen=True, slots=True)
class FeedItem:
    """One fix, or one child-check confirmation, for the geo stage."""

    shard: int
    body: dict[str, Any]


def shard_of(subject: str, shards: int) -> int:
    """Pick a stable shard for a subject (crc32: the same in every process and every run)."""
    return zlib.crc32(subject.encode()) % shards


def feed_items(positions: Sequence[Position], events: Iterable[DeviceEvent],
               owners: Mapping[str, tuple[str | None, str | None]], shards: int) -> list[FeedItem]:
    """Turn a committed batch into feed items: every fix, and every child-check button press of a bus."""
    items = []
    for p in positions:
        bus_id, user_id = owners.get(p.device_id, (None, None))
        subject = bus_id or user_id or p.device_id
        items.append(FeedItem(shard_of(subject, shards), {
            "kind": "fix", "device_id": p.device_id, "time": p.time.isoformat(),
            "received_at": p.received_at.isoformat(), "lon": p.lon, "lat": p.lat, "source": p.source,
            "speed_kmh": p.speed_kmh, "heading_deg": p.heading_deg}))
    for e in events:
        bus_id, _ = owners.get(e.device_id, (None, None))
        if e.kind == "button" and e.detail.get("action") == CHILD_CHECK_ACTION and bus_id:
            items.append(FeedItem(shard_of(bus_id, shards), {
                "kind": "child_check", "bus_id": bus_id, "device_id": e.device_id, "time": e.time.isoformat()}))
    return items


def encode(items: Sequence[FeedItem]) -> dict[int, bytes]:
    """Group items by shard into one JSON payload each."""
    grouped: dict[int, list[dict[str, Any]]] = {}
    for item in items:
        grouped.setdefault(item.shard, []).append(item.body)
    return {shard: json.dumps(bodies).encode() for shard, bodies in grouped.items()}


def decode_fix(body: dict[str, Any]) -> Position:
    """Rebuild a fix from the feed."""
    return Position(body["device_id"], datetime.fromisoformat(body["time"]),
                    datetime.fromisoformat(body["received_at"]), body["lon"], body["lat"], body["source"],
                    body.get("speed_kmh"), body.get("heading_deg"))
