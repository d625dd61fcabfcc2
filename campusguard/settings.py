"""The one validated settings object for every campusguard process.

Values come from the environment (prefix ``CAMPUSGUARD_``) or a ``.env`` file. Nothing else in the code base
reads ``os.environ``: a stage receives the part of these settings it needs.

Secrets have no usable default outside demo mode. In demo mode missing secrets are generated once per data
directory and kept there, so a restarted demo keeps the same logins.
"""

from __future__ import annotations

import secrets
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from alerts.escalation import EscalationPolicy
from alerts.notifiers import NotifierConfig
from vision.detectors import DetectorConfig
from vision.detectors.nanodet import NanoDetConfig
from vision.rules import RuleParams

DEMO_SECRET_FILE = "demo-secrets.env"  # noqa: S105 - a file name, not a secret


class Mode(StrEnum):
    """How the process runs: ``demo`` may invent secrets, ``production`` must be given them."""

    DEMO = "demo"
    PRODUCTION = "production"


class StorageBackend(StrEnum):
    """Which time-series path the store takes; ``auto`` asks the database at migrate time."""

    AUTO = "auto"
    TIMESCALE = "timescale"
    PLAIN = "plain"


class RetentionSettings(BaseSettings):
    """How long each class of time-series data is kept, in days."""

    model_config = SettingsConfigDict(extra="forbid")

    positions_days: Annotated[int, Field(ge=1, description="Bus and phone positions.")] = 180
    device_events_days: Annotated[int, Field(ge=1, description="Device events (offline, battery).")] = 365
    sensor_readings_days: Annotated[int, Field(ge=1, description="Sensor readings.")] = 90
    detections_days: Annotated[int, Field(ge=1, description="Camera detections.")] = 30
    dead_letters_days: Annotated[int, Field(ge=1, description="Rejected input kept for diagnosis.")] = 14


class IngestSettings(BaseSettings):
    """How ingest workers receive, spool, batch and judge device messages."""

    model_config = SettingsConfigDict(extra="forbid")

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
    http_host: Annotated[str, Field(description="Address of the OsmAnd HTTP listener.")] = "127.0.0.1"
    http_port: Annotated[
        int, Field(ge=0, le=65535, description="Port of the OsmAnd HTTP listener (Traccar Client); 0 turns it off.")
    ] = 5055
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


class AlertSettings(BaseSettings):
    """How events become incidents, who is told and when it escalates."""

    model_config = SettingsConfigDict(extra="forbid")

    rules_file: Annotated[
        Path | None, Field(description="Alert rules YAML; the shipped alerts/default_rules.yaml when unset.")
    ] = None
    escalation: EscalationPolicy = Field(default_factory=EscalationPolicy)
    notifiers: Annotated[
        list[NotifierConfig],
        Field(description="Where notifications go (webhook, email, mqtt, cap); demo mode adds MQTT out."),
    ] = Field(default_factory=list)


class MapSettings(BaseSettings):
    """The basemap under the district's own layers; none set draws the vector layers on a plain background."""

    model_config = SettingsConfigDict(extra="forbid")

    tiles_url: Annotated[
        str | None, Field(description="Leaflet tile URL template with {z}/{x}/{y} (optional {s}); none: no tiles.")
    ] = None
    attribution: Annotated[str, Field(description="Credit the tile provider requires on the map.")] = ""
    crs: Annotated[
        Literal["wgs84", "gcj02"],
        Field(description="Datum of the tiles: gcj02 for AMap/Tianditu tiles of China, so our layers are shifted."),
    ] = "wgs84"
    subdomains: Annotated[str, Field(description="What {s} takes, e.g. 1234 for AMap.")] = "abc"
    max_zoom: Annotated[int, Field(ge=1, le=22, description="Deepest zoom the tile server has.")] = 19


class VisionSettings(BaseSettings):
    """How cameras are read, what the detector is, and the zone rules' thresholds."""

    model_config = SettingsConfigDict(extra="forbid")

    detector: Annotated[
        DetectorConfig, Field(description='Object detector; {"type": "nanodet"} (shipped) or {"type": "yolo", ...}.')
    ] = Field(default_factory=NanoDetConfig)
    rules: RuleParams = Field(default_factory=RuleParams)
    pose: Annotated[bool, Field(description="Judge fallen people by body pose (MoveNet), not only box shape.")] = True
    blur_faces: Annotated[bool, Field(description="Find faces in snapshots and keep a blurred copy to show.")] = True
    gated: Annotated[bool, Field(description="Detect only frames with motion or due a periodic check.")] = True
    max_width: Annotated[int, Field(ge=160, le=3840, description="Frames wider than this are downscaled.")] = 640
    stall_s: Annotated[
        float, Field(ge=1, description="Seconds without a frame before a camera is reported offline.")
    ] = 30.0
    read_timeout_s: Annotated[
        float, Field(ge=0.5, description="Seconds one frame may take before the stream is reopened.")
    ] = 5.0
    full_check_s: Annotated[
        float, Field(gt=0, description="Longest time without detecting when nothing is tracked.")
    ] = 3.0
    track_refresh_s: Annotated[
        float, Field(gt=0, description="Longest time without detecting while something is tracked and still.")
    ] = 1.0
    moving_refresh_s: Annotated[
        float, Field(gt=0, description="Longest time without detecting while only tracked things move.")
    ] = 0.6
    sighting_every_s: Annotated[
        float, Field(gt=0, description="How often a tracked object is written to the detections table.")
    ] = 5.0
    threads: Annotated[int, Field(ge=1, le=64, description="Threads for each model's inference.")] = 2


class Settings(BaseSettings):
    """Process settings; see the README's configuration table for each variable."""

    model_config = SettingsConfigDict(
        env_prefix="CAMPUSGUARD_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="forbid",
    )

    mode: Annotated[Mode, Field(description="demo invents missing secrets; production refuses them.")] = (
        Mode.PRODUCTION
    )
    database_url: Annotated[
        str, Field(description="libpq connection string or URL of PostgreSQL or TimescaleDB.")
    ] = "postgresql://postgres@127.0.0.1:5432/campusguard"
    mqtt_url: Annotated[str, Field(description="MQTT broker, mqtt://user:pass@host:port.")] = (
        "mqtt://127.0.0.1:1883"
    )
    http_host: Annotated[str, Field(description="Address the web server binds.")] = "127.0.0.1"
    http_port: Annotated[int, Field(ge=1, le=65535, description="Port the web server binds.")] = 8080
    # Off by default: per-message deflate compresses every message once per socket, so a district's screens
    # cost the server one compression each of the same positions (measured in bench/fanout.py). Worth turning
    # on only for few screens on slow links.
    http_ws_deflate: Annotated[bool, Field(
        description="Compress websocket messages (per-message deflate); costs server CPU per open screen.")] = False
    data_dir: Annotated[Path, Field(description="Snapshots, spools and demo secrets live here.")] = Path(
        "./.run/data"
    )
    secret_key: Annotated[
        SecretStr | None, Field(description="Signs sessions and webhooks; at least 32 characters.")
    ] = None
    admin_password: Annotated[
        SecretStr | None, Field(description="Password of the built-in 'admin' account.")
    ] = None
    storage_backend: Annotated[
        StorageBackend, Field(description="auto picks TimescaleDB when the extension is installable.")
    ] = StorageBackend.AUTO
    site_file: Annotated[
        Path | None, Field(description="Site YAML the geo stage builds its fences and routes from.")
    ] = None
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    vision: VisionSettings = Field(default_factory=VisionSettings)
    map: MapSettings = Field(default_factory=MapSettings)
    session_hours: Annotated[int, Field(ge=1, le=24 * 30, description="How long a login lasts.")] = 12
    cookie_secure: Annotated[
        bool | None, Field(description="Mark the session cookie Secure (HTTPS only); default: on outside demo.")
    ] = None
    login_attempts: Annotated[
        int, Field(ge=1, le=100, description="Failed logins per name or address per 15 minutes before 429.")
    ] = 5
    rollup_refresh_seconds: Annotated[
        int, Field(ge=10, description="How often the plain-PostgreSQL rollups and partitions are maintained.")
    ] = 300

    @model_validator(mode="after")
    def _secrets_are_real(self) -> Self:
        """Refuse to run outside demo mode without strong secrets; invent them in demo mode."""
        if self.mode is Mode.DEMO:
            stored = _demo_secrets(self.data_dir)
            if self.secret_key is None:
                self.secret_key = SecretStr(stored["secret_key"])
            if self.admin_password is None:
                self.admin_password = SecretStr(stored["admin_password"])
            return self
        problems = []
        if self.secret_key is None or len(self.secret_key.get_secret_value()) < 32:
            problems.append("CAMPUSGUARD_SECRET_KEY must be set to at least 32 characters")
        if self.admin_password is None or len(self.admin_password.get_secret_value()) < 12:
            problems.append("CAMPUSGUARD_ADMIN_PASSWORD must be set to at least 12 characters")
        if problems:
            raise ValueError(
                "refusing to start in production mode with default secrets: "
                + "; ".join(problems)
                + " (or set CAMPUSGUARD_MODE=demo for a throw-away demo)"
            )
        return self


def _demo_secrets(data_dir: Path) -> dict[str, str]:
    """Read the demo's secrets from the data directory, creating them on first use."""
    path = data_dir / DEMO_SECRET_FILE
    if path.exists():
        pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
        found = {key: value for key, value in pairs}
        if {"secret_key", "admin_password"} <= found.keys():
            return found
    found = {"secret_key": secrets.token_urlsafe(48), "admin_password": secrets.token_urlsafe(12)}
    data_dir.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{key}={value}\n" for key, value in found.items()))
    path.chmod(0o600)
    return found
