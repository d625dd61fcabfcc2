"""Shared test fixtures for the decoders: a fixed receipt time and a checker for any decoded message."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from ingest.decoders import Limits
from ingest.messages import SOURCES, ButtonPress, Decoded, Fix, Heartbeat, Reading

# Fixed so that the timestamp window is deterministic: 2024-05-29T16:30:00Z is epoch 1717000200.
RECEIVED_AT = datetime(2024, 5, 29, 16, 30, tzinfo=UTC)
LIMITS = Limits()
ONE_MINUTE_AGO = "2024-05-29T16:29:00Z"
ONE_MINUTE_AGO_EPOCH = 1717000140


def js(value: object) -> bytes:
    """JSON-encode a payload the way a device would send it."""
    return json.dumps(value).encode()


def _utc(value: datetime) -> bool:
    return value.tzinfo is not None and value.utcoffset() == timedelta(0)


def _between(value: float | None, low: float, high: float) -> bool:
    return value is None or (math.isfinite(value) and low <= value <= high)


def assert_valid(messages: Sequence[Decoded], received_at: datetime = RECEIVED_AT, limits: Limits = LIMITS) -> None:
    """Every message is typed, aware UTC, inside the time window and inside every documented range."""
    assert isinstance(messages, list)
    for message in messages:
        assert isinstance(message, Fix | ButtonPress | Heartbeat | Reading)
        assert message.source in SOURCES
        assert isinstance(message.external_id, str) and message.external_id
        assert _utc(message.time) and _utc(message.received_at)
        assert message.received_at == received_at
        assert received_at - limits.max_age <= message.time <= received_at + limits.max_future
        if isinstance(message, Fix):
            assert -90 <= message.lat <= 90 and -180 <= message.lon <= 180
            assert (message.lat, message.lon) != (0.0, 0.0)
            assert _between(message.speed_kmh, 0, 400)
            assert _between(message.heading_deg, 0, 360)
            assert _between(message.accuracy_m, 0, math.inf)
            assert _between(message.altitude_m, -1000, 50000)
        if isinstance(message, ButtonPress):
            assert isinstance(message.action, str) and message.action
            assert (message.lat is None) == (message.lon is None)
            if message.lat is not None and message.lon is not None:
                assert -90 <= message.lat <= 90 and -180 <= message.lon <= 180
        if isinstance(message, Fix | ButtonPress | Heartbeat):
            assert _between(message.battery_pct, 0, 100)
        if isinstance(message, Reading):
            assert math.isfinite(message.value)
            assert message.metric and message.metric.islower()
