"""The internal fix feed between ingest and geo: its topics and its payload, typed in both directions.

Geo rules keep state per subject (a bus, a person), but a subject's fixes may be committed by any ingest writer.
So once a batch is committed, the writer publishes its fixes to ``campusguard/internal/fixes/{shard}``, the shard
chosen by subject, and each geo service owns whole shards: every fix of a bus reaches the same state. The feed is
published before the spool forgets the batch, so a crash re-publishes rather than skips; geo ignores a fix that
is not newer than the last it saw.

This module is the one place that knows the payload: :func:`encode` on the ingest side, :func:`decode` on the
geo side, each with typed items; a payload :func:`decode` cannot read raises :class:`FeedError`.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.messages import DeviceEvent, Position

FEED_PREFIX = "campusguard/internal/fixes"
CHILD_CHECK_ACTION = "child_check"


@dataclass(frozen=True, slots=True)
class ChildCheckPressed:
    """The driver confirmed the after-trip child check on a bus's button (or a head teacher on the class page)."""

    bus_id: str
    device_id: str
    time: datetime
    # Who confirmed, where a person did (store/child_check_repo.py); None for the bus's button.
    person_id: str | None = None
    # The trip confirmed (when the bus was back: its geo.child_check_due), where the confirmation names one (the
    # class page's); a button press confirms whatever trip the bus is on.
    arrived_at: datetime | None = None


FeedEntry = Position | ChildCheckPressed


@dataclass(frozen=True, slots=True)
class FeedItem:
    """One entry and the shard it travels on."""

    shard: int
    entry: FeedEntry


class FeedError(ValueError):
    """A feed payload that is not what :func:`encode` writes."""


def feed_topic(shard: int) -> str:
    """Name the topic of one shard."""
    return f"{FEED_PREFIX}/{shard}"


def shard_of(subject: str, shards: int) -> int:
    """Pick a stable shard for a subject (crc32: the same in every process and every run)."""
    return zlib.crc32(subject.encode()) % shards


def feed_items(positions: Sequence[Position], events: Iterable[DeviceEvent],
               owners: Mapping[str, tuple[str | None, str | None]], shards: int) -> list[FeedItem]:
    """Turn a committed batch into feed items: every fix, and every child-check button press of a bus."""
    items = []
    for p in positions:
        bus_id, user_id = owners.get(p.device_id, (None, None))
        items.append(FeedItem(shard_of(bus_id or user_id or p.device_id, shards), p))
    for e in events:
        bus_id, _ = owners.get(e.device_id, (None, None))
        if e.kind == "button" and e.detail.get("action") == CHILD_CHECK_ACTION and bus_id:
            items.append(FeedItem(shard_of(bus_id, shards), ChildCheckPressed(bus_id, e.device_id, e.time)))
    return items


def _body(entry: FeedEntry) -> dict[str, Any]:
    if isinstance(entry, ChildCheckPressed):
        return {"kind": "child_check", "bus_id": entry.bus_id, "device_id": entry.device_id,
                "time": entry.time.isoformat(), "person_id": entry.person_id,
                "arrived_at": None if entry.arrived_at is None else entry.arrived_at.isoformat()}
    return {"kind": "fix", "device_id": entry.device_id, "time": entry.time.isoformat(),
            "received_at": entry.received_at.isoformat(), "lon": entry.lon, "lat": entry.lat,
            "source": entry.source, "speed_kmh": entry.speed_kmh, "heading_deg": entry.heading_deg}


def encode(items: Sequence[FeedItem]) -> dict[int, bytes]:
    """Group items by shard into one JSON payload each."""
    grouped: dict[int, list[dict[str, Any]]] = {}
    for item in items:
        grouped.setdefault(item.shard, []).append(_body(item.entry))
    return {shard: json.dumps(bodies).encode() for shard, bodies in grouped.items()}


def _entry(body: Any) -> FeedEntry:
    if not isinstance(body, dict):
        raise FeedError(f"a feed entry must be an object, got {type(body).__name__}")
    try:
        if body.get("kind") == "child_check":
            person, trip = body.get("person_id"), body.get("arrived_at")
            return ChildCheckPressed(str(body["bus_id"]), str(body["device_id"]), _aware(body["time"]),
                                     None if person is None else str(person), None if trip is None else _aware(trip))
        return Position(str(body["device_id"]), _aware(body["time"]), _aware(body["received_at"]),
                        float(body["lon"]), float(body["lat"]), str(body["source"]),
                        _number(body.get("speed_kmh")), _number(body.get("heading_deg")))
    except KeyError as exc:
        raise FeedError(f"feed entry lacks {exc.args[0]!r}") from None
    except (TypeError, ValueError) as exc:
        raise FeedError(f"feed entry unreadable: {exc}") from None


def _aware(value: Any) -> datetime:
    at = datetime.fromisoformat(str(value))
    if at.tzinfo is None:
        raise FeedError(f"feed time {value!r} has no offset")
    return at


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def decode(payload: bytes | bytearray) -> list[FeedEntry]:
    """Read one shard's payload back into entries, in the order they were encoded."""
    try:
        bodies = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FeedError(f"feed payload is not JSON: {exc}") from None
    if not isinstance(bodies, list):
        raise FeedError("a feed payload must be a list of entries")
    return [_entry(body) for body in bodies]
