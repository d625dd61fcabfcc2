"""Cross-modal signals: facts no single device sees, derived from two. So far: unattended cooking.

A kitchen zone pairs temperature sensors (over the stove) with the camera zone watching the same space. The
stove counts as hot from the first reading at or above ``threshold_c`` until a reading falls below
``rearm_below_c`` (the gap keeps a reading hovering at the threshold from flapping). While hot, the zone is
unattended from the later of "hot since" and "last person seen"; ``absent_min`` after that, one
``unattended_cooking`` signal is emitted, dated at that moment, so its id is the same however often
:func:`evaluate` runs. Seeing a person, or the stove cooling, re-arms the zone for a new alert.

A reading older than ``stale_s`` says nothing: a silent sensor must not keep a cold stove "hot" (its
silence is the offline rule's business). Everything is pure: state in, state out, ``now`` passed in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain.incident import Signal
from domain.messages import SensorReading

TEMPERATURE_METRIC = "temperature_c"
SIGNAL_KIND = "unattended_cooking"


class KitchenZone(BaseModel):
    """One cooking area: its stove sensors and where it is."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, Field(min_length=1, description="Zone id, also the camera zone's key for person sightings.")]
    school_id: Annotated[str, Field(min_length=1, description="School the kitchen belongs to.")]
    sensor_ids: Annotated[tuple[str, ...], Field(min_length=1, description="Temperature sensors over the stove.")]
    lon: Annotated[float | None, Field(ge=-180, le=180, description="WGS-84 longitude of the stove.")] = None
    lat: Annotated[float | None, Field(ge=-90, le=90, description="WGS-84 latitude of the stove.")] = None
    name: Annotated[
        str | None, Field(min_length=1, description="The camera zone's name, shown in alerts; the id when unset.")
    ] = None
    camera_ids: Annotated[
        tuple[str, ...], Field(description="Cameras whose zone of this name watches the stove (see kitchens.py).")
    ] = ()

    @model_validator(mode="after")
    def _both(self) -> Self:
        if (self.lon is None) != (self.lat is None):
            raise ValueError("give both lon and lat, or neither")
        return self


class CookingWatch(BaseModel):
    """Thresholds of the unattended-cooking rule and the zones it watches."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    zones: Annotated[tuple[KitchenZone, ...], Field(description="Kitchen zones watched.")] = ()
    threshold_c: Annotated[float, Field(gt=0, le=400, description="Stove temperature that counts as cooking.")] = 60
    rearm_below_c: Annotated[
        float, Field(gt=0, le=400, description="The stove counts as off again only below this.")
    ] = 50
    absent_min: Annotated[
        float, Field(gt=0, le=240, description="Minutes hot with nobody seen before the signal.")
    ] = 10
    stale_s: Annotated[
        float, Field(gt=0, le=86_400, description="A reading older than this no longer counts.")
    ] = 900

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.rearm_below_c > self.threshold_c:
            raise ValueError("rearm_below_c must not be above threshold_c")
        seen: set[str] = set()
        for zone in self.zones:
            if zone.id in seen:
                raise ValueError(f"zone {zone.id!r} is listed twice")
            seen.add(zone.id)
        return self

    def zone_of_sensor(self, sensor_id: str) -> KitchenZone | None:
        """Find the zone a sensor watches, if any."""
        return next((z for z in self.zones if sensor_id in z.sensor_ids), None)


@dataclass(frozen=True, slots=True)
class ZoneState:
    """What is known about one kitchen zone."""

    last_person_at: datetime | None = None
    hot_since: datetime | None = None
    last_reading_at: datetime | None = None
    last_value_c: float | None = None
    last_sensor_id: str | None = None
    alerted: bool = False
    """A signal was emitted for the current unattended stretch; cleared by a person or a cooled stove."""


CookingState = Mapping[str, ZoneState]
"""Zone id to its state; the functions below return new mappings and never change the one given."""


def on_reading(state: CookingState, watch: CookingWatch, reading: SensorReading) -> CookingState:
    """Fold a sensor reading in; readings of other metrics or sensors, and late ones, change nothing."""
    zone = watch.zone_of_sensor(reading.device_id)
    if zone is None or reading.metric != TEMPERATURE_METRIC:
        return state
    current = state.get(zone.id, ZoneState())
    if current.last_reading_at is not None and reading.time < current.last_reading_at:
        return state  # a late reading must not overwrite a newer one
    hot_since, alerted = current.hot_since, current.alerted
    if reading.value >= watch.threshold_c:
        hot_since = hot_since or reading.time
    elif reading.value < watch.rearm_below_c:
        hot_since, alerted = None, False
    updated = replace(current, hot_since=hot_since, alerted=alerted, last_reading_at=reading.time,
                      last_value_c=reading.value, last_sensor_id=reading.device_id)
    return {**state, zone.id: updated}


def on_person(state: CookingState, zone_id: str, at: datetime) -> CookingState:
    """Fold a person sighting in the zone in; it re-arms the alert for a new unattended stretch."""
    current = state.get(zone_id, ZoneState())
    if current.last_person_at is not None and at <= current.last_person_at:
        return state
    return {**state, zone_id: replace(current, last_person_at=at, alerted=False)}


def unattended_since(zone_state: ZoneState) -> datetime | None:
    """Return when the zone's current unattended hot stretch began, or None when the stove is not hot."""
    if zone_state.hot_since is None:
        return None
    if zone_state.last_person_at is None:
        return zone_state.hot_since
    return max(zone_state.hot_since, zone_state.last_person_at)


def evaluate(state: CookingState, watch: CookingWatch, now: datetime) -> tuple[CookingState, tuple[Signal, ...]]:
    """Emit an ``unattended_cooking`` signal for each zone whose stove has been hot and unwatched long enough."""
    absent, stale = timedelta(minutes=watch.absent_min), timedelta(seconds=watch.stale_s)
    signals: list[Signal] = []
    updated = dict(state)
    for zone in watch.zones:
        current = state.get(zone.id)
        if current is None or current.alerted or current.last_reading_at is None:
            continue
        since = unattended_since(current)
        if since is None or now - current.last_reading_at > stale or now < since + absent:
            continue
        at = since + absent
        signals.append(Signal(
            signal_id=f"{SIGNAL_KIND}:{zone.id}:{since.isoformat()}", kind=SIGNAL_KIND, school_id=zone.school_id,
            source_id=current.last_sensor_id or zone.id, time=at, lon=zone.lon, lat=zone.lat,
            detail={"zone_id": zone.id, "zone": zone.name or zone.id, "temperature_c": current.last_value_c,
                    "hot_since": current.hot_since.isoformat() if current.hot_since else None,
                    "last_person_at": current.last_person_at.isoformat() if current.last_person_at else None,
                    "absent_min": watch.absent_min},
        ))
        updated[zone.id] = replace(current, alerted=True)
    return updated, tuple(signals)
