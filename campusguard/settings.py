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
from typing import Annotated, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from alerts.config import AlertSettings
from command_ui.config import MapSettings
from ingest.config import IngestSettings
from store.config import RetentionSettings, StorageBackend
from vision.config import VisionSettings

DEMO_SECRET_FILE = "demo-secrets.env"  # noqa: S105 - a file name, not a secret


class Mode(StrEnum):
    """How the process runs: ``demo`` may invent secrets, ``production`` must be given them."""

    DEMO = "demo"
    PRODUCTION = "production"


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
        int, Field(ge=10, description="Seconds between maintenance passes: partitions, expired snapshots.")
    ] = 300

    @property
    def geo_shards(self) -> int:
        """How many shards the internal fix feed has: ingest's setting, read by the geo stage too."""
        return self.ingest.geo_shards

    @property
    def secure_cookies(self) -> bool:
        """Whether the session cookie is Secure: as set, or on outside demo mode."""
        return self.cookie_secure if self.cookie_secure is not None else self.mode is not Mode.DEMO

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
