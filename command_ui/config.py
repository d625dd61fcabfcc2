"""The command UI's settings section for the map (``CAMPUSGUARD_MAP__*``): the basemap under our layers.

A plain pydantic model: the composition root reads it from the environment; nothing here does.
"""

from __future__ import annotations

from typing import Annotated, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, SecretStr


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
    def login_attempts(self) -> int:
        """Failed logins per name or address per 15 minutes before 429."""

    @property
    def map(self) -> MapSettings:
        """The basemap section."""
