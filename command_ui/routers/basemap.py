"""The map's basemap: which tile server the pages draw under the district's own layers, and its datum.

Tiles of China (AMap, Tianditu's GCJ-02 layers) are drawn in GCJ-02; with ``crs`` ``gcj02`` the pages shift
every WGS-84 layer onto them (``static/js/gcj02.js``). With no URL the pages draw the vector layers alone,
which is all a closed network may have.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from command_ui.deps import CurrentUser, SettingsDep

router = APIRouter(prefix="/api/v1/map", tags=["map"])


class BasemapOut(BaseModel):
    """Where the tiles come from; the page's own <meta> defaults apply when ``url`` is null."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str | None = Field(description="Leaflet tile URL template ({z}/{x}/{y}, optional {s}); null: none set.")
    attribution: str = Field(description="Credit shown on the map, as the tile provider requires.")
    crs: Literal["wgs84", "gcj02"] = Field(description="Datum the tiles are drawn in.")
    subdomains: str = Field(description="Letters or digits that {s} takes, e.g. 1234 for AMap.")
    max_zoom: int = Field(ge=1, le=22)


@router.get("/basemap")
def basemap(settings: SettingsDep, user: CurrentUser) -> BasemapOut:
    """Say which basemap is configured (``CAMPUSGUARD_MAP__TILES_URL`` and friends); url null: none set."""
    tiles = settings.map
    return BasemapOut(url=tiles.tiles_url, attribution=tiles.attribution, crs=tiles.crs,
                      subdomains=tiles.subdomains, max_zoom=tiles.max_zoom)
