"""``device_events.detail``: what the geo stage writes, the alert stage reads back as typed place and subject."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain.messages import Position
from store.event_detail import GeoRecord, event_place, geo_event

T0 = datetime(2026, 12, 5, 7, 0, tzinfo=UTC)
FIX = Position("bus-07-gps", T0, T0 + timedelta(seconds=2), 116.397, 39.909, "jt808", 42.0, 90.0)


def test_a_geo_event_is_placed_at_its_fix_and_owned_by_its_subject() -> None:
    record = GeoRecord("fence_entered", "bus-07-gps", "bus-07", T0, FIX,
                       {"fence_id": "school-zone", "confirmed_by": {"lon": 1.0, "lat": 2.0}, "since": T0})
    event = geo_event(record, T0 + timedelta(seconds=3))
    assert (event.device_id, event.kind, event.time) == ("bus-07-gps", "geo.fence_entered", T0)
    assert event.detail["fence_id"] == "school-zone" and event.detail["since"] == str(T0)  # as before: json default=str
    # The device's installed place (here far away) loses to the fix the event was decided on.
    assert event_place(event.kind, event.detail, 100.0, 30.0, event.device_id) == (116.397, 39.909, "bus-07")


def test_other_events_use_their_own_report_then_the_device() -> None:
    assert event_place("sos", {"lon": 116.1, "lat": 39.1}, 100.0, 30.0, "phone-1") == (116.1, 39.1, "phone-1")
    assert event_place("panic", {"action": "hold"}, 100.0, 30.0, "btn-1") == (100.0, 30.0, "btn-1")
    # Half a position, a boolean or a subject on a non-geo event are not taken.
    assert event_place("panic", {"lon": True, "lat": 1.0, "subject_id": "x"}, None, None, "btn-1") == (
        None, None, "btn-1")


def test_a_detail_no_stage_writes_places_the_event_at_its_device() -> None:
    assert event_place("geo.overspeed", "east", 1.0, 2.0, "t-1") == (1.0, 2.0, "t-1")
    assert event_place("geo.overspeed", {"position": {"lon": "east", "lat": 1}}, 1.0, 2.0, "t-1") == (1.0, 2.0, "t-1")
