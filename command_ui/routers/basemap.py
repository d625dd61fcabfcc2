"""The map's basemap: which tiles the pages draw and in which datum, or the district's own generated map.

``/basemap`` says what the settings chose (``command_ui.config.MapSettings``): a provider's tile layers with
their datum (the pages shift every WGS-84 layer onto GCJ-02 tiles, ``static/js/gcj02.js``), or none and the
address of the generated map. ``/generated`` serves that map: generated once for the whole site (geo/basemap.py)
and clipped to the area of the schools and routes the caller sees (geo/basemap_clip.py), so a guard and the
district officer read the same streets around the guard's school and the guard's map holds nothing beyond it.
Answers are cached by input and seed within a budget of bytes, sent gzipped with an ETag; a page that has the
current one gets 304.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Response
from pydantic import BaseModel, ConfigDict, Field

from command_ui.deps import ConnDep, CurrentUser, SettingsDep
from geo.basemap import (
    GENERATOR_VERSION,
    Basemap,
    BasemapInput,
    CampusInput,
    RouteInput,
    StopInput,
    generate_basemap,
)
from geo.basemap_clip import clip_basemap
from store import queries

router = APIRouter(prefix="/api/v1/map", tags=["map"])
GENERATED = "/api/v1/map/generated"


class TileLayerOut(BaseModel):
    """One layer of tiles, as Leaflet's tileLayer takes it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str = Field(description="Leaflet tile URL template ({z}/{x}/{y}, optional {s}).")
    subdomains: str = Field(description="Letters or digits that {s} takes, e.g. 1234 for AMap.")
    attribution: str = Field(description="Credit shown on the map, as the tile provider requires.")
    max_zoom: int = Field(ge=1, le=22)


class BasemapOut(BaseModel):
    """What the pages draw under the district's layers."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    provider: Literal["generated", "tianditu", "amap", "xyz", "custom"] = Field(description="Who draws it.")
    crs: Literal["wgs84", "gcj02"] = Field(description="Datum the tiles are drawn in; gcj02: shift our layers.")
    layers: list[TileLayerOut] = Field(description="Tile layers, base first (Tianditu adds its labels).")
    generated: str | None = Field(description="Where the generated map is, when no tiles are drawn.")


@router.get("/basemap")
def basemap(settings: SettingsDep, user: CurrentUser) -> BasemapOut:
    """Say which basemap is configured (``CAMPUSGUARD_MAP__PROVIDER`` and friends)."""
    tiles = settings.map.tiles()
    return BasemapOut(provider=tiles.provider, crs=tiles.crs,
                      layers=[TileLayerOut(url=t.url, subdomains=t.subdomains, attribution=t.attribution,
                                           max_zoom=t.max_zoom) for t in tiles.layers],
                      generated=GENERATED if not tiles.layers else None)


@router.get("/generated", response_class=Response, responses={
    200: {"description": "The generated basemap, a GeoJSON FeatureCollection (streets, blocks, parks, water,"
          " landmarks, places; each with kind, name, rank and detail).", "content": {"application/geo+json": {}}},
    304: {"description": "The caller's copy (If-None-Match) is current."}})
def generated(
    conn: ConnDep, settings: SettingsDep, user: CurrentUser,
    if_none_match: Annotated[str | None, Header()] = None,
    accept_encoding: Annotated[str | None, Header()] = None,
) -> Response:
    """Give the district's own map, clipped to the schools and routes the caller sees."""
    whole = basemap_input(queries.schools(conn), queries.buses(conn))
    made = _made(whole, basemap_input(queries.schools(conn, user.scope_path), queries.buses(conn, user.scope_path)),
                 settings.map.seed)
    headers = {"ETag": made.etag, "Cache-Control": "private, no-cache", "Vary": "Accept-Encoding, Cookie"}
    if if_none_match and made.etag in if_none_match:
        return Response(status_code=304, headers=headers)
    if "gzip" in (accept_encoding or ""):
        return Response(made.gzipped, media_type="application/geo+json",
                        headers={**headers, "Content-Encoding": "gzip"})
    return Response(made.plain, media_type="application/geo+json", headers=headers)


@dataclass(frozen=True, slots=True)
class _Made:
    etag: str
    plain: bytes
    gzipped: bytes


    @property
    def size(self) -> int:
        return len(self.plain) + len(self.gzipped)


_CACHE: OrderedDict[str, _Made] = OrderedDict()
# Bounded by bytes, not entries: a city has one entry per scope (53 in the example city), each a few hundred KiB.
_CACHE_BYTES = 64 * 1024 * 1024
_WHOLE: OrderedDict[str, Basemap] = OrderedDict()  # the whole site's map per input and seed; a site change adds one
_WHOLE_SIZE = 2
_LOCK = threading.Lock()


def _made(whole: BasemapInput, part: BasemapInput, seed: int) -> _Made:
    key = f"{whole.digest()}:{part.digest()}:{seed}:{GENERATOR_VERSION}"
    with _LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    # Outside the lock: two first requests may both generate (the same bytes); neither waits for the other.
    plain = json.dumps(clip_basemap(_whole(whole, seed), part).to_geojson(), ensure_ascii=False,
                       separators=(",", ":")).encode()
    made = _Made(f'"{key_tag(key)}"', plain, gzip.compress(plain, 6, mtime=0))
    with _LOCK:
        _CACHE[key] = made
        while len(_CACHE) > 1 and sum(m.size for m in _CACHE.values()) > _CACHE_BYTES:
            _CACHE.popitem(last=False)
    return made


def _whole(whole: BasemapInput, seed: int) -> Basemap:
    key = f"{whole.digest()}:{seed}"
    with _LOCK:
        if key in _WHOLE:
            _WHOLE.move_to_end(key)
            return _WHOLE[key]
    basemap = generate_basemap(whole, seed)
    with _LOCK:
        _WHOLE[key] = basemap
        while len(_WHOLE) > _WHOLE_SIZE:
            _WHOLE.popitem(last=False)
    return basemap


def key_tag(key: str) -> str:
    """Give an ETag's body for a cache key: short, and changing with the site, the scope, the seed and generator."""
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def basemap_input(schools: list[dict[str, Any]], buses: list[dict[str, Any]]) -> BasemapInput:
    """Build the generator's input from the stored schools and buses (as the site file loaded them)."""
    return BasemapInput(
        campuses=tuple(CampusInput(s["name"], tuple((p[0], p[1]) for p in s["campus"]["coordinates"][0]),
                                   s["address"]) for s in schools if s.get("campus")),
        routes=tuple(RouteInput(
            b["name"], tuple((p[0], p[1]) for p in b["route"]["coordinates"]),
            tuple(StopInput(st["name"], (st["lon"], st["lat"])) for st in b["stops"]),
            (b["depot_lon"], b["depot_lat"]) if b["depot_lon"] is not None else None)
            for b in buses if b.get("route")))
