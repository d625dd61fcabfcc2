"""The ingest stage's settings section (``CAMPUSGUARD_INGEST__*``): receiving, spooling, batching, judging.

A plain pydantic model: the composition root reads it from the environment; nothing here does.
"""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import Annotated, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, IPvAnyNetwork, field_validator

# Everywhere, in both address families: the OsmAnd protocol has no credentials, so docs/ingest.md asks every
# deployer to narrow this to the networks their trackers report from.
ANYWHERE: tuple[IPv4Network | IPv6Network, ...] = (IPv4Network("0.0.0.0/0"), IPv6Network("::/0"))


class IngestSettings(BaseModel):
    """How ingest workers receive, spool, batch and judge device messages."""

    model_config = ConfigDict(extra="forbid")

    workers: Annotated[int, Field(ge=1, le=64, description="Writer processes (or shared-subscription workers).")] = 2
    subscription: Annotated[
        Literal["exclusive", "shared"],
        Field(description="exclusive: one receiver holds the only MQTT session and spreads envelopes over the "
                          "writers' spools (loses nothing across a Mosquitto restart); shared: each worker "
                          "joins an MQTT v5 shared group (only for brokers that keep a group's in-flight "
                          "messages across their restart; see docs/ingest.md)."),
    ] = "exclusive"
    share_group: Annotated[
        str, Field(pattern=r"^[A-Za-z0-9_-]+$", description="MQTT v5 shared-subscription group name.")
    ] = "campusguard"
    client_id: Annotated[
        str, Field(pattern=r"^[A-Za-z0-9_-]+$",
                   description="MQTT client id prefix: receiver <prefix>-rx, shared worker n <prefix>-<n>."),
    ] = "campusguard-ingest"
    priority_process: Annotated[
        bool, Field(description="exclusive layout: receive the priority lane (panic buttons) in a process of its "
                                "own, so a press never waits for the bulk lane's interpreter lock (docs/scaling.md).")
    ] = True
    bulk_nice: Annotated[
        int, Field(ge=0, le=19,
                   description="Niceness added to the bulk processes (the receiver and the writers), so under "
                               "overload the panic processes and the alert service win the cores; bulk ingest "
                               "still stores everything, later. 0 leaves them at the supervisor's priority.")
    ] = 5
    http_host: Annotated[str, Field(description="Address of the OsmAnd HTTP listener.")] = "127.0.0.1"
    http_port: Annotated[
        int, Field(ge=0, le=65535, description="Port of the OsmAnd HTTP listener (Traccar Client); 0 turns it off.")
    ] = 5055
    http_max_request_bytes: Annotated[
        int, Field(ge=512, le=1 << 20,
                   description="Largest OsmAnd request URL, and separately body, in bytes: a longer one is refused "
                               "(414, 413) as it is read, before it is buffered. A real request is under 1.5 KiB."),
    ] = 4096
    http_allow: Annotated[
        list[IPvAnyNetwork],
        Field(min_length=1,
              description="Networks (CIDRs) the OsmAnd listener takes requests from, by the connection's address; "
                          "any other gets 403 and is dead-lettered. Default: anywhere. Set it (docs/ingest.md)."),
    ] = Field(default_factory=lambda: list(ANYWHERE))
    jt808_enabled: Annotated[
        bool, Field(description="Serve JT/T 808 (2013 and 2019) terminals over TCP on jt808_port (docs/jt808.md).")
    ] = False
    jt808_port: Annotated[
        int, Field(ge=0, le=65535, description="TCP port of the JT/T 808 listener (0 picks a free one, for tests).")
    ] = 7611
    gt06_enabled: Annotated[
        bool, Field(description="Serve GT06 trackers over TCP on gt06_port (docs/gt06.md).")
    ] = False
    gt06_port: Annotated[
        int, Field(ge=0, le=65535, description="TCP port of the GT06 listener (0 picks a free one, for tests).")
    ] = 7612
    tcp_host: Annotated[str, Field(description="Address the TCP device listeners (JT/T 808, GT06) bind.")] = "127.0.0.1"
    tcp_max_connections: Annotated[
        int, Field(ge=1, le=1_000_000, description="Open connections per TCP listener; more are closed on accept.")
    ] = 10_000
    tcp_buffer_bytes: Annotated[
        int, Field(ge=1024, le=1 << 20,
                   description="Largest unfinished frame held per connection; more is dead-lettered as oversized "
                               "and the connection closed. A JT/T 808 frame is at most about 2.1 KiB escaped."),
    ] = 8192
    tcp_idle_s: Annotated[
        float, Field(gt=0, le=86_400, description="A TCP connection silent this long is closed (terminals send a "
                                                  "heartbeat every minute or so and reconnect)."),
    ] = 300.0
    metrics_port: Annotated[
        int, Field(ge=0, le=65535, description="First Prometheus metrics port (worker n uses port + n); 0 is off.")
    ] = 9108
    batch_max: Annotated[int, Field(ge=1, le=100_000, description="Most rows written in one database batch.")] = 5000
    flush_ms: Annotated[int, Field(ge=1, le=10_000, description="Longest wait before a partial batch is written.")] = 50
    max_payload_bytes: Annotated[int, Field(ge=256, description="Larger payloads are dead-lettered unread.")] = 16384
    max_future_s: Annotated[int, Field(ge=0, description="How far ahead of arrival a device clock may be.")] = 300
    max_age_s: Annotated[int, Field(ge=60, description="How old a message may be and still be accepted.")] = 7 * 86400
    offline_after_s: Annotated[
        dict[str, int],
        Field(description="Silence after which a device of each kind is offline (bus_tracker, panic_button...)."),
    ] = Field(
        default_factory=lambda: {
            "bus_tracker": 180,
            "person_tracker": 900,
            "panic_button": 5400,  # Zigbee buttons report battery roughly hourly
            "sensor": 1800,
            "camera": 120,
        }
    )
    geo_shards: Annotated[
        int, Field(ge=1, le=1024, description="Internal feed shards for the geo stage (one subject, one shard).")
    ] = 4
    feed_geo: Annotated[bool, Field(description="Publish committed fixes to the geo stage's internal feed.")] = True
    low_battery_pct: Annotated[float, Field(ge=0, le=100, description="Battery level that raises low_battery.")] = 20
    battery_rearm_pct: Annotated[
        float, Field(ge=0, le=100, description="Level the battery must climb back over before it can alert again.")
    ] = 30

    @field_validator("subscription", mode="before")
    @classmethod
    def _auto_is_exclusive(cls, value: object) -> object:
        # "auto" (shared with several workers) was the default before the receiver layout; it now means the
        # layout that loses nothing on every broker, so an old deployment's setting keeps starting.
        return "exclusive" if value == "auto" else value


class IngestProcess(Protocol):
    """What an ingest process is given by the composition root (``campusguard.settings.Settings`` is one)."""

    @property
    def database_url(self) -> str:
        """Where rows are committed."""

    @property
    def mqtt_url(self) -> str:
        """The broker devices publish to."""

    @property
    def data_dir(self) -> Path:
        """Where the spools live."""

    @property
    def ingest(self) -> IngestSettings:
        """This stage's section."""
