"""Response models of the API: GeoJSON (RFC 7946, WGS-84 lon/lat) features for spatial resources.

Also the parameter types the routers share, bounded to what can be stored and computed: a row id fits
PostgreSQL's bigint, and days and instants lie between 1970 and 2999, so that no day's end, window or offset
overflows Python's calendar (which ends with 9999) or the database's, and such input is a 422, not a 500.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import Path
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

Lon = Annotated[float, Field(ge=-180, le=180, description="WGS-84 longitude.")]
Lat = Annotated[float, Field(ge=-90, le=90, description="WGS-84 latitude.")]

ROW_ID_MAX = 2**63 - 1
"""The largest id a bigint column holds: a larger one names no row, and psycopg could not even send it."""
RowId = Annotated[int, Path(ge=1, le=ROW_ID_MAX, description="Row id.")]
"""A path parameter naming a row by its numeric id."""
FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(2999, 12, 31)


def _day_in_range(day: date) -> date:
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(f"must lie between {FIRST_DAY} and {LAST_DAY}")
    return day


def _instant_in_range(moment: datetime) -> datetime:
    try:
        in_range = FIRST_DAY <= moment.astimezone(UTC).date() <= LAST_DAY
    except OverflowError:  # 0001-01-01 at +14:00 is in the year 0 in UTC, which Python has not
        in_range = False
    if not in_range:
        raise ValueError(f"must lie between {FIRST_DAY} and {LAST_DAY} (UTC)")
    return moment


Day = Annotated[date, AfterValidator(_day_in_range)]
"""A calendar day between 1970 and 2999."""
Instant = Annotated[AwareDatetime, AfterValidator(_instant_in_range)]
"""A moment with its UTC offset, between 1970 and 2999."""


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
