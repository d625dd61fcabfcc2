"""The store's settings section: which time-series path it takes and how long each class of data is kept.

Plain pydantic models: the composition root (``campusguard.settings``) reads them from ``CAMPUSGUARD_``
variables; nothing here reads the environment.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class StorageBackend(StrEnum):
    """Which time-series path the store takes; ``auto`` asks the database at migrate time."""

    AUTO = "auto"
    TIMESCALE = "timescale"
    PLAIN = "plain"


class RetentionSettings(BaseModel):
    """How long each class of time-series data is kept, in days."""

    model_config = ConfigDict(extra="forbid")

    positions_days: Annotated[int, Field(ge=1, description="Bus and phone positions.")] = 180
    device_events_days: Annotated[int, Field(ge=1, description="Device events (offline, battery).")] = 365
    sensor_readings_days: Annotated[int, Field(ge=1, description="Sensor readings.")] = 90
    detections_days: Annotated[int, Field(ge=1, description="Camera detections.")] = 30
    dead_letters_days: Annotated[int, Field(ge=1, description="Rejected input kept for diagnosis.")] = 14
