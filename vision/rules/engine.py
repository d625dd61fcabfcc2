"""One camera's zone rules over one observation: locate, remember tracks, find conditions, debounce, fire.

:func:`evaluate` is pure: the same state and observation always give the same new state and events, and the
only clock is the observation's time. See :mod:`vision.rules` for the semantics of holds and cooldowns.
"""

from __future__ import annotations

from vision.config import RuleParams
from vision.messages import Observation, VisionEvent, VisionEventKind
from vision.rules.findings import PERSON, Finding, Key, Located, find_all
from vision.rules.state import Situation, TrackMemory, ZoneState, forget_tracks, step_situation, step_track
from vision.zones import CameraRules, after_hours, locate

_ORDER: tuple[VisionEventKind, ...] = (
    "person_down", "knife_outside_kitchen", "intrusion", "crowding", "loitering", "animal_in_kitchen",
    "phone_in_kitchen",
)
"""Events of one observation come out in this order (most urgent first), then by zone name."""

_WINDOWED = frozenset({"knife_outside_kitchen", "phone_in_kitchen", "animal_in_kitchen"})


def _sort_key(key: Key) -> tuple[int, bool, str]:
    return (_ORDER.index(key[0]), key[1] is not None, key[1] or "")


def _hold_s(kind: VisionEventKind, params: RuleParams) -> float:
    # Loitering and person_down are held per track (dwell, lying run) before they are found at all, and the
    # object rules are debounced by frame counts, so only these two need a hold of their own.
    if kind == "intrusion":
        return params.intrusion_min_s
    if kind == "crowding":
        return params.crowd_min_s
    return 0.0


def evaluate(
    rules: CameraRules, params: RuleParams, state: ZoneState, obs: Observation
) -> tuple[ZoneState, list[VisionEvent]]:
    """Feed one observation of the camera; return the new state and the events it fires.

    An observation older than the last one is ignored (state unchanged, no events): a late frame must not
    rewind holds and cooldowns.
    """
    if obs.camera_id != rules.camera_id:
        raise ValueError(f"observation of {obs.camera_id!r} fed to the rules of {rules.camera_id!r}")
    if obs.time.utcoffset() is None:
        raise ValueError("observation time must be timezone-aware")
    now = obs.time
    if state.last_time is not None and now < state.last_time:
        return state, []
    located = tuple(Located(obj, zones) for obj, zones in zip(obs.objects, locate(rules, obs), strict=True))
    tracks: dict[int, TrackMemory] = {track.track_id: track for track in state.tracks}
    for item in located:
        if item.obj.label == PERSON:
            obj = item.obj
            names = tuple(zone.name for zone in item.zones)
            tracks[obj.track_id] = step_track(tracks.get(obj.track_id), obj.track_id, names, obj.lying, now, params)
    kept = forget_tracks(tracks, now, params)
    findings = find_all(rules, params, located, {track.track_id: track for track in kept}, now,
                        after_hours(rules, now))
    situations = {(situation.kind, situation.zone): situation for situation in state.situations}
    new_situations: list[Situation] = []
    events: list[VisionEvent] = []
    for key in sorted(situations.keys() | findings.keys(), key=_sort_key):
        finding = findings.get(key)
        old = situations.get(key) or Situation(key[0], key[1])
        new, fires = step_situation(old, finding is not None, now, _hold_s(key[0], params), key[0] in _WINDOWED,
                                    params)
        if new is not None:
            new_situations.append(new)
        if fires and finding is not None:
            events.append(_event(rules, key, finding, obs))
    return ZoneState(now, kept, tuple(new_situations)), events


def _event(rules: CameraRules, key: Key, finding: Finding, obs: Observation) -> VisionEvent:
    return VisionEvent(rules.camera_id, key[0], obs.time, key[1], finding.boxes, dict(finding.detail))
