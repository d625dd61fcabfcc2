"""A service day laid around a moment: the site's timetables moved so that every bus leaves its depot now.

The example district's timetable says 07:00; a newcomer starting ``make demo`` at 16:40 would otherwise watch
either an empty map or a replay of this morning at device times hours old, beside incidents timed now: two
clocks in one list. Instead the demo (and ``bench/alert_quality.py``) moves each bus's timetable, in a copy of
the site file, so that its first stop falls a few minutes after the moment the cycle starts: the bus leaves
its depot within a couple of minutes, device times are the real time, and the geo rules judge the trip
against the timetable the site file (and the database) now holds. One clock, everywhere.

Each bus is moved by its own whole number of minutes (the site file's resolution), its stops keep their
spacing, and the service window that holds its schedule moves with it and applies every day of the week
(the demo runs on a Sunday too); windows that hold no schedule are dropped, since moved ones could overlap.
A day that would cross local midnight is laid just after it instead: the rules take a trip to be one window
on one local date.

Pure: a site document (the parsed YAML) and a moment in, a new document out.
"""

from __future__ import annotations

import copy
import datetime as dt
import math
from collections.abc import Iterator, Mapping
from typing import Any
from zoneinfo import ZoneInfo

LEAD = dt.timedelta(minutes=2)
"""How long after the cycle starts the earliest possible depot departure is."""
ALL_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_MIDNIGHT_MARGIN = dt.timedelta(minutes=5)


def _minutes(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def _text(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _schools(unit: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from unit.get("schools", ())
    for child in unit.get("units", ()):
        yield from _schools(child)


def retimed(document: Mapping[str, Any], start: dt.datetime, leads: Mapping[str, dt.timedelta]) -> dict[str, Any]:
    """Return a copy of a site document whose buses reach their first stop ``leads[bus]`` + 2 min after ``start``.

    ``leads`` is each bus's drive from its depot to its first stop (with the driver's usual early margin):
    :func:`campusguard.simulate.district.DistrictPlan.leads` measures it. A bus missing from ``leads`` gets
    none (its first stop is 2 minutes after ``start``).
    """
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    out: dict[str, Any] = copy.deepcopy(dict(document))
    for school in _schools(out["organisation"]):
        zone = ZoneInfo(school["timezone"])
        for bus in school.get("buses", ()):
            stops = bus["route"]["stops"]
            first, last = _minutes(stops[0]["scheduled"]), _minutes(stops[-1]["scheduled"])
            windows = [w for w in bus.get("service_windows", ())
                       if _minutes(w["start"]) <= first and last <= _minutes(w["end"])]
            before = min([first - _minutes(w["start"]) for w in windows], default=0)
            after = max([_minutes(w["end"]) - last for w in windows], default=0)
            target = start.astimezone(zone) + LEAD + leads.get(bus["id"], dt.timedelta(0))
            local = target.hour * 60 + target.minute + math.ceil((target.second + target.microsecond / 1e6) / 60)
            if local - before < 0 or local + (last - first) + after >= 24 * 60:
                # The day would cross local midnight: lay it just after midnight (the next local date).
                local = before + math.ceil(_MIDNIGHT_MARGIN.total_seconds() / 60)
            shift = local - first
            for stop in stops:
                stop["scheduled"] = _text(_minutes(stop["scheduled"]) + shift)
            if windows:
                bus["service_windows"] = [{"days": list(ALL_DAYS), "start": _text(first + shift - before),
                                           "end": _text(last + shift + after)}]
    return out


def first_stop_times(document: Mapping[str, Any]) -> dict[str, str]:
    """Return each bus's first scheduled stop time ("HH:MM"), for progress lines and tests."""
    return {bus["id"]: bus["route"]["stops"][0]["scheduled"]
            for school in _schools(dict(document)["organisation"]) for bus in school.get("buses", ())}
