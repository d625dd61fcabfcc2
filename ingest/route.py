"""Decode → validate → enrich, as one pure function over a batch of spooled envelopes.

Each envelope goes through the ordered handlers (decode, resolve the device, turn into domain messages); a
handler that refuses an envelope sends it to the dead letters and never stops the batch. Nothing here does
I/O, so the whole stage is tested without servers and replayed deterministically.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from domain.messages import DeadLetter, DeviceEvent, PanicPressed, Position, SensorReading
from ingest.decoders import STREAM_REGISTRY, Limits, decode_osmand_request, decoder_for_topic
from ingest.decoders.campusguard import topic_school
from ingest.decoders.gt06 import VIA_GT06
from ingest.directory import DeviceInfo, Directory
from ingest.messages import (
    ButtonPress,
    Decoded,
    DeviceAlarm,
    Fix,
    Heartbeat,
    OriginReason,
    Reading,
    Rejection,
    RejectReason,
)
from ingest.spool import Envelope, Spooled
from store.ingest_repo import Touch, UnregisteredHit

# Envelope.source values: which listener received it.
VIA_MQTT = "mqtt"
VIA_OSMAND_HTTP = "osmand-http"
VIA_JT808 = "jt808-tcp"
# The TCP listeners' envelope sources, and the stream decoder of each (ingest/tcp/, ingest/decoders/).
VIA_STREAM = {VIA_JT808: "jt808", VIA_GT06: "gt06"}


@dataclass(slots=True)
class Routed:
    """What one batch of envelopes turned into, ready to commit."""

    last_seq: int = 0
    positions: list[Position] = field(default_factory=list)
    events: list[DeviceEvent] = field(default_factory=list)
    readings: list[SensorReading] = field(default_factory=list)
    panics: list[PanicPressed] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    unregistered: dict[tuple[str, str], UnregisteredHit] = field(default_factory=dict)
    touches: dict[str, Touch] = field(default_factory=dict)
    # Each device's newest arrival and battery while the batch is routed; route_batch makes them touches at the
    # end, rather than a new Touch for every message.
    seen: dict[str, tuple[datetime, float | None]] = field(default_factory=dict)
    decoded: int = 0
    by_source: dict[str, int] = field(default_factory=dict)


def osmand_topic(query: str, content_type: str, refused: Rejection | None = None) -> str:
    """Write the topic of an OsmAnd request's envelope: its query, content type and any verdict, a line each.

    A request the listener refused carries the verdict, so the writer dead-letters it with that reason
    (see :func:`decode`). A URL and a header cannot hold a line break, and verdicts are ours.
    """
    lines = [query, content_type]
    if refused is not None:
        lines.append(f"{refused.reason.value} {refused.message}".replace("\n", " "))
    return "\n".join(lines)


def decode(envelope: Envelope, limits: Limits) -> list[Decoded]:
    """Decode one envelope with the decoder its listener and topic call for; raises Rejection."""
    if envelope.source == VIA_OSMAND_HTTP:
        # A third line is the listener's verdict on a request it refused (older envelopes have two lines).
        query, _, rest = envelope.topic.partition("\n")
        content_type, _, verdict = rest.partition("\n")
        if verdict:
            reason, _, message = verdict.partition(" ")
            known = {r.value: r for r in (*RejectReason, *OriginReason)}
            # A reason of a newer version, read by an older writer, is still dead-lettered.
            raise Rejection(known.get(reason, RejectReason.UNSUPPORTED_MESSAGE), message)
    if len(envelope.payload) > limits.max_payload_bytes:
        raise Rejection(RejectReason.OVERSIZED,
                        f"{len(envelope.payload)} bytes is over the {limits.max_payload_bytes}-byte limit")
    if envelope.source in VIA_STREAM:
        stream = STREAM_REGISTRY[VIA_STREAM[envelope.source]]
        return stream.decode(envelope.topic, envelope.payload, envelope.received_at, limits)
    if envelope.source == VIA_OSMAND_HTTP:
        return decode_osmand_request("POST" if envelope.payload else "GET", query, content_type or None,
                                     envelope.payload, envelope.received_at, limits)
    decoder = decoder_for_topic(envelope.topic)
    if decoder is None:
        raise Rejection(RejectReason.UNKNOWN_TOPIC, f"no decoder subscribes to {envelope.topic!r}")
    return decoder.decode(envelope.topic, envelope.payload, envelope.received_at, limits)


def panics_in(decoded: Sequence[Decoded], directory: Directory, maybe_copy: bool = False) -> list[PanicPressed]:
    """Pick the panic presses out of decoded messages; the fast path calls it before anything is spooled."""
    found = []
    for message in decoded:
        if isinstance(message, ButtonPress):
            device = directory.lookup(message.source, message.external_id)
            if device is not None and device.is_panic(message.action):
                found.append(PanicPressed(device.device_id, device.school_id, message.time, message.received_at,
                                          message.action, message.source, message.lon, message.lat, message.digest,
                                          maybe_copy))
    return found


def route_batch(batch: Sequence[Spooled], directory: Directory, limits: Limits,
                decoder: Callable[[Envelope, Limits], list[Decoded]] = decode) -> Routed:
    """Route a batch of spooled envelopes; never raises for bad input."""
    out = Routed()
    for item in batch:
        envelope = item.envelope
        out.last_seq = max(out.last_seq, item.seq)
        try:
            messages = decoder(envelope, limits)
        except Rejection as rejection:
            out.dead_letters.append(DeadLetter(envelope.received_at, envelope.source, envelope.topic,
                                               rejection.reason.value, rejection.message, envelope.payload))
            continue
        misfiled = _misfiled(envelope, messages, directory)
        if misfiled is not None:
            mismatch, device = misfiled
            # Never stored, but for a panic: that is still raised, for the device's own school (docs/mqtt.md).
            messages = [m for m in messages if isinstance(m, ButtonPress) and device.is_panic(m.action)]
            note = f"; its panic was raised for {device.school_id} all the same" if messages else ""
            out.dead_letters.append(DeadLetter(envelope.received_at, envelope.source, envelope.topic,
                                               mismatch.reason.value, mismatch.message + note, envelope.payload))
        for message in messages:
            _route_one(message, envelope, directory, out)
    out.touches = {device: Touch(device, seen_at, battery) for device, (seen_at, battery) in out.seen.items()}
    return out


def _misfiled(envelope: Envelope, messages: Sequence[Decoded],
              directory: Directory) -> tuple[Rejection, DeviceInfo] | None:
    """Find a message of our schema under another school's topic than its device's own."""
    school = topic_school(envelope.topic) if envelope.source == VIA_MQTT else None
    if school is None:
        return None
    for message in messages:
        device = directory.lookup(message.source, message.external_id)
        # A device of no school (the phone of someone scoped above schools) has no topic of its own to check.
        if device is not None and device.school_id is not None and device.school_id != school:
            return Rejection(OriginReason.SCHOOL_MISMATCH,
                             f"device {device.device_id} belongs to {device.school_id}, not to {school} of the "
                             f"topic"), device
    return None


def _route_one(message: Decoded, envelope: Envelope, directory: Directory, out: Routed) -> None:
    out.decoded += 1
    out.by_source[message.source] = out.by_source.get(message.source, 0) + 1
    device = directory.lookup(message.source, message.external_id)
    if device is None:
        key = (message.source, message.external_id)
        seen = envelope.received_at
        hit = out.unregistered.get(key)
        out.unregistered[key] = UnregisteredHit(
            message.source, message.external_id, hit.first_seen if hit else seen, seen,
            (hit.messages if hit else 0) + 1, envelope.topic)
        return
    battery = None if isinstance(message, Reading | DeviceAlarm) else message.battery_pct
    previous = out.seen.get(device.device_id)
    went_quiet = isinstance(message, Heartbeat) and message.detail.get("availability") == "offline"
    if not went_quiet and (previous is None or previous[0] <= envelope.received_at):
        out.seen[device.device_id] = (
            envelope.received_at, battery if battery is not None else (previous[1] if previous else None))
    if isinstance(message, Fix):
        out.positions.append(Position(
            device.device_id, message.time, message.received_at, message.lon, message.lat, message.source,
            message.speed_kmh, message.heading_deg, message.altitude_m, message.accuracy_m, message.battery_pct,
            message.backlog))
    elif isinstance(message, ButtonPress):
        if device.is_panic(message.action):
            out.panics.append(PanicPressed(device.device_id, device.school_id, message.time, message.received_at,
                                           message.action, message.source, message.lon, message.lat, message.digest,
                                           envelope.maybe_copy))
        else:
            out.events.append(DeviceEvent(device.device_id, message.time, "button", message.received_at,
                                          {"action": message.action}))
    elif isinstance(message, Reading):
        out.readings.append(SensorReading(device.device_id, message.time, message.metric, message.value,
                                          message.received_at))
        if message.metric == "smoke" and message.value >= 1:
            # A smoke detector's alarm is an event for the alert stage, not only a reading for the charts.
            out.events.append(DeviceEvent(device.device_id, message.time, "smoke", message.received_at,
                                          {"value": message.value}))
    elif isinstance(message, DeviceAlarm):
        # A terminal's own alarm (JT/T 808's alarm word): once per raising edge, keyed like any event.
        out.events.append(DeviceEvent(device.device_id, message.time, f"alarm.{message.alarm}", message.received_at,
                                      {"source": message.source, **message.detail}))
    elif went_quiet:
        # Zigbee2MQTT's own availability check: the coordinator says the device went quiet.
        out.events.append(DeviceEvent(device.device_id, message.time, "availability_offline",
                                      message.received_at, {"source": message.source}))

