"""The one validated settings object for every campusguard process.

Values come from the environment (prefix ``CAMPUSGUARD_``) or a ``.env`` file. Nothing else in the code base
reads ``os.environ``: a stage receives the part of these settings it needs.

Secrets have no usable default outside demo mode. In demo mode missing secrets are generated once per data
directory and kept there, so a restarted demo keeps the same logins.
"""

from __future__ import annotations

import ipaddress
import math
import secrets
from collections import Counter
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Self

from pydantic import AfterValidator, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from alerts.config import AlertSettings
from alerts.notifiers.webpush import PushSettings, demo_push
from command_ui.config import MapSettings, WebSettings
from domain.broker import parse_broker_url
from ingest.config import IngestSettings
from store.config import RetentionSettings, StorageBackend
from vision.config import VisionSettings

DEMO_SECRET_FILE = "demo-secrets.env"  # noqa: S105 - a file name, not a secret
# Production secrets: at least this long, and at least this many bits by :func:`estimated_bits`. 12 random hex
# characters score about 36 by that estimate (nearly always over 30), 32 about 115 (over 90); a repeated or
# patterned string far less: ``aaaaaaaaaaaa`` 0, ``abcdabcdabcd`` 24. What ``openssl rand -hex 32`` makes, as
# docker/README.md says to use, always passes.
ADMIN_PASSWORD_CHARS, ADMIN_PASSWORD_BITS = 12, 30
SECRET_KEY_CHARS, SECRET_KEY_BITS = 32, 90


def _proxy_list(value: str) -> str:
    """Check each entry of a comma-separated list of proxy addresses or networks ('*' alone: any)."""
    entries = [entry.strip() for entry in value.split(",") if entry.strip()]
    for entry in entries:
        if entry != "*":
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is neither an IP address nor a network (nor '*')") from None
    return ",".join(entries)


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
    # Empty: trust nobody's X-Forwarded-For. uvicorn's own default trusts 127.0.0.1, so anything on the host could
    # forge the address the audit records and the sign-in throttle counts by; only a proxy named here may.
    trusted_proxies: Annotated[str, AfterValidator(_proxy_list), Field(
        description="Comma-separated addresses or networks of the reverse proxies whose X-Forwarded-For and "
        "X-Forwarded-Proto the web server believes ('*': any peer, only where nothing but the proxy can reach "
        "it); empty: none.")] = ""
    # Off by default: per-message deflate compresses every message once per socket, so a district's screens
    # cost the server one compression each of the same positions (measured in bench/fanout.py). Worth turning
    # on only for few screens on slow links.
    http_ws_deflate: Annotated[bool, Field(
        description="Compress websocket messages (per-message deflate); costs server CPU per open screen.")] = False
    data_dir: Annotated[Path, Field(description="Snapshots, spools and demo secrets live here.")] = Path(
        "./.run/data"
    )
    secret_key: Annotated[SecretStr | None, Field(
        description="Keys the hash under which session tokens are stored (changing it signs everyone out); at "
        "least 32 characters, random.")] = None
    admin_password: Annotated[SecretStr | None, Field(
        description="Password of the built-in 'admin' account (HTTP Basic); at least 12 characters, random.")] = None
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
    web: WebSettings = Field(default_factory=WebSettings)
    push: PushSettings = Field(default_factory=PushSettings)
    session_hours: Annotated[int, Field(ge=1, le=24 * 30, description="How long a login lasts.")] = 12
    cookie_secure: Annotated[
        bool | None, Field(description="Mark the session cookie Secure (HTTPS only); default: on outside demo.")
    ] = None
    login_attempts: Annotated[int, Field(
        ge=1, le=100, description="Failed sign-ins of one name from one address before that pair waits (429): "
        "30 s, doubling with each further failure, at most 15 minutes. Other addresses are not slowed.")] = 5
    # Against one address spraying many names. A school or a district office signs in from behind one NAT
    # address, so this counts every person there together: 50 failures in 15 minutes is a hundred staff all
    # signing in within the same quarter-hour with one in four mistyping twice, far more than a real morning,
    # while a sprayer gets at most 200 guesses an hour from the address (each name still under its own limit).
    login_address_failures: Annotated[int, Field(
        ge=5, le=10_000, description="Failed sign-ins from one address, whatever the names, within 15 minutes "
        "before that address waits (429) until the oldest of them is 15 minutes old.")] = 50
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
        problems = [
            problem for problem in (
                _weakness("CAMPUSGUARD_SECRET_KEY", self.secret_key, SECRET_KEY_CHARS, SECRET_KEY_BITS),
                _weakness("CAMPUSGUARD_ADMIN_PASSWORD", self.admin_password, ADMIN_PASSWORD_CHARS,
                          ADMIN_PASSWORD_BITS),
            ) if problem is not None
        ]
        if problems:
            raise ValueError(
                "refusing to start in production mode with default or weak secrets: "
                + "; ".join(problems)
                + " (or set CAMPUSGUARD_MODE=demo for a throw-away demo)"
            )
        return self

    @model_validator(mode="after")
    def _push_has_keys(self) -> Self:
        """Web Push signs with a VAPID key: the demo makes one under data_dir, production must be given one."""
        if self.mode is Mode.DEMO:
            self.push = demo_push(self.data_dir, self.push)
        elif (problem := self.push.problem()) is not None:
            raise ValueError(f"refusing to start in production mode: {problem}")
        return self

    @model_validator(mode="after")
    def _broker_needs_sign_in(self) -> Self:
        """Refuse to run outside demo mode against a broker we reach over the network without credentials."""
        if self.mode is not Mode.DEMO:
            problem = anonymous_broker(self.mqtt_url)
            if problem is not None:
                raise ValueError(f"refusing to start in production mode: {problem}")
        return self


def anonymous_broker(url: str) -> str | None:
    """Say why a production process must not use this broker URL, or None when it signs in (docs/mqtt.md).

    A broker that lets us in without a user name and password lets anyone on its network publish a panic or
    move a bus. One on this host's loopback is exempt: Mosquitto can leave a loopback-only listener open to
    local services while its device listener requires passwords (``per_listener_settings``), and that cannot
    be told from here. There are no client-certificate settings, so a user name and password it is.
    """
    address = parse_broker_url(url)
    if address.username and address.password:
        return None
    try:
        local = address.host == "localhost" or ipaddress.ip_address(address.host).is_loopback
    except ValueError:
        local = False
    if local:
        return None
    return (f"CAMPUSGUARD_MQTT_URL reaches the broker at {address.host}:{address.port} without a user name and "
            "password: give the ones this process signs in with (mqtt://user:password@host:port, or mqtts://), "
            "and configure the broker to refuse anonymous clients (docker/mosquitto/mosquitto.conf)")


def estimated_bits(value: str) -> float:
    """Estimate a secret's entropy from its own characters: its length times the Shannon entropy of their mix.

    An upper bound for a random string with that mix, and a fair one for what ``openssl rand`` makes; it sees
    repetition (``aaaaaaaaaaaa``: 0 bits, ``abcabcabcabc``: 19) but not words, so it refuses the obviously weak
    rather than proving anything strong.
    """
    counts = Counter(value)
    return sum(n * math.log2(len(value) / n) for n in counts.values())


def _weakness(name: str, secret: SecretStr | None, chars: int, bits: int) -> str | None:
    """Say what is wrong with a production secret, or None when it will do."""
    if secret is None:
        return f"{name} must be set to at least {chars} random characters"
    value = secret.get_secret_value()
    if len(value) < chars:
        return f"{name} must be set to at least {chars} characters"
    if estimated_bits(value) < bits:
        return (f"{name} is too predictable (about {estimated_bits(value):.0f} bits, at least {bits} wanted: "
                "generate one, e.g. openssl rand -hex 32)")
    return None


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
