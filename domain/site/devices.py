"""Devices in the site file: trackers, panic buttons, cameras with their zones, and sensors.

A device speaking a third-party protocol (OwnTracks, OsmAnd, Zigbee2MQTT) is matched to its record by the
``external_id`` it reports itself by; one speaking our own schema is matched by our id in the topic.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from domain.site.common import Frozen, SchoolHours, Slug, Source, check_external_id
from domain.site.geometry import GeoPoint, located_error


class Tracker(Frozen):
    """A position source: a GPS unit on a bus, a driver's or guard's phone."""

    id: Annotated[Slug, Field(description="Our id for the tracker.")]
    source: Annotated[Source, Field(description="Which protocol its positions arrive in.")]
    external_id: Annotated[
        str | None,
        Field(
            min_length=1,
            description='The id the device speaks (OwnTracks "user/device", OsmAnd id, Zigbee friendly '
            "name); none for our own schema, whose topic carries our id.",
        ),
    ] = None
    clock_offset_min: Annotated[
        int,
        Field(
            ge=-14 * 60,
            le=14 * 60,
            description="Minutes the device's clock runs ahead of UTC: 0 (UTC) as GT06 says, 480 for a GT06 "
            "unit set to Beijing time. Only gt06 reads it (JT/T 808 times are Beijing time by the standard).",
        ),
    ] = 0

    @model_validator(mode="after")
    def _external(self) -> Tracker:
        check_external_id(self.source, self.external_id)
        if self.clock_offset_min and self.source != "gt06":
            raise located_error("only a gt06 tracker's clock may be set off UTC", "clock_offset_min")
        return self


class PanicButton(Frozen):
    """A panic button: fixed on a wall, worn as a badge, or an app on a phone."""

    id: Annotated[Slug, Field(description="Button id.")]
    kind: Annotated[Literal["wall", "badge", "phone"], Field(description="What sort of button it is.")]
    location: Annotated[GeoPoint | None, Field(description="[lon, lat] for a fixed button; none if it moves.")] = None
    place: Annotated[str, Field(min_length=1, description="Where it is or who carries it, in words.")]
    source: Annotated[Source, Field(description="Which protocol its presses arrive in.")]
    external_id: Annotated[
        str | None, Field(min_length=1, description="The id the device speaks, e.g. a Zigbee friendly name.")
    ] = None
    panic_actions: Annotated[
        tuple[str, ...],
        Field(min_length=1, description='Device actions that mean panic, e.g. "single", "hold".'),
    ] = ("single",)

    @model_validator(mode="after")
    def _external(self) -> PanicButton:
        check_external_id(self.source, self.external_id)
        return self


class CameraZone(Frozen):
    """A region of a camera's image with a meaning for detections."""

    name: Annotated[str, Field(min_length=1, description="Zone name shown with alerts.")]
    kind: Annotated[
        Literal["restricted", "kitchen", "gate", "crowd", "general"],
        Field(description="What the zone is for."),
    ]
    polygon: Annotated[
        tuple[tuple[float, float], ...],
        Field(min_length=3, description="Corners as [x, y] in normalised image coordinates, 0..1."),
    ]
    max_people: Annotated[
        int | None,
        Field(
            ge=1,
            description="Crowding above this many people; none takes the pipeline's default for crowd and "
            "gate zones and leaves other kinds unchecked.",
        ),
    ] = None
    loiter_s: Annotated[
        int | None,
        Field(ge=1, description="Seconds one person may stay before it is loitering; none takes the default."),
    ] = None
    hours: Annotated[
        tuple[SchoolHours, ...] | None,
        Field(min_length=1, description="When people are expected in the zone (the school's local time), e.g. "
                                        "a kitchen staffed from 05:30; a person there outside them is an "
                                        "intrusion. None: the school's hours. Not for restricted zones."),
    ] = None

    @model_validator(mode="after")
    def _hours_need_a_zone_that_opens(self) -> CameraZone:
        if self.hours is not None and self.kind == "restricted":
            raise located_error("a restricted zone is closed at all hours; hours apply to the other kinds",
                                "hours")
        return self

    @field_validator("polygon")
    @classmethod
    def _normalised(cls, corners: tuple[tuple[float, float], ...]) -> tuple[tuple[float, float], ...]:
        for index, (x, y) in enumerate(corners):
            if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
                raise located_error("image coordinates are normalised to 0..1", index)
        return corners


PlaceKind = Literal["gate", "canteen", "kitchen", "corridor", "playground", "entrance", "parking", "perimeter",
                    "dormitory"]
"""What a camera watches; the key areas GB/T 29315 names (gate, perimeter, canteen kitchen, dormitory) among them."""


class Camera(Frozen):
    """A camera stream and the zones drawn on its image."""

    id: Annotated[Slug, Field(description="Camera id.")]
    name: Annotated[str, Field(min_length=1, description="Name shown in the command centre.")]
    rtsp_url: Annotated[
        str, Field(min_length=1, description="rtsp:// or rtsps:// stream, or a video file path for replay.")
    ]
    location: Annotated[GeoPoint, Field(description="[lon, lat] of the camera.")]
    place_kind: Annotated[PlaceKind, Field(description="What the camera watches.")]
    zones: Annotated[tuple[CameraZone, ...], Field(description="Zones on its image.")] = ()

    @field_validator("rtsp_url")
    @classmethod
    def _stream(cls, url: str) -> str:
        scheme = re.match(r"([A-Za-z][A-Za-z0-9+.-]*)://", url)
        if scheme and scheme.group(1).lower() not in ("rtsp", "rtsps", "file"):
            raise PydanticCustomError("site_rule", "a camera stream is rtsp://, rtsps:// or a file path")
        return url


class Sensor(Frozen):
    """An environmental or door sensor."""

    id: Annotated[Slug, Field(description="Sensor id.")]
    kind: Annotated[Literal["temperature", "smoke", "door", "humidity"], Field(description="What it senses.")]
    place: Annotated[str, Field(min_length=1, description="Where it is, in words.")]
    location: Annotated[GeoPoint | None, Field(description="[lon, lat] of the sensor.")] = None
    source: Annotated[Source, Field(description="Which protocol its readings arrive in.")]
    external_id: Annotated[str | None, Field(min_length=1, description="The id the device speaks.")] = None

    @model_validator(mode="after")
    def _external(self) -> Sensor:
        check_external_id(self.source, self.external_id)
        return self
