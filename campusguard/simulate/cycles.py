"""Service days that repeat: each cycle a timetable laid around its start, driven at real time, forever.

A :class:`Cycle` is one service day of the whole district, laid by :func:`campusguard.simulate.timetable.retimed`
so that every bus leaves its depot within a few minutes of the cycle's start. It lasts until its last
situation is over (the last child check fallen due, plus a margin); the next cycle starts there. Each cycle's
site document is written (atomically) where the stages read the site file, and the geo stage reloads it: its
rules judge each trip against the timetable the buses really keep, at device times that are the real time.

The next cycle's timetable is written only once every bus of the current one is back at its depot, off its
route: the geo rules then close the old trip and open the new one (``geo/engine.py``) without judging a stop
against the wrong timetable, and the geo service's next tick (30 s) has picked it up well before any bus
reaches its route again (the earliest departure is :data:`~campusguard.simulate.timetable.LEAD` after the
start, and the drive to the route is minutes).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from campusguard.simulate.district import AFTER_TRIP_S, DistrictPlan
from campusguard.simulate.timetable import retimed
from domain.site import Site, SiteInvalid, check_site
from geo.config import GeoRules

MARGIN = dt.timedelta(minutes=3)
"""Quiet time after a cycle's last situation, before the next cycle's buses leave."""
_REFERENCE = dt.date(2024, 5, 29)  # a Wednesday: every bus of the example runs its timetable


@dataclass(frozen=True, slots=True)
class Cycle:
    """One service day laid around ``start``."""

    index: int
    start: dt.datetime
    document: dict[str, Any]
    plan: DistrictPlan
    back: dt.datetime
    """Every bus is back at its depot (or at its route's end): the next timetable may be written."""
    end: dt.datetime
    """Everything of this day is over: the next cycle starts here."""


def parse(document: Mapping[str, Any], name: str = "site") -> Site:
    """Validate a site document as the stages will read it."""
    text = yaml.safe_dump(dict(document), sort_keys=False, allow_unicode=True)
    site, errors = check_site(text, name)
    if site is None:
        raise SiteInvalid(errors)
    return site


def leads(plan: DistrictPlan) -> dict[str, dt.timedelta]:
    """Return each bus's lead: from leaving its depot to its first scheduled stop, on a reference weekday."""
    found = {}
    for entry in plan.entries:
        trip = plan.trip(entry.bus.id, _REFERENCE)
        if trip is not None:
            found[entry.bus.id] = trip.calls[0].scheduled - trip.depart
    return found


def lay_cycle(original: Mapping[str, Any], bus_leads: Mapping[str, dt.timedelta], start: dt.datetime, index: int,
              *, seed: int = 1, scenario: bool = True, buses: frozenset[str] | None = None, guards: bool = True,
              rules: GeoRules | None = None) -> Cycle:
    """Lay one service day around ``start`` and plan it."""
    document = retimed(original, start, bus_leads)
    plan = DistrictPlan(parse(document), seed, scenario, buses, guards, rules=rules or GeoRules())
    trips = [trip for _, trip in plan.trips_around(start + dt.timedelta(minutes=30))
             if trip.end >= start - dt.timedelta(minutes=1)]
    if not trips:
        return Cycle(index, start, document, plan, start, start + dt.timedelta(hours=1))
    child_minutes = dt.timedelta(minutes=plan.rules.child_check_minutes)
    back = max((t.depot_arrival or t.route_end) for t in trips)
    settled = max(max((t.depot_arrival + child_minutes) if t.depot_arrival else t.end for t in trips),
                  max(t.end for t in trips) + dt.timedelta(seconds=min(AFTER_TRIP_S, 300.0)))
    return Cycle(index, start, document, plan, back, max(settled, back + dt.timedelta(minutes=2)) + MARGIN)


def write_site(document: Mapping[str, Any], path: Path) -> None:
    """Write a site document where the stages read it, atomically: a reader never sees half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(yaml.safe_dump(dict(document), sort_keys=False, allow_unicode=True), encoding="utf-8")
    temporary.replace(path)
