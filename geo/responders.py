"""Nearest responders: guards ranked by distance from an incident, from their last known positions.

Distances are measured in a local projection centred on the incident itself, where the error is smallest
(under 0.1 mm per km within 10 km; see ``geo.projection``). Positions older than the age limit, judged
against the incident's own time, are left out: a guard last seen an hour ago is not "nearest".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from geo.projection import LocalProjection


@dataclass(frozen=True, slots=True)
class ResponderPosition:
    """The last known position of a person who can respond."""

    person_id: str
    lon: float
    lat: float
    time: datetime

    def __post_init__(self) -> None:
        """Refuse naive times."""
        if self.time.utcoffset() is None:
            raise ValueError("time must be timezone-aware")


@dataclass(frozen=True, slots=True)
class RankedResponder:
    """A responder with their distance from the incident and the age of their position."""

    person_id: str
    distance_m: float
    age_s: float
    position: ResponderPosition


def nearest_responders(
    lon: float, lat: float, at: datetime, positions: Iterable[ResponderPosition], max_age_s: float,
    limit: int | None = None,
) -> list[RankedResponder]:
    """Rank responders by distance from ``(lon, lat)``, newest position per person, nearest first."""
    newest: dict[str, ResponderPosition] = {}
    for p in positions:
        age = (at - p.time).total_seconds()
        if age <= max_age_s and (p.person_id not in newest or p.time > newest[p.person_id].time):
            newest[p.person_id] = p
    if not newest:
        return []
    fresh = list(newest.values())
    x, y = LocalProjection(lon, lat).forward([p.lon for p in fresh], [p.lat for p in fresh])
    distances = np.hypot(x, y).tolist()
    ranked = sorted(
        (RankedResponder(p.person_id, d, (at - p.time).total_seconds(), p) for p, d in zip(fresh, distances,
                                                                                           strict=True)),
        key=lambda r: (r.distance_m, r.person_id),
    )
    return ranked if limit is None else ranked[:limit]
