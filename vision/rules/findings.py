"""What one observation shows, rule by rule: the raw conditions before debounce and cooldown.

Each rule looks at the objects of this frame (located in the camera's zones) and, for people, at what their
tracks have done so far, and returns a :class:`Finding` per (kind, zone) whose condition holds now. Only
objects seen in this frame count, so an event's boxes are always boxes of the frame it is dated at.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from vision.config import RuleParams
from vision.messages import Box, TrackedObject, VisionEventKind
from vision.rules.state import TrackMemory
from vision.zones import CameraRules, ZoneRule, zone_closed

PERSON = "person"
WEAPONS = frozenset({"knife", "baseball bat"})
PHONES = frozenset({"cell phone"})
ANIMALS = frozenset({"cat", "dog", "bird"})
"""Animals that do not belong in a kitchen; COCO's "mouse" is a computer mouse, so it is not one."""
LOITER_KINDS = frozenset({"gate", "general", "restricted", "crowd"})
CROWD_KINDS = frozenset({"crowd", "gate"})

Key = tuple[VisionEventKind, str | None]
"""A situation: an event kind in a zone, or none for the whole camera."""


@dataclass(frozen=True, slots=True)
class Located:
    """An object of this frame with the zones its point is in."""

    obj: TrackedObject
    zones: tuple[ZoneRule, ...]


@dataclass(frozen=True, slots=True)
class Finding:
    """A condition holding in this frame: the boxes that make it and the event's detail."""

    boxes: tuple[Box, ...]
    detail: Mapping[str, object]


def find_all(
    rules: CameraRules, params: RuleParams, located: tuple[Located, ...], tracks: Mapping[int, TrackMemory],
    now: datetime, after: bool,
) -> dict[Key, Finding]:
    """Return every (kind, zone) whose condition holds in this frame."""
    people = tuple(item for item in located if item.obj.label == PERSON)
    found: dict[Key, Finding] = {}
    found.update(_intrusion(rules, people, after, now))
    found.update(_crowding(rules, params, people))
    found.update(_loitering(rules, params, people, tracks, now))
    found.update(_person_down(params, people, tracks, now))
    found.update(_objects(rules, located))
    return found


def _group(items: Iterable[Located], detail: Mapping[str, object]) -> Finding:
    chosen = sorted(items, key=lambda item: item.obj.track_id)
    ids = [item.obj.track_id for item in chosen]
    return Finding(tuple(item.obj.box for item in chosen), {**detail, "count": len(ids), "track_ids": ids})


def _in(zone: ZoneRule, items: Iterable[Located]) -> list[Located]:
    # By identity: two zones may share a name or an outline, and comparing polygons is slow besides.
    return [item for item in items if any(here is zone for here in item.zones)]


def _intrusion(rules: CameraRules, people: tuple[Located, ...], after: bool, now: datetime) -> dict[Key, Finding]:
    found: dict[Key, Finding] = {}
    if after and not rules.zones and people:
        # A camera with no zones drawn watches all of its picture after hours.
        found["intrusion", None] = _group(people, {"zone": None, "after_hours": True})
    for zone in rules.zones:
        inside = _in(zone, people)
        # A zone with its own hours (a kitchen staffed before school opens) is judged by them, not the school's.
        closed = after if zone.hours is None else zone_closed(rules, zone, now)
        if inside and (zone.kind == "restricted" or closed):
            found["intrusion", zone.name] = _group(inside, {"zone": zone.name, "after_hours": closed})
    return found


def _crowding(rules: CameraRules, params: RuleParams, people: tuple[Located, ...]) -> dict[Key, Finding]:
    found: dict[Key, Finding] = {}
    for zone in rules.zones:
        limit = zone.max_people or (params.crowd_max if zone.kind in CROWD_KINDS else None)
        inside = _in(zone, people)
        if limit is not None and len(inside) > limit:
            found["crowding", zone.name] = _group(inside, {"zone": zone.name, "max_people": limit})
    return found


def _loitering(
    rules: CameraRules, params: RuleParams, people: tuple[Located, ...], tracks: Mapping[int, TrackMemory],
    now: datetime,
) -> dict[Key, Finding]:
    found: dict[Key, Finding] = {}
    for zone in rules.zones:
        if zone.kind not in LOITER_KINDS:
            continue  # kitchen staff stand at the cooking line all morning
        limit = zone.loiter_s or params.loiter_s
        dwell: dict[int, float] = {}
        for item in _in(zone, people):
            memory = tracks.get(item.obj.track_id)
            visit = next((v for v in memory.visits if v.zone == zone.name), None) if memory else None
            if visit is not None and (now - visit.entered).total_seconds() >= limit:
                dwell[item.obj.track_id] = (now - visit.entered).total_seconds()
        if dwell:
            loiterers = [item for item in people if item.obj.track_id in dwell]
            found["loitering", zone.name] = _group(
                loiterers, {"zone": zone.name, "dwell_s": round(max(dwell.values()), 1), "loiter_s": limit}
            )
    return found


def _person_down(
    params: RuleParams, people: tuple[Located, ...], tracks: Mapping[int, TrackMemory], now: datetime
) -> dict[Key, Finding]:
    lying: dict[int, float] = {}
    for item in people:
        memory = tracks.get(item.obj.track_id)
        if memory is not None and memory.lying_since is not None:
            held = (now - memory.lying_since).total_seconds()
            if held >= params.fallen_s:
                lying[item.obj.track_id] = held
    if not lying:
        return {}
    down = [item for item in people if item.obj.track_id in lying]
    zones = sorted({zone.name for item in down for zone in item.zones})
    return {("person_down", None): _group(down, {"zone": None, "zones": zones,
                                                 "lying_s": round(max(lying.values()), 1)})}


def _objects(rules: CameraRules, located: tuple[Located, ...]) -> dict[Key, Finding]:
    kitchen_camera = rules.place_kind == "kitchen"
    hits: dict[Key, list[Located]] = {}
    for item in located:
        label = item.obj.label
        kitchens = [zone.name for zone in item.zones if zone.kind == "kitchen"]
        if label in WEAPONS and not kitchen_camera and not kitchens:
            hits.setdefault(("knife_outside_kitchen", None), []).append(item)
        elif label in PHONES:
            for name in kitchens:
                hits.setdefault(("phone_in_kitchen", name), []).append(item)
        elif label in ANIMALS:
            # On a kitchen camera the whole picture is kitchen; the zone still names where, when one does.
            places: list[str | None] = list(kitchens) or ([None] if kitchen_camera else [])
            for place in places:
                hits.setdefault(("animal_in_kitchen", place), []).append(item)
    return {
        key: _group(items, {"zone": key[1], "labels": sorted({item.obj.label for item in items})})
        for key, items in hits.items()
    }
