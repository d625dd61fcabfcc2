"""The command UI's settings sections: the map (``CAMPUSGUARD_MAP__*``) and the web server (``CAMPUSGUARD_WEB__*``).

The map section is the basemap under our layers; the web section the server's limits on what a caller may send
and the origins besides its own whose pages may change state.

A plain pydantic model: the composition root reads it from the environment; nothing here does.
"""

from __future__ import annotations

from typing import Annotated, Literal, Protocol
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr

from command_ui.security_headers import normalise_origin


class MapSettings(BaseModel):
    """The basemap under the district's own layers; none set draws the vector layers on a plain background."""

    model_config = ConfigDict(extra="forbid")

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


def _origin(value: str) -> str:
    """Check an origin as a browser sends it (``scheme://host[:port]``) and normalise it; refuse a path or query."""
    origin = normalise_origin(value)
    if origin is None or urlsplit(value.strip()).path not in ("", "/") or urlsplit(value.strip()).query:
        raise ValueError(f"{value!r} is not an origin (scheme://host[:port], http or https)")
    return origin


AllowedOrigin = Annotated[str, AfterValidator(_origin)]
"""One origin besides the app's own whose pages may change state here (``CAMPUSGUARD_WEB__ALLOWED_ORIGINS``)."""


class WebSettings(BaseModel):
    """The web server's limits on what a caller may send (``CAMPUSGUARD_WEB__*``)."""

    model_config = ConfigDict(extra="forbid")

    # No route takes a file: the largest body is a geofence drawn by hand, a few kilobytes. 1 MiB leaves room
    # for thousands of vertices and still keeps a flood of large bodies from filling the server's memory.
    max_body_bytes: Annotated[int, Field(
        ge=1024, le=64 * 1024 * 1024,
        description="Largest request body the API reads; a larger one is refused with 413 before it is read.",
    )] = 1024 * 1024
    allowed_origins: Annotated[tuple[AllowedOrigin, ...], Field(
        description="Origins (scheme://host[:port]) besides the app's own whose pages may post or open the live"
        " feed, as a JSON list: another name of this server, or a proxy that sends no X-Forwarded-Proto.",
    )] = ()


class WebProcess(Protocol):
    """What the web server is given by the composition root (``campusguard.settings.Settings`` is one)."""

    @property
    def database_url(self) -> str:
        """The database every page reads."""

    @property
    def admin_password(self) -> SecretStr | None:
        """The built-in admin account's password."""

    @property
    def session_hours(self) -> int:
        """How long a login lasts."""

    @property
    def secure_cookies(self) -> bool:
        """Whether the session cookie is marked Secure (HTTPS only)."""

    @property
    def secret_key(self) -> SecretStr | None:
        """Keys the hash session tokens are stored under."""

    @property
    def login_attempts(self) -> int:
        """Failed sign-ins of one name from one address before that pair waits (command_ui/throttle.py)."""

    @property
    def login_address_failures(self) -> int:
        """Failed sign-ins from one address, any names, in 15 minutes before that address waits."""

    @property
    def map(self) -> MapSettings:
        """The basemap section."""

    @property
    def web(self) -> WebSettings:
        """The web server's limits section."""
