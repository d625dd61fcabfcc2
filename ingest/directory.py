"""The device directory: from what a device calls itself to our device, its school and what it is.

Built from the ``devices`` table, refreshed when the site file is reloaded. A device on our own MQTT schema
is known by its id (the topic's last segment); devices on other protocols by (source, external id).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ingest.messages import SOURCE_CAMPUSGUARD

# What our own schema's panic topic carries, and what a badge or wall button means when pressed. A "drill"
# press takes the whole panic path too (that is what a drill measures); the alert rules mark its incident.
DEFAULT_PANIC_ACTIONS = frozenset({"panic", "sos", "emergency", "drill"})


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """A registered device as ingest needs it."""

    device_id: str
    school_id: str | None
    kind: str
    bus_id: str | None
    user_id: str | None
    panic_actions: frozenset[str]
    # Minutes the device's clock runs ahead of UTC (a GT06 unit set to local time); 0 is UTC, as GT06 says.
    clock_offset_min: int = 0

    def is_panic(self, action: str) -> bool:
        """Tell whether a button action from this device means panic."""
        return action in self.panic_actions


@dataclass(frozen=True, slots=True)
class Directory:
    """Immutable lookup table; a refresh builds a new one and swaps it in atomically."""

    by_key: Mapping[tuple[str, str], DeviceInfo]
    # device id -> (bus id, user id): whose fixes a device's are, for the geo feed's shards.
    owners: Mapping[str, tuple[str | None, str | None]] = field(default_factory=dict)

    def lookup(self, source: str, external_id: str) -> DeviceInfo | None:
        """Find the device that sent a message, or None when it is not registered."""
        return self.by_key.get((source, external_id))

    def __len__(self) -> int:
        """Count the keys."""
        return len(self.by_key)


def build_directory(rows: Iterable[Mapping[str, Any]]) -> Directory:
    """Build the directory from ``devices`` rows (see ``store.ingest_repo.directory_rows``)."""
    by_key: dict[tuple[str, str], DeviceInfo] = {}
    for row in rows:
        config = row.get("config") or {}
        actions = frozenset(config.get("panic_actions", ())) | DEFAULT_PANIC_ACTIONS
        if row["kind"] != "panic_button":
            # Only buttons raise panics from button actions; a phone's OsmAnd "sos" alarm is its own panic.
            actions = DEFAULT_PANIC_ACTIONS
        offset = config.get("clock_offset_min", 0)
        info = DeviceInfo(row["id"], row["school_id"], row["kind"], row["bus_id"], row["user_id"], actions,
                          offset if isinstance(offset, int) and not isinstance(offset, bool) else 0)
        external = row["external_id"]
        key = (row["source"], external) if external else (SOURCE_CAMPUSGUARD, row["id"])
        by_key[key] = info
    owners = {info.device_id: (info.bus_id, info.user_id) for info in by_key.values()}
    return Directory(by_key, owners)
