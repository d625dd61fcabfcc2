"""Evidence over time: which tracks the zone rules may count, and as what.

One detection is a guess. On a real courtyard NanoDet scores a traffic cone as a person at about 0.4 in most
frames and a walking person at 0.65-0.85, and a tracker happily follows both; a detector threshold low enough
to keep a half-hidden person also keeps the cone. So, as Frigate does, a track is judged by the **median of its
score history** (the last ``score_window`` scores of detections matched to it): it is *confirmed* once that
median reaches ``confirm_score`` over at least ``min_hits`` detections, and stays confirmed for its life (a
person half hidden behind a post for a while is still the person it was). A person must also have a person's
**shape** where they stand: a box tall enough and neither a sliver (a sign post) nor wider than a lying
person, per camera and, where a zone sets its own, per zone.

The rules then count only tracks **matched recently** (``fresh_s`` before the latest detector call): a tracker
keeps an unmatched track alive for a few detector calls, moving it along its last velocity, so that a missed
frame does not lose a person; but such a track may be a person who has left, or the ghost of an identity switch,
and must not add to a crowd (on the real courtyard, counting them made 11 of 9 people). A missed frame is
bridged by the rules' own ``grace_s`` instead. Everything here is pure; :class:`EvidenceState` is the only memory,
bounded by the live tracks.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

from vision.config import ConfirmParams, PersonShape
from vision.messages import Observation, TrackedObject
from vision.zones import CameraRules, object_point, zones_at

CONFIRMED_LABELS = frozenset({"person"})
"""Labels judged by their score median; other labels keep the object rules' frame-count debounce, which a
knife's typically low scores would otherwise never pass."""


@dataclass(frozen=True, slots=True)
class TrackEvidence:
    """What is known of one track's detections: its latest scores and whether it has been confirmed."""

    scores: tuple[float, ...]
    confirmed: bool


@dataclass(frozen=True, slots=True)
class EvidenceState:
    """Evidence per live track id."""

    tracks: Mapping[int, TrackEvidence] = field(default_factory=lambda: MappingProxyType({}))


EMPTY_EVIDENCE = EvidenceState()


def matched_now(obj: TrackedObject, now: datetime) -> bool:
    """Tell whether a detection matched the track in the frame at ``now`` (None: the tracker did not say)."""
    return obj.seen is None or obj.seen == now


def confirm(scores: tuple[float, ...], params: ConfirmParams) -> bool:
    """Judge a score history: enough detections, and their median at least ``confirm_score``."""
    return len(scores) >= params.min_hits and statistics.median(scores) >= params.confirm_score


def update(state: EvidenceState, objects: Iterable[TrackedObject], now: datetime,
           params: ConfirmParams) -> EvidenceState:
    """Add this detector call's scores to the tracks they matched; forget tracks the tracker no longer has."""
    tracks: dict[int, TrackEvidence] = {}
    for obj in objects:
        old = state.tracks.get(obj.track_id)
        if old is not None and not matched_now(obj, now):
            tracks[obj.track_id] = old  # no new detection: nothing new is known
            continue
        scores = ((*old.scores, obj.score) if old else (obj.score,))[-params.score_window:]
        tracks[obj.track_id] = TrackEvidence(scores, (old is not None and old.confirmed) or confirm(scores, params))
    return EvidenceState(MappingProxyType(tracks))


def fits(shape: PersonShape, obj: TrackedObject, frame_height: int) -> bool:
    """Tell whether a box has a person's shape as ``shape`` sets it."""
    box = obj.box
    if box.height <= 0:
        return False
    aspect = box.width / box.height
    return box.height >= shape.min_height * frame_height and shape.min_aspect <= aspect <= shape.max_aspect


def zone_shape(params: ConfirmParams, camera_id: str, zone: str) -> PersonShape | None:
    """Return the shape a zone demands: its ``camera/zone`` entry, else its name's, else none."""
    return params.zone_shapes.get(f"{camera_id}/{zone}") or params.zone_shapes.get(zone)


def countable(rules: CameraRules, state: EvidenceState, obs: Observation, params: ConfirmParams,
              detected_at: datetime | None = None) -> tuple[TrackedObject, ...]:
    """Return the objects of an observation the zone rules should see, in order.

    Every label must have been matched within ``fresh_s`` before the latest detector call (``detected_at``,
    the observation's own time when it was detected); a person must also be confirmed and have a person's shape,
    on the camera and in each zone with its own shape where their foot point is.
    """
    latest = detected_at or obs.time
    kept = []
    for obj in obs.objects:
        if obj.seen is not None and (latest - obj.seen).total_seconds() > params.fresh_s:
            continue  # the tracker keeps it alive, but nothing has been seen of it lately: it may have left
        if obj.label in CONFIRMED_LABELS:
            evidence = state.tracks.get(obj.track_id)
            if evidence is None or not evidence.confirmed or not fits(params.shape, obj, obs.height):
                continue
            if params.zone_shapes:
                shapes = (zone_shape(params, rules.camera_id, zone.name)
                          for zone in zones_at(rules, object_point(obj, obs)))
                if not all(fits(shape, obj, obs.height) for shape in shapes if shape is not None):
                    continue
        kept.append(obj)
    return tuple(kept)
