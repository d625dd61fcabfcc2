"""OwnTracks location messages on ``owntracks/{user}/{device}``, as the OwnTracks JSON booklet defines them.

Only ``_type: location`` carries a fix we use; its fields (booklet, tech/json): ``lat``/``lon`` degrees,
``tst`` epoch seconds of the fix, ``vel`` km/h, ``cog`` degrees, ``alt`` and ``acc`` metres, ``batt``
percent. ``created_at`` (when the message was built), ``t`` (trigger: ``p`` ping, ``u`` manual, ``c``
region...), ``tid``, ``bs``, ``conn``, ``vac`` and the rest are not needed: every trigger is still a fix.
Every other ``_type`` (transition, waypoint, lwt, card, status, cmd...) is refused as unsupported so that it
lands in the dead letters with that reason.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Final

from ingest.decoders.common import (
    Limits,
    check_accuracy,
    check_altitude,
    check_battery,
    check_heading,
    check_position,
    check_speed,
    check_window,
    epoch_to_time,
    optional_number,
    parse_json_object,
    require_number,
    require_str,
    require_utc,
)
from ingest.messages import SOURCE_OWNTRACKS, Decoded, Fix, Rejection, RejectReason

NAME: Final = SOURCE_OWNTRACKS
# Locations and LWTs go to owntracks/user/device; subtopics (event, cmd, waypoint, info...) carry nothing we use.
TOPIC_FILTERS: Final = ("owntracks/+/+",)

# The site file's rule for an owntracks external_id ("user/device"), without control characters.
_LEVEL: Final = re.compile(r"[^\s/\x00-\x1f\x7f]{1,64}")


def decode(topic: str, payload: bytes, received_at: datetime, limits: Limits) -> list[Decoded]:
    """Decode one OwnTracks message into a fix, or raise Rejection."""
    require_utc(received_at)
    external_id = _external_id(topic)
    body = parse_json_object(payload, limits)
    message_type = require_str(body, "_type")
    if message_type == "encrypted":
        raise Rejection(
            RejectReason.UNSUPPORTED_MESSAGE,
            "OwnTracks payload encryption is not configured here; turn off the app's encryption key",
        )
    if message_type != "location":
        raise Rejection(RejectReason.UNSUPPORTED_MESSAGE, f"OwnTracks _type {message_type[:32]!r} carries no fix")
    lat, lon = check_position(require_number(body, "lat"), require_number(body, "lon"))
    time = check_window(epoch_to_time(require_number(body, "tst"), "tst"), received_at, limits, "tst")
    fix = Fix(
        source=NAME,
        external_id=external_id,
        time=time,
        lon=lon,
        lat=lat,
        speed_kmh=check_speed(optional_number(body, "vel")),
        heading_deg=check_heading(optional_number(body, "cog")),
        altitude_m=check_altitude(optional_number(body, "alt")),
        accuracy_m=check_accuracy(optional_number(body, "acc")),
        battery_pct=check_battery(optional_number(body, "batt")),
        received_at=received_at,
    )
    return [fix]


def _external_id(topic: str) -> str:
    # A subtopic such as owntracks/user/device/event still names its device; the payload's _type decides.
    levels = topic.split("/")
    if len(levels) < 3 or levels[0] != "owntracks" or not all(_LEVEL.fullmatch(level) for level in levels[1:3]):
        raise Rejection(RejectReason.UNKNOWN_TOPIC, f"expected owntracks/{{user}}/{{device}}: {topic[:120]}")
    return f"{levels[1]}/{levels[2]}"
