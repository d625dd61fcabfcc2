"""Building blocks shared by the site models: ids, local times, weekdays, device sources.

Times of day in the site file are local wall-clock times in the school's timezone, so they carry no offset.
"""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from domain.site.geometry import located_error

_SLUG = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


def _check_slug(value: str) -> str:
    if not _SLUG.fullmatch(value):
        raise PydanticCustomError(
            "site_rule",
            "ids are lowercase slugs: a-z or 0-9 first, then a-z, 0-9, '-' or '_', at most 64 characters",
        )
    return value


Slug = Annotated[str, AfterValidator(_check_slug)]
"""A lowercase id, ``[a-z0-9][a-z0-9-_]*``, at most 64 characters."""


def _wall_time(value: Any) -> Any:
    # YAML 1.1 reads an unquoted 12:30 as the base-60 number 750, and pydantic would take a number as
    # seconds after midnight; refuse numbers instead of silently turning 12:30 into 00:12:30.
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise PydanticCustomError("site_rule", 'write times of day as quoted "HH:MM" strings')
    return value


def _naive(value: dt.time) -> dt.time:
    if value.tzinfo is not None:
        raise PydanticCustomError("site_rule", "times of day are local to the school; give no UTC offset")
    return value


WallTime = Annotated[dt.time, BeforeValidator(_wall_time), AfterValidator(_naive)]
"""A local time of day, "HH:MM" in the school's timezone."""

Source = Literal["campusguard", "owntracks", "osmand", "zigbee2mqtt", "jt808", "gt06"]
"""How a device's messages reach us: our own MQTT schema, or a third-party one we translate."""


class Weekday(StrEnum):
    """A day of the week, as three lowercase letters."""

    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"


class Frozen(BaseModel):
    """Base of every site model: unknown keys are errors and instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def check_external_id(source: str, external_id: str | None) -> None:
    """Third-party devices are known only by the id they speak; OwnTracks speaks ``user/device``."""
    if source != "campusguard" and external_id is None:
        raise located_error(f"a {source} device needs the external_id it reports itself by", "external_id")
    if source == "owntracks" and external_id is not None and not re.fullmatch(r"[^/\s]+/[^/\s]+", external_id):
        raise located_error('an owntracks external_id is "user/device", as in the topic', "external_id")
    if source == "jt808" and external_id is not None and not re.fullmatch(r"[1-9][0-9]{0,19}", external_id):
        raise located_error("a jt808 external_id is the terminal's phone number, 1 to 20 digits without leading "
                            "zeros", "external_id")


class SchoolHours(Frozen):
    """A weekly window: the same start and end on each of the listed days."""

    days: Annotated[tuple[Weekday, ...], Field(min_length=1, description="The days it applies to.")]
    start: Annotated[WallTime, Field(description='Local start time, "HH:MM".')]
    end: Annotated[WallTime, Field(description='Local end time, "HH:MM", after start on the same day.')]

    @model_validator(mode="after")
    def _ordered(self) -> SchoolHours:
        if self.start >= self.end:
            raise located_error(f"end {self.end:%H:%M} must be after start {self.start:%H:%M}", "end")
        if len(set(self.days)) != len(self.days):
            raise located_error("a day is listed twice", "days")
        return self
