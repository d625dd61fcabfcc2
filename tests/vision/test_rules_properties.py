"""Zone rules, properties over random observation streams: no event from nothing, cooldowns, bounded, pure."""

from __future__ import annotations

import datetime as dt
import itertools
from collections import defaultdict

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.vision.zone_helpers import WEDNESDAY_10AM, WEDNESDAY_10PM, obs, person, rules, thing
from vision.messages import Observation, TrackedObject, VisionEvent
from vision.rules import EMPTY_STATE, RuleParams, evaluate
from vision.zones import CameraRules

# Small thresholds, so short random streams reach every rule and its cooldown.
PARAMS = RuleParams(intrusion_min_s=1, crowd_max=2, crowd_min_s=1, loiter_s=5, fallen_s=2, object_min_frames=2,
                    object_window=3, grace_s=2, clear_s=3, cooldown_s=20, forget_s=6)
RELEVANT = ["person", "knife", "baseball bat", "cell phone", "cat", "dog", "bird"]
IRRELEVANT = ["mouse", "chair", "cup", "bicycle"]
LABELS_OF = {
    "intrusion": {"person"}, "crowding": {"person"}, "loitering": {"person"}, "person_down": {"person"},
    "knife_outside_kitchen": {"knife", "baseball bat"}, "phone_in_kitchen": {"cell phone"},
    "animal_in_kitchen": {"cat", "dog", "bird"},
}
CAMERAS = [rules(), rules([]), rules(place_kind="kitchen")]
coordinate = st.floats(0.0, 1.0, allow_nan=False)


@st.composite
def tracked(draw: st.DrawFn, labels: list[str]) -> TrackedObject:
    label, track_id = draw(st.sampled_from(labels)), draw(st.integers(0, 8))
    # Clustered positions, so zones fill up and crowds form, plus anywhere at all.
    x, y = draw(st.one_of(st.sampled_from([(0.15, 0.15), (0.5, 0.7), (0.85, 0.15), (0.15, 0.8)]),
                          st.tuples(coordinate, coordinate)))
    if label == "person":
        return person(track_id, x, y, draw(st.sampled_from([None, True, False])))
    return thing(label, track_id, x, y)


def streams(labels: list[str]) -> st.SearchStrategy[list[Observation]]:
    frame = st.tuples(st.floats(0.1, 8.0), st.lists(tracked(labels), max_size=6, unique_by=lambda o: o.track_id))

    @st.composite
    def build(draw: st.DrawFn) -> list[Observation]:
        start = draw(st.sampled_from([WEDNESDAY_10AM, WEDNESDAY_10PM]))
        # Runs of identical frames make conditions hold; the random gaps break them.
        runs = draw(st.lists(st.tuples(frame, st.integers(1, 12)), max_size=12))
        stream, t = [], 0.0
        for (gap, objects), repeat in runs:
            for _ in range(repeat):
                t += gap if repeat == 1 else min(gap, 1.0)
                stream.append(obs(t, *objects, start=start))
        return stream

    return build()


def feed(camera: CameraRules, stream: list[Observation]) -> list[tuple[Observation, list[VisionEvent]]]:
    state, out = EMPTY_STATE, []
    for observation in stream:
        state, events = evaluate(camera, PARAMS, state, observation)
        out.append((observation, events))
    return out


relaxed = settings(deadline=None, max_examples=100, suppress_health_check=[HealthCheck.too_slow])


@relaxed
@given(st.sampled_from(CAMERAS), streams(IRRELEVANT))
def test_nothing_fires_without_a_person_or_a_watched_object(camera: CameraRules, stream: list[Observation]) -> None:
    assert all(events == [] for _, events in feed(camera, stream))


@relaxed
@given(st.sampled_from(CAMERAS), streams(RELEVANT + IRRELEVANT))
def test_every_event_is_made_of_its_own_frames_objects(camera: CameraRules, stream: list[Observation]) -> None:
    for observation, events in feed(camera, stream):
        for event in events:
            assert event.time == observation.time
            assert event.camera_id == observation.camera_id
            assert event.boxes
            for box in event.boxes:
                assert any(o.box == box and o.label in LABELS_OF[event.kind] for o in observation.objects)


@relaxed
@given(st.sampled_from(CAMERAS), streams(RELEVANT))
def test_events_of_one_kind_and_zone_are_a_cooldown_apart(camera: CameraRules, stream: list[Observation]) -> None:
    times: dict[tuple[str, str | None], list[dt.datetime]] = defaultdict(list)
    for _, events in feed(camera, stream):
        for event in events:
            times[event.kind, event.zone].append(event.time)
    for fired in times.values():
        assert all((b - a).total_seconds() >= PARAMS.cooldown_s for a, b in itertools.pairwise(fired))


@relaxed
@given(st.sampled_from(CAMERAS), st.lists(tracked(RELEVANT), max_size=8, unique_by=lambda o: o.track_id),
       st.sampled_from([0.5, 1.0, 2.0]))
def test_one_unchanging_scene_makes_at_most_one_event_per_situation(
    camera: CameraRules, objects: list[TrackedObject], every: float
) -> None:
    stream = [obs(index * every, *objects) for index in range(int(120 / every))]
    fired = [(event.kind, event.zone) for _, events in feed(camera, stream) for event in events]
    assert len(fired) == len(set(fired))


@relaxed
@given(st.sampled_from(CAMERAS), streams(RELEVANT + IRRELEVANT))
def test_state_stays_bounded(camera: CameraRules, stream: list[Observation]) -> None:
    state = EMPTY_STATE
    for index, observation in enumerate(stream):
        state, _ = evaluate(camera, PARAMS, state, observation)
        now = observation.time
        recent_people = {o.track_id for seen in stream[: index + 1] if (now - seen.time).total_seconds()
                         <= PARAMS.forget_s for o in seen.objects if o.label == "person"}
        assert {track.track_id for track in state.tracks} <= recent_people
        assert all(len(track.visits) <= len(camera.zones) for track in state.tracks)
        assert len(state.situations) <= len(LABELS_OF) * (len(camera.zones) + 1)
        assert all(len(situation.recent) <= PARAMS.object_window for situation in state.situations)


@relaxed
@given(st.sampled_from(CAMERAS), streams(RELEVANT + IRRELEVANT))
def test_evaluate_is_deterministic(camera: CameraRules, stream: list[Observation]) -> None:
    first, second = feed(camera, stream), feed(camera, stream)
    assert first == second
    state = EMPTY_STATE
    for observation in stream:
        again = evaluate(camera, PARAMS, state, observation)
        state, events = evaluate(camera, PARAMS, state, observation)
        assert again == (state, events)
