"""The command UI's settings sections: the map (``CAMPUSGUARD_MAP__*``) and the web server (``CAMPUSGUARD_WEB__*``).

The map section is the basemap under our layers (generated, or a tile provider's with its datum); the web
section the server's limits on what a caller may send and the origins besides its own whose pages may change state.

A plain pydantic model: the composition root reads it from the environment; nothing here does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal, Protocol
from urllib.parse import quote, urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, model_validator

from alerts.notifiers.webpush import PushSettings
from command_ui.security_headers import normalise_origin

Provider = Literal["generated", "tianditu", "amap", "xyz", "custom"]
Datum = Literal["wgs84", "gcj02"]


@dataclass(frozen=True, slots=True)
class TileLayer:
    """One layer of tiles: a Leaflet URL template, what {s} takes, the credit and the deepest zoom."""

    url: str
    subdomains: str
    attribution: str
    max_zoom: int


@dataclass(frozen=True, slots=True)
class Tiles:
    """The tiles a provider draws (base first, then overlays such as Tianditu's labels) and their datum."""

    provider: Provider
    crs: Datum
    layers: tuple[TileLayer, ...]


# The presets: each provider's public templates and the datum its tiles are drawn in. Tianditu's web-mercator
# layers (_w) are in CGCS2000, within a metre or so of WGS-84, so nothing is shifted; AMap's are GCJ-02, so every
# layer of ours is shifted onto them (static/js/gcj02.js). A mirror (tiles_url) keeps its provider's datum.
_TIANDITU = ("https://t{{s}}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
             "&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={{z}}&TILEROW={{y}}"
             "&TILECOL={{x}}&tk={tk}")
_PRESETS: dict[str, tuple[Datum, str, str, str]] = {
    "amap": ("gcj02", "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8"
             "&x={x}&y={y}&z={z}", "1234", "© AutoNavi 高德地图"),
    "xyz": ("wgs84", "https://tile.openstreetmap.org/{z}/{x}/{y}.png", "abc", "© OpenStreetMap contributors"),
    "tianditu": ("wgs84", "", "01234567", "© 天地图 Tianditu"),
}


class MapSettings(BaseModel):
    """The basemap under the district's own layers (``CAMPUSGUARD_MAP__*``).

    ``generated`` (the default with no tiles_url): the district's own map, made from the site file
    (geo/basemap.py) and served by us, for closed networks, demos and tests. ``tianditu`` (needs ``tk``),
    ``amap`` and ``xyz`` (OpenStreetMap-style) are presets, each with its datum; ``custom`` is a template of
    your own with an explicit ``crs``. Where tiles are drawn the generated map is not.
    """

    model_config = ConfigDict(extra="forbid")

    provider: Annotated[Provider | None, Field(
        description="generated, tianditu, amap, xyz or custom; unset: custom when tiles_url is set, else generated.",
    )] = None
    tiles_url: Annotated[str | None, Field(
        description="Leaflet tile URL template with {z}/{x}/{y} (optional {s}): a custom provider's, or a mirror"
        " of a preset's (which keeps the preset's datum).",
    )] = None
    annotation_url: Annotated[str | None, Field(
        description="Tianditu only: a mirror of its annotation (labels) layer; default: Tianditu's own cva_w.",
    )] = None
    tk: Annotated[str | None, Field(
        min_length=1, description="Tianditu's key (tk), required by the tianditu provider; sent to browsers.",
    )] = None
    attribution: Annotated[str, Field(description="Credit the tile provider requires; empty: the preset's.")] = ""
    crs: Annotated[Datum, Field(
        description="Datum of a custom provider's tiles: gcj02 for AMap-style tiles of China (our layers are"
        " shifted onto them), wgs84 otherwise. Presets know their own.",
    )] = "wgs84"
    subdomains: Annotated[str | None, Field(description="What {s} takes, e.g. 1234 for AMap; empty: preset's.")] = None
    max_zoom: Annotated[int, Field(ge=1, le=22, description="Deepest zoom the tile server has.")] = 18
    seed: Annotated[int, Field(ge=0, description="Seed of the generated basemap (its parks, creek, names).")] = 0

    @model_validator(mode="after")
    def _complete(self) -> MapSettings:
        if self.chosen == "tianditu" and not self.tk:
            raise ValueError("the tianditu provider needs its key: set CAMPUSGUARD_MAP__TK")
        if self.chosen == "custom" and not self.tiles_url:
            raise ValueError("the custom provider needs a tile URL template: set CAMPUSGUARD_MAP__TILES_URL")
        return self

    @property
    def chosen(self) -> Provider:
        """The provider in effect."""
        return self.provider or ("custom" if self.tiles_url else "generated")

    def tiles(self) -> Tiles:
        """Give the tile layers to draw and their datum; no layers for the generated basemap."""
        chosen = self.chosen
        if chosen == "generated":
            return Tiles(chosen, "wgs84", ())
        if chosen == "custom":
            return Tiles(chosen, self.crs, (self._layer(self.tiles_url or "", "abc", ""),))
        crs, url, subdomains, credit = _PRESETS[chosen]
        if chosen != "tianditu":
            return Tiles(chosen, crs, (self._layer(self.tiles_url or url, subdomains, credit),))
        tk = quote(self.tk or "", safe="")
        return Tiles(chosen, crs, (
            self._layer(self.tiles_url or _TIANDITU.format(layer="vec", tk=tk), subdomains, credit),
            self._layer(self.annotation_url or _TIANDITU.format(layer="cva", tk=tk), subdomains, credit)))

    def tile_urls(self) -> tuple[str, ...]:
        """Every tile template the pages load images from (for the Content-Security-Policy's img-src)."""
        return tuple(layer.url for layer in self.tiles().layers)

    def _layer(self, url: str, subdomains: str, credit: str) -> TileLayer:
        return TileLayer(url, self.subdomains or subdomains, self.attribution or credit, self.max_zoom)


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

    @property
    def push(self) -> PushSettings:
        """Web Push: the VAPID key the guard page subscribes with (alerts/notifiers/webpush.py)."""
