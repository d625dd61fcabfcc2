"""Guard patrols in the site file: a school's checkpoints and its patrol plan (GB/T 29315 practice).

A checkpoint is a fixed place (gate, perimeter corner, dormitory, canteen kitchen) with a QR code or NFC tag
whose signed URL a guard's phone opens. When the checkpoint has a ``location`` and ``radius_m``, a scan counts
only with the phone's position inside that circle. A plan gives the rounds of every day in the school's
local time, either as fixed times (``at``) or every N hours from a start (``every_hours``); each round visits
its checkpoints (all of the school's by default) and must be complete ``grace_min`` minutes after it starts.
The rules that decide due, complete, late and missed are in :mod:`alerts.patrols`.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Self

from pydantic import Field, model_validator

from domain.site.common import Frozen, Slug, WallTime
from domain.site.geometry import GeoPoint

MIN_ROUNDS_PER_DAY = 5
"""The bureaus' inspections ask for at least five patrol rounds a day unless a plan says otherwise."""


class Checkpoint(Frozen):
    """A fixed place a guard's round visits, marked by a QR code or NFC tag holding its signed URL."""

    id: Annotated[Slug, Field(description="Checkpoint id, unique in the whole file like every id.")]
    name: Annotated[str, Field(min_length=1, description='What guards call the place, e.g. "北门" or "Gate".')]
    location: Annotated[GeoPoint | None, Field(description="[lon, lat] of the code on the wall.")] = None
    radius_m: Annotated[
        float | None,
        Field(gt=0, le=500, description="With a location: a scan counts only from a phone within this many "
                                        "metres (a photo of the code scanned elsewhere does not)."),
    ] = None

    @model_validator(mode="after")
    def _radius_needs_place(self) -> Self:
        if self.radius_m is not None and self.location is None:
            raise ValueError("radius_m needs a location to measure from")
        return self


class PatrolPlan(Frozen):
    """When a school's guards walk their rounds, which checkpoints each visits, and how long one may take."""

    at: Annotated[tuple[WallTime, ...], Field(description='Local start times of the rounds, "HH:MM".')] = ()
    every_hours: Annotated[
        int | None, Field(ge=1, le=24, description="Instead of at: a round every N hours from start.")
    ] = None
    start: Annotated[WallTime, Field(description='With every_hours: the first round\'s local time.')] = dt.time(0)
    checkpoints: Annotated[
        tuple[Slug, ...], Field(description="Checkpoint ids each round visits; none: all of the school's.")
    ] = ()
    grace_min: Annotated[
        int, Field(ge=5, le=720, description="Minutes after its start by which a round must be complete.")
    ] = 60
    min_rounds: Annotated[
        int, Field(ge=1, le=48, description="Fewest rounds a day this plan may have (inspections ask for 5).")
    ] = MIN_ROUNDS_PER_DAY

    def times(self) -> tuple[dt.time, ...]:
        """Return the local start times of one day's rounds, in order."""
        if self.every_hours is None:
            return tuple(sorted(set(self.at)))
        # Every N hours around the clock from start: a plan starting at 22:00 also walks at 02:00 and 06:00.
        first = self.start.hour * 60 + self.start.minute
        minutes = sorted({(first + k * self.every_hours * 60) % (24 * 60)
                          for k in range(-(-24 // self.every_hours))})
        return tuple(dt.time(m // 60, m % 60) for m in minutes)

    @model_validator(mode="after")
    def _rounds(self) -> Self:
        if bool(self.at) == (self.every_hours is not None):
            raise ValueError("give the rounds either as at (times) or as every_hours, one of them")
        if len(self.times()) < self.min_rounds:
            raise ValueError(f"the plan has {len(self.times())} rounds a day, fewer than min_rounds "
                             f"({self.min_rounds})")
        return self


def check_school_patrols(checkpoints: tuple[Checkpoint, ...], plan: PatrolPlan | None) -> None:
    """Refuse a plan that visits a checkpoint the school does not have, or a plan with no checkpoints at all."""
    if plan is None:
        return
    known = {c.id for c in checkpoints}
    if not known:
        raise ValueError("a patrol plan needs checkpoints to visit")
    if missing := [c for c in plan.checkpoints if c not in known]:
        raise ValueError(f"the patrol plan visits unknown checkpoints: {', '.join(missing)}")
