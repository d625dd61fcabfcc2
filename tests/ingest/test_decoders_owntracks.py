"""OwnTracks: location messages as the OwnTracks JSON booklet (tech/json) documents them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ingest.decoders import REGISTRY, decoder_for_topic
from ingest.decoders.owntracks import decode
from ingest.messages import Fix, Rejection, RejectReason
from tests.ingest.helpers import LIMITS, ONE_MINUTE_AGO_EPOCH, RECEIVED_AT, assert_valid, js

TOPIC = "owntracks/jane/phone"
BOOKLET_TST = datetime(2013, 8, 17, 4, 55, 17, tzinfo=UTC)  # tst 1376715317, the booklet's example
BOOKLET_RECEIVED = BOOKLET_TST + timedelta(seconds=20)


def test_registered_under_its_source_name_with_its_topic_filter() -> None:
    assert REGISTRY["owntracks"].topic_filters == ("owntracks/+/+",)
    assert decoder_for_topic(TOPIC) is REGISTRY["owntracks"]
    assert decoder_for_topic("owntracks/jane/phone/cmd") is None


def test_booklet_location_example() -> None:
    # The booklet's example location, with its placeholders filled in.
    payload = js({"_type": "location", "acc": 75, "alt": 13, "batt": 87, "cog": 270, "lat": 52.3731, "lon": 4.8922,
                  "rad": 50, "t": "c", "tid": "YY", "tst": 1376715317, "vac": 10, "vel": 54, "p": 101.3,
                  "bs": 1, "conn": "w", "inregions": ["Home"], "created_at": 1376715327})
    assert decode(TOPIC, payload, BOOKLET_RECEIVED, LIMITS) == [
        Fix("owntracks", "jane/phone", BOOKLET_TST, 4.8922, 52.3731, 54.0, 270.0, 13.0, 75.0, 87.0, BOOKLET_RECEIVED)
    ]


def test_greenwich_example_without_battery_or_accuracy() -> None:
    # The booklet's Choral Greenwich example (tst 1406803894): vel is km/h like the apps'.
    received = datetime(2014, 7, 31, 10, 52, tzinfo=UTC)
    payload = js({"_type": "location", "alt": 160, "cog": 0, "dist": 189, "trip": 279122, "lat": 45.4642,
                  "lon": 9.19, "vel": 12, "t": "t", "tst": 1406803894})
    [fix] = decode("owntracks/choral/greenwich", payload, received, LIMITS)
    assert fix == Fix("owntracks", "choral/greenwich", datetime(2014, 7, 31, 10, 51, 34, tzinfo=UTC), 9.19, 45.4642,
                      12.0, 0.0, 160.0, None, None, received)


def test_minimal_location() -> None:
    payload = js({"_type": "location", "lat": 40.8136, "lon": -96.7026, "tst": ONE_MINUTE_AGO_EPOCH})
    assert decode(TOPIC, payload, RECEIVED_AT, LIMITS) == [
        Fix("owntracks", "jane/phone", RECEIVED_AT - timedelta(minutes=1), -96.7026, 40.8136, None, None, None,
            None, None, RECEIVED_AT)
    ]


@pytest.mark.parametrize("trigger", ["u", "p", "c", "b", "r", "t", "v", "a"])
def test_every_trigger_is_still_a_fix_manual_included(trigger: str) -> None:
    payload = js({"_type": "location", "lat": 40.8, "lon": -96.7, "tst": ONE_MINUTE_AGO_EPOCH, "t": trigger})
    [fix] = decode(TOPIC, payload, RECEIVED_AT, LIMITS)
    assert isinstance(fix, Fix)
    assert_valid([fix])


def test_transition_on_the_event_subtopic_is_unsupported() -> None:
    payload = js({"_type": "transition", "wtst": 1425042603, "lat": 12.34, "lon": 44.5, "tst": ONE_MINUTE_AGO_EPOCH,
                  "acc": 130, "tid": "JP", "event": "enter", "desc": "my Indian restaurant", "t": "b"})
    with pytest.raises(Rejection) as refused:
        decode("owntracks/jane/phone/event", payload, RECEIVED_AT, LIMITS)
    assert refused.value.reason is RejectReason.UNSUPPORTED_MESSAGE


def test_lwt_is_unsupported() -> None:
    with pytest.raises(Rejection) as refused:
        decode(TOPIC, js({"_type": "lwt", "tst": 1380738247}), RECEIVED_AT, LIMITS)
    assert refused.value.reason is RejectReason.UNSUPPORTED_MESSAGE


def test_encrypted_says_encryption_is_not_configured() -> None:
    with pytest.raises(Rejection) as refused:
        decode(TOPIC, js({"_type": "encrypted", "data": "b2Zmb3Vy"}), RECEIVED_AT, LIMITS)
    assert refused.value.reason is RejectReason.UNSUPPORTED_MESSAGE
    assert "encryption is not configured" in refused.value.message
