"""Scenario roles: which bus runs late, detours, speeds in a school zone, goes silent or skips its child check.

Deterministic for a seed: buses are considered in id order, shuffled by the seed, and each role goes to the
first bus that can play it, the most demanding roles first. What a role needs:

- ``speeding``: a route with a long enough stretch inside a school zone to stay over the limit for longer
  than the overspeed rule's 10 s (the longest stretch in the district wins among those over 180 m);
- ``silent``: exactly one tracker, so that the bus really goes dark when it stops reporting;
- ``no_child_check``: a depot to come back to (the check is owed at the depot);
- ``deviating``: two stops at least 600 m apart, to detour between;
- ``late``: any bus.

Every other bus is ``normal``; with the scenario off, all are.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from campusguard.simulate.model import Role
from campusguard.simulate.trips import Zone, detour_gap, stop_alongs, zone_stretch_m
from domain.site import Bus, Site
from geo.projection import LocalProjection

SPEEDING_MIN_STRETCH_M = 180.0


@dataclass(frozen=True, slots=True)
class BusFacts:
    """What decides which roles a bus can play."""

    bus_id: str
    trackers: int
    has_depot: bool
    detour_gap: int | None
    zone_stretch_m: float


def bus_facts(bus: Bus, projection: LocalProjection, zones: Sequence[Zone]) -> BusFacts:
    """Measure a bus's route for role eligibility."""
    line = projection.to_metres(bus.route.path.shape())
    return BusFacts(bus.id, len(bus.trackers), bus.route.depot is not None,
                    detour_gap(stop_alongs(bus, line, projection)), zone_stretch_m(line, zones))


_NEEDS: tuple[tuple[Role, Callable[[BusFacts], bool]], ...] = (
    (Role.SPEEDING, lambda f: f.zone_stretch_m >= SPEEDING_MIN_STRETCH_M),
    (Role.SILENT, lambda f: f.trackers == 1),
    (Role.NO_CHILD_CHECK, lambda f: f.has_depot),
    (Role.DEVIATING, lambda f: f.detour_gap is not None),
    (Role.LATE, lambda f: True),
)


def assign_roles(facts: Sequence[BusFacts], seed: int, enabled: bool = True) -> dict[str, Role]:
    """Give each scripted role to one bus (when one can play it); every other bus is normal."""
    roles = {f.bus_id: Role.NORMAL for f in facts}
    if not enabled:
        return roles
    order = sorted(facts, key=lambda f: f.bus_id)
    random.Random(f"roles/{seed}").shuffle(order)  # noqa: S311 - a seeded simulation, not a secret
    for role, can in _NEEDS:
        free = [f for f in order if roles[f.bus_id] is Role.NORMAL and can(f)]
        if role is Role.SPEEDING:
            # The longest stretch makes the surest overspeed; the shuffle only breaks ties.
            free = sorted(free, key=lambda f: -f.zone_stretch_m)
        if free:
            roles[free[0].bus_id] = role
    return roles


def site_roles(site: Site, projection: LocalProjection, zones: Sequence[Zone], seed: int,
               enabled: bool = True) -> Mapping[str, Role]:
    """Assign roles over every bus of the site (a simulation of a few buses keeps the district's roles)."""
    facts = [bus_facts(bus, projection, zones) for entry in site.iter_schools() for bus in entry.school.buses]
    return assign_roles(facts, seed, enabled)
