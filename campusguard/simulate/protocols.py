"""Payload builders: a simulated report in the exact bytes a real device of its ``source`` sends.

- ``campusguard``: ``campusguard/v1/{school}/gps/{device}`` (fixes) and ``.../panic/{device}`` (button
  actions, e.g. the driver's ``child_check``), JSON with ISO-8601 ``ts``;
- ``owntracks``: ``owntracks/{user}/{device}``, a ``_type: location`` with integer ``tst``, ``vel`` (km/h),
  ``cog``, ``acc``, ``alt`` and ``batt``, as the app writes them;
- ``zigbee2mqtt``: ``zigbee2mqtt/{friendly name}`` with ``action``, ``battery``, ``linkquality`` and
  ``voltage``, followed, as Zigbee2MQTT does, by ``{"action": ""}``;
- ``osmand``: a GET of ``/?id=...&timestamp=...&lat=...&lon=...&speed=...`` with the speed in knots, as
  Traccar Client sends it; a button action rides along as ``alarm``.

The tests decode every one of these with ingest's own decoders (docs/mqtt.md is the contract).
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

from campusguard.simulate.model import HttpRequest, MqttMessage, Outgoing, SimFix, SimPress, SimReport

KNOTS_PER_KMH = 1 / 1.852
FIX_QOS = 1
"""Fixes at QoS 1 too: they are what the geo rules judge, and paho keeps them through a reconnect."""
PRESS_QOS = 1


def _json(body: dict[str, object]) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def encode(report: SimReport) -> list[Outgoing]:
    """Return what the device sends for a report (empty when its protocol cannot say it)."""
    source = report.device.source
    if isinstance(report, SimFix):
        if source == "campusguard":
            return [campusguard_gps(report)]
        if source == "owntracks":
            return [owntracks_location(report)]
        if source == "osmand":
            return [osmand_fix(report)]
        return []
    if source == "campusguard":
        return [campusguard_press(report)]
    if source == "zigbee2mqtt":
        return zigbee2mqtt_press(report)
    if source == "osmand":
        return [osmand_alarm(report)]
    return []  # OwnTracks has no button


def campusguard_gps(fix: SimFix) -> MqttMessage:
    """Build a fix in our own schema."""
    body: dict[str, object] = {"ts": fix.time.isoformat(), "lat": fix.lat, "lon": fix.lon,
                               "speed_kmh": fix.speed_kmh, "heading": fix.heading_deg, "alt": fix.altitude_m,
                               "acc": fix.accuracy_m}
    if fix.battery_pct is not None:
        body["batt"] = fix.battery_pct
    return MqttMessage(f"campusguard/v1/{fix.device.school_id}/gps/{fix.device.id}", _json(body), FIX_QOS)


def campusguard_press(press: SimPress) -> MqttMessage:
    """Build a button action in our own schema (the ``panic`` kind carries every action; ingest sorts them)."""
    body: dict[str, object] = {"ts": press.time.isoformat(), "action": press.action}
    if press.lon is not None and press.lat is not None:
        body.update(lat=press.lat, lon=press.lon)
    return MqttMessage(f"campusguard/v1/{press.device.school_id}/panic/{press.device.id}", _json(body), PRESS_QOS)


def owntracks_location(fix: SimFix) -> MqttMessage:
    """Build an OwnTracks location; the app writes whole numbers for everything but lat/lon."""
    external = fix.device.external_id or ""
    user = external.split("/")[0]
    body: dict[str, object] = {"_type": "location", "lat": fix.lat, "lon": fix.lon, "tst": int(fix.time.timestamp()),
                               "vel": round(fix.speed_kmh), "cog": round(fix.heading_deg) % 360,
                               "acc": round(fix.accuracy_m), "alt": round(fix.altitude_m), "tid": user[:2].upper(),
                               "t": "t" if fix.speed_kmh > 0 else "p", "conn": "m"}
    if fix.battery_pct is not None:
        body["batt"] = round(fix.battery_pct)
    return MqttMessage(f"owntracks/{external}", _json(body), FIX_QOS)


def zigbee2mqtt_press(press: SimPress, battery: int = 97, linkquality: int = 120) -> list[Outgoing]:
    """Build a Zigbee button's action, then the empty action Zigbee2MQTT publishes right after it."""
    topic = f"zigbee2mqtt/{press.device.external_id}"
    body = {"action": press.action, "battery": battery, "linkquality": linkquality, "voltage": 3025}
    return [MqttMessage(topic, _json(body), PRESS_QOS),
            MqttMessage(topic, _json({"action": "", "battery": battery, "linkquality": linkquality}), PRESS_QOS)]


def _osmand_params(device_id: str, fix: SimFix | None, when: float) -> dict[str, str]:
    params = {"id": device_id, "timestamp": str(int(when))}
    if fix is not None:
        params.update(lat=f"{fix.lat:.7f}", lon=f"{fix.lon:.7f}", speed=f"{fix.speed_kmh * KNOTS_PER_KMH:.2f}",
                      bearing=f"{fix.heading_deg:.1f}", altitude=f"{fix.altitude_m:.1f}",
                      accuracy=f"{fix.accuracy_m:.1f}")
        if fix.battery_pct is not None:
            params["batt"] = f"{fix.battery_pct:.0f}"
    return params


def osmand_fix(fix: SimFix) -> HttpRequest:
    """Build a Traccar Client position as query parameters (speed in knots)."""
    return HttpRequest(urlencode(_osmand_params(fix.device.external_id or fix.device.id, fix, fix.time.timestamp())))


def osmand_alarm(press: SimPress) -> HttpRequest:
    """Build a Traccar Client request carrying a button action as ``alarm``, with the fix when there is one."""
    params = _osmand_params(press.device.external_id or press.device.id, None, press.time.timestamp())
    if press.lon is not None and press.lat is not None:
        params.update(lat=f"{press.lat:.7f}", lon=f"{press.lon:.7f}")
    params["alarm"] = press.action
    return HttpRequest(urlencode(params))
