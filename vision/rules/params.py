"""The zone rules' thresholds: how long a condition must hold, how many people make a crowd, cooldowns.

Per-zone overrides (``max_people``, ``loiter_s``) live on the site file's zones; these are the defaults and
the settings no zone overrides.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator


class RuleParams(BaseModel):
    """Thresholds of the zone rules, shared by every camera of a pipeline."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    intrusion_min_s: Annotated[
        float, Field(ge=0, description="Seconds a person must stay in a restricted (or after-hours) zone.")
    ] = 2.0
    crowd_max: Annotated[
        int, Field(ge=1, description="More people than this in a crowd or gate zone is crowding, unless the zone "
                   "sets max_people.")
    ] = 10
    crowd_min_s: Annotated[float, Field(ge=0, description="Seconds the crowd must persist.")] = 5.0
    loiter_s: Annotated[
        float, Field(gt=0, description="Seconds one tracked person may stay in a zone before it is loitering, "
                     "unless the zone sets loiter_s.")
    ] = 120.0
    fallen_s: Annotated[
        float, Field(ge=0, description="Seconds a person must be seen lying to be a person down.")
    ] = 8.0
    object_min_frames: Annotated[
        int, Field(ge=1, description="Frames among the last object_window frames an object (knife, phone, "
                   "animal) must be seen in; one stray detection is not an alert.")
    ] = 3
    object_window: Annotated[
        int, Field(ge=1, le=64, description="How many recent frames object_min_frames counts over.")
    ] = 5
    grace_s: Annotated[
        float, Field(ge=0, description="A held condition survives gaps shorter than this (a detector missing "
                     "a person for a frame or two does not restart the clock).")
    ] = 3.0
    clear_s: Annotated[
        float, Field(ge=0, description="Seconds a condition must be absent after an event before the same "
                     "kind and zone may fire again (together with cooldown_s).")
    ] = 30.0
    cooldown_s: Annotated[
        float, Field(ge=0, description="Least seconds between two events of the same kind and zone.")
    ] = 300.0
    forget_s: Annotated[
        float, Field(gt=0, description="A track not seen for this long is forgotten (its dwell and pose).")
    ] = 10.0

    @model_validator(mode="after")
    def _window(self) -> RuleParams:
        if self.object_window < self.object_min_frames:
            raise ValueError("object_window must be at least object_min_frames")
        return self
