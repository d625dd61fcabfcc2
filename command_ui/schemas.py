"""Response models of the API: GeoJSON (RFC 7946, WGS-84 lon/lat) features for spatial resources."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Lon = Annotated[float, Field(ge=-180, le=180, description="WGS-84 longitude.")]
Lat = Annotated[float, Field(ge=-90, le=90, description="WGS-84 latitude.")]


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Health(_Out):
    """Liveness and readiness of the service."""

    status: Literal["ok", "degraded"] = Field(description="ok when the database answers.")
    database: Literal["ok", "unavailable"] = Field(description="Whether the database answered.")
    storage: str | None = Field(description="Storage path the database was migrated with.")
    live_feed: Literal["ok", "starting", "stale"] = Field(
        description="Whether this process's incident feed to live screens is reading (stale: stuck; 503).")
    version: str = Field(description="campusguard version.")


class Feature(_Out):
    """One GeoJSON feature."""

    type: Literal["Feature"] = "Feature"
    id: str = Field(description="Resource id.")
    geometry: dict[str, Any] | None = Field(description="GeoJSON geometry, lon/lat; null when unknown.")
    properties: dict[str, Any] = Field(description="Resource attributes.")


class FeatureCollection(_Out):
    """A GeoJSON feature collection."""

    type: Literal["FeatureCollection"] = "FeatureCollection"
    features: list[Feature] = Field(description="The features.")


class Responder(_Out):
    """A person who could answer an incident, by their phone's latest fix."""

    user_id: str
    name: str
    role: str
    device_id: str = Field(description="The phone tracker the position comes from.")
    distance_m: float | None = Field(description="Great-circle metres from the incident; null if it has no place.")
    time: datetime = Field(description="When the phone's latest fix was taken (UTC).")
    lon: Lon | None = Field(description="Where, for a caller whose scope holds the phone; otherwise null.")
    lat: Lat | None = Field(description="Where, for a caller whose scope holds the phone; otherwise null.")
