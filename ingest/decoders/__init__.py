"""Payload decoders, one module per format, registered by name; adding a format is adding one module.

``REGISTRY`` holds the payload formats of MQTT and HTTP; ``STREAM_REGISTRY`` the binary protocols whose frames
the TCP listener spools raw (``ingest/tcp/``), decoded here alike from the spool.

Each module exposes ``NAME`` (its ``source`` id), ``TOPIC_FILTERS`` (the MQTT filters it subscribes to; empty
for HTTP-only formats) and ``decode(topic, payload, received_at, limits)``, a pure function returning typed
messages or raising :class:`~ingest.messages.Rejection`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from types import ModuleType

from ingest.decoders import campusguard, gt06, jt808, osmand, owntracks, zigbee2mqtt
from ingest.decoders.common import Limits
from ingest.decoders.osmand import decode_osmand_request
from ingest.decoders.topics import topic_matches
from ingest.messages import Decoded

__all__ = ["REGISTRY", "STREAM_REGISTRY", "DecodeFn", "Decoder", "Limits", "decode_osmand_request", "decoder_for_topic",
           "topic_matches"]

DecodeFn = Callable[[str, bytes, datetime, Limits], list[Decoded]]
"""``decode(topic, payload, received_at, limits) -> messages``; raises Rejection."""


@dataclass(frozen=True, slots=True)
class Decoder:
    """One registered payload format."""

    name: str
    topic_filters: tuple[str, ...]
    decode: DecodeFn


def _register(*modules: ModuleType) -> dict[str, Decoder]:
    registry: dict[str, Decoder] = {}
    for module in modules:
        decoder = Decoder(module.NAME, tuple(module.TOPIC_FILTERS), module.decode)
        if decoder.name in registry:
            raise RuntimeError(f"two decoders are named {decoder.name!r}")
        registry[decoder.name] = decoder
    return registry


REGISTRY: dict[str, Decoder] = _register(campusguard, owntracks, zigbee2mqtt, osmand)
"""Every payload decoder by name; names are the site file's ``source`` values."""
STREAM_REGISTRY: dict[str, Decoder] = _register(jt808, gt06)
"""Every TCP protocol's frame decoder by name; names are the site file's ``source`` values too."""


@functools.lru_cache(maxsize=65536)
def decoder_for_topic(topic: str) -> Decoder | None:
    """Return the decoder whose MQTT topic filters match ``topic``, or None."""
    for decoder in REGISTRY.values():
        if any(topic_matches(topic_filter, topic) for topic_filter in decoder.topic_filters):
            return decoder
    return None
