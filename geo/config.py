"""Thresholds of the spatial rules: one frozen pydantic model, every field described, all with defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Protocol

from pydantic import BaseModel, ConfigDict, Field


class GeoRules(BaseModel):
    """How the geo rules decide; times are seconds of device time unless the name says minutes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    hysteresis_m: Annotated[
        float,
        Field(ge=0, le=500, description="A fix counts as inside a fence when it is inside the polygon, and as "
              "outside only when it is farther than this beyond the edge; between the two it keeps the state."),
    ] = 15.0
    dwell_s: Annotated[
        float, Field(ge=0, le=3600, description="A fence entry or exit is confirmed only after it has held "
                     "this long; the event is dated at the first fix of the run.")
    ] = 20.0
    school_zone_buffer_m: Annotated[
        float, Field(gt=0, le=2000, description="The school zone is the campus grown by this many metres.")
    ] = 150.0
    depot_radius_m: Annotated[float, Field(gt=0, le=2000, description="Radius of the depot fence.")] = 100.0
    deviation_s: Annotated[
        float, Field(ge=0, le=3600, description="Seconds beyond the route corridor before a deviation is raised.")
    ] = 60.0
    overspeed_s: Annotated[
        float, Field(ge=0, le=600, description="Seconds above the zone's limit before overspeed is raised.")
    ] = 10.0
    overspeed_clear_s: Annotated[
        float, Field(ge=0, le=600, description="Seconds at or under the limit before an overspeed ends.")
    ] = 5.0
    overspeed_tolerance_kmh: Annotated[
        float, Field(ge=0, le=30, description="Speed above the limit tolerated before it counts as overspeed.")
    ] = 0.0
    max_gap_s: Annotated[
        float, Field(gt=0, le=3600, description="Longest gap between fixes over which a speed is derived "
                     "from their distance when the device reports none.")
    ] = 120.0
    stop_minutes: Annotated[
        float, Field(gt=0, le=240, description="Minutes stationary away from stops, depots and schools before "
                     "an unexpected stop is raised.")
    ] = 5.0
    stop_radius_m: Annotated[
        float, Field(gt=0, le=500, description="A bus that stays within this radius counts as stationary; "
                     "movement, not the reported speed, decides, since GPS speed is noisy near zero.")
    ] = 30.0
    stop_allowance_m: Annotated[
        float, Field(ge=0, le=1000, description="Stopping within this distance of a route stop or the depot is "
                     "expected, not unexpected.")
    ] = 75.0
    late_threshold_min: Annotated[
        float, Field(gt=0, le=240, description="Minutes past the scheduled time, projected or actual, before "
                     "a stop counts as late.")
    ] = 5.0
    early_threshold_min: Annotated[
        float, Field(gt=0, le=240, description="Minutes before the scheduled time at which leaving a stop "
                     "counts as early.")
    ] = 3.0
    arrival_radius_m: Annotated[
        float, Field(gt=0, le=500, description="A stop counts as reached when progress along the route is "
                     "within this distance of it.")
    ] = 40.0
    eta_window_s: Annotated[
        float, Field(gt=0, le=3600, description="Window of recent progress along the route whose average "
                     "speed projects arrival times.")
    ] = 180.0
    eta_min_speed_kmh: Annotated[
        float, Field(gt=0, le=100, description="Progress samples slower than this (a bus standing at a stop or in "
                     "a queue) are left out of the speed that projects arrivals.")
    ] = 10.0
    eta_min_moving_s: Annotated[
        float, Field(ge=0, le=3600, description="Seconds of recent movement the speed must be measured over before "
                     "it projects arrivals: just after a stop, a sample spanning the dwell and the pull-away would "
                     "make the next stop look far away in time.")
    ] = 90.0
    moving_speed_kmh: Annotated[
        float, Field(gt=0, le=50, description="Above this speed a bus counts as moving (after-hours rule).")
    ] = 8.0
    after_hours_s: Annotated[
        float, Field(ge=0, le=3600, description="Seconds of movement outside service windows before an "
                     "after-hours movement is raised.")
    ] = 30.0
    after_hours_clear_s: Annotated[
        float, Field(ge=0, le=7200, description="Seconds without movement (or back in service) before an "
                     "after-hours movement ends.")
    ] = 300.0
    child_check_minutes: Annotated[
        float, Field(gt=0, le=240, description="Minutes after a bus is back at its depot within which the "
                     "driver must confirm the walk-through for children left on board.")
    ] = 10.0
    responder_max_age_s: Annotated[
        float, Field(gt=0, le=86_400, description="Responder positions older than this are ignored.")
    ] = 300.0


class GeoProcess(Protocol):
    """What a geo process is given by the composition root (``campusguard.settings.Settings`` is one)."""

    @property
    def database_url(self) -> str:
        """Where geo events are stored and drawn fences are read."""

    @property
    def mqtt_url(self) -> str:
        """The broker carrying the internal fix feed."""

    @property
    def site_file(self) -> Path | None:
        """The site YAML the fences and routes come from."""

    @property
    def geo_shards(self) -> int:
        """How many shards the internal fix feed has (ingest publishes into them)."""
