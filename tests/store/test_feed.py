"""The internal feed's codec: what ingest encodes, geo decodes to the same typed values; anything else is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.messages import DeviceEvent, Position
from store.feed import ChildCheckPressed, FeedError, decode, encode, feed_items, shard_of

T0 = datetime(2026, 12, 5, 7, 30, tzinfo=UTC)


def test_a_batch_round_trips_by_shard() -> None:
    positions = [Position(f"bus-{n}", T0 + timedelta(seconds=n), T0 + timedelta(seconds=n + 1), 116.3 + n / 100,
                          39.9, "jt808", 30.0 + n, None) for n in range(6)]
    press = DeviceEvent("btn-1", T0, "button", T0, {"action": "child_check"})
    other = DeviceEvent("btn-2", T0, "button", T0, {"action": "single"})
    owners = {f"bus-{n}": (f"bus-{n % 3}", None) for n in range(6)} | {"btn-1": ("bus-1", None)}
    items = feed_items(positions, [press, other], owners, shards=4)
    decoded = {shard: decode(payload) for shard, payload in encode(items).items()}
    # Every fix and the one child-check press, on the shard of its bus, in order.
    fixes = [e for entries in decoded.values() for e in entries if isinstance(e, Position)]
    assert sorted(fixes, key=lambda p: p.time) == positions
    assert decoded[shard_of("bus-1", 4)][-1] == ChildCheckPressed("bus-1", "btn-1", T0)
    for n in range(6):
        assert positions[n] in decoded[shard_of(f"bus-{n % 3}", 4)]


@pytest.mark.parametrize(("payload", "reason"), [
    (b"\xff", "not JSON"), (b"{}", "list"), (b"[1]", "object"),
    (b'[{"kind": "fix", "device_id": "a"}]', "lacks 'time'"),
    (b'[{"kind": "child_check", "bus_id": "b", "device_id": "a", "time": "2026-12-05T07:30:00"}]', "no offset"),
    (b'[{"kind": "fix", "device_id": "a", "time": "yesterday", "received_at": "x", "lon": 1, "lat": 2,'
     b' "source": "s"}]', "unreadable"),
])
def test_a_payload_it_did_not_write_is_a_feed_error(payload: bytes, reason: str) -> None:
    with pytest.raises(FeedError, match=reason):
        decode(payload)
