"""Response models of the API: GeoJSON (RFC 7946, WGS-84 lon/lat) features for spatial resources."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Health(_Out):
    """Liveness and readiness of the service."""

    status: Literal["ok", "degraded"] = Field(description="ok when the database answers.")
    database: Literal["ok", "unavailable"] = Field(description="Whether the database answered.")
    storage: str | None = Field(description="Storage path the database was migrated with.")
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
