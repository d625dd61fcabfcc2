"""CAP 1.2 rendering, parsed back and checked against the spec's elements, order and value lists; and delivery."""

from __future__ import annotations

import re
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from alerts.notifiers import build_notifier
from alerts.notifiers.cap import CAP_NS, CapConfig, category, render_cap
from alerts.notifiers.webhook import verify_signature
from devtools.devservices import free_port
from tests.alerts.test_notifiers import FAST, SECRET, notification

NS = {"cap": CAP_NS}
# Element sequences from the CAP 1.2 schema (OASIS CAP-v1.2.xsd); optional ones may be left out, none reordered.
ALERT_ORDER = ["identifier", "sender", "sent", "status", "msgType", "source", "scope", "restriction", "addresses",
               "code", "note", "references", "incidents", "info"]
INFO_ORDER = ["language", "category", "event", "responseType", "urgency", "severity", "certainty", "audience",
              "eventCode", "effective", "onset", "expires", "senderName", "headline", "description", "instruction",
              "web", "contact", "parameter", "resource", "area"]
AREA_ORDER = ["areaDesc", "polygon", "circle", "geocode", "altitude", "ceiling"]
REQUIRED = {
    "alert": {"identifier", "sender", "sent", "status", "msgType", "scope"},
    "info": {"category", "event", "urgency", "severity", "certainty"},
    "area": {"areaDesc"},
}
VALUES = {
    "status": {"Actual", "Exercise", "System", "Test", "Draft"},
    "msgType": {"Alert", "Update", "Cancel", "Ack", "Error"},
    "scope": {"Public", "Restricted", "Private"},
    "category": {"Geo", "Met", "Safety", "Security", "Rescue", "Fire", "Health", "Env", "Transport", "Infra",
                 "CBRNE", "Other"},
    "responseType": {"Shelter", "Evacuate", "Prepare", "Execute", "Avoid", "Monitor", "Assess", "AllClear", "None"},
    "urgency": {"Immediate", "Expected", "Future", "Past", "Unknown"},
    "severity": {"Extreme", "Severe", "Moderate", "Minor", "Unknown"},
    "certainty": {"Observed", "Likely", "Possible", "Unlikely", "Unknown"},
}
T1 = datetime(2024, 9, 2, 7, 35, tzinfo=UTC)
CAP_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[-+]\d{2}:\d{2}$")


def config(**changes: Any) -> CapConfig:
    return CapConfig.model_validate({"type": "cap", "sender": "safety@antelope.example.org",
                                     "directory": "/tmp/unused", **changes})


def parse(document: bytes) -> ET.Element:
    assert document.startswith(b"<?xml")
    return ET.fromstring(document)


def local(element: ET.Element) -> str:
    namespace, _, name = element.tag[1:].partition("}")
    assert namespace == CAP_NS, f"{element.tag} is outside the CAP 1.2 namespace"
    return name


def assert_follows_spec(element: ET.Element, order: list[str], required: set[str]) -> None:
    names = [local(child) for child in element]
    assert set(names) <= set(order), f"unknown elements {set(names) - set(order)}"
    positions = [order.index(n) for n in names]
    assert positions == sorted(positions), f"out of order: {names}"
    assert required <= set(names), f"missing {required - set(names)}"
    for child in element:
        if local(child) in VALUES:
            assert child.text in VALUES[local(child)], f"{local(child)}={child.text}"


def text(element: ET.Element, path: str) -> str:
    found = element.findtext(path, namespaces=NS)
    assert found is not None, path
    return found


@pytest.mark.parametrize("event", ["raised", "escalated", "acknowledged", "resolved"])
@pytest.mark.parametrize("drill", [False, True])
def test_every_message_follows_the_spec(event: str, drill: bool) -> None:
    alert = parse(render_cap(notification(event=event, drill=drill), config(sender_name="Antelope USD")))
    assert local(alert) == "alert"
    assert_follows_spec(alert, ALERT_ORDER, REQUIRED["alert"])
    [info] = alert.findall("cap:info", NS)
    assert_follows_spec(info, INFO_ORDER, REQUIRED["info"])
    [area] = info.findall("cap:area", NS)
    assert_follows_spec(area, AREA_ORDER, REQUIRED["area"])
    assert CAP_TIME.match(text(alert, "cap:sent"))
    assert CAP_TIME.match(text(info, "cap:onset"))
    assert not re.search(r"[\s,<&]", text(alert, "cap:identifier"))
    assert text(alert, "cap:status") == ("Exercise" if drill else "Actual")
    expected_type = {"raised": "Alert", "escalated": "Update", "acknowledged": "Update", "resolved": "Cancel"}
    assert text(alert, "cap:msgType") == expected_type[event]
    # Update and Cancel must say which message they update: CAP requires references for them.
    assert (alert.find("cap:references", NS) is not None) == (event != "raised")


def test_the_first_message_is_what_later_ones_reference() -> None:
    cfg = config()
    raised = parse(render_cap(notification(event="raised"), cfg))
    resolved = parse(render_cap(notification(event="resolved", at=datetime(2024, 9, 2, 8, 5, tzinfo=UTC)), cfg))
    sender, identifier, sent = text(resolved, "cap:references").split(",")
    assert (sender, identifier, sent) == (text(raised, "cap:sender"), text(raised, "cap:identifier"),
                                          text(raised, "cap:sent"))
    assert text(raised, "cap:sent") == "2024-09-02T07:30:00-00:00"  # no fraction, UTC as -00:00
    assert text(resolved, "cap:sent") == "2024-09-02T08:05:00-00:00"
    assert text(resolved, "cap:info/cap:urgency") == "Past"
    assert text(resolved, "cap:info/cap:responseType") == "AllClear"
    assert text(raised, "cap:incidents") == text(resolved, "cap:incidents")
    assert text(raised, "cap:identifier") != text(resolved, "cap:identifier")


@pytest.mark.parametrize(
    ("ours", "severity", "urgency"),
    [("critical", "Extreme", "Immediate"), ("high", "Severe", "Immediate"), ("medium", "Moderate", "Expected"),
     ("low", "Minor", "Future"), ("info", "Minor", "Future")],
)
def test_severity_and_urgency_mapping(ours: str, severity: str, urgency: str) -> None:
    info = parse(render_cap(notification(severity=ours), config())).find("cap:info", NS)
    assert info is not None
    assert (text(info, "cap:severity"), text(info, "cap:urgency")) == (severity, urgency)


def test_info_content_and_area() -> None:
    alert = parse(render_cap(notification(), config(radius_km=0.25)))
    info = alert.find("cap:info", NS)
    assert info is not None
    assert text(info, "cap:headline") == "Panic button pressed: front office"
    assert text(info, "cap:description") == "Office panic button 1 pressed twice."
    assert text(info, "cap:certainty") == "Observed"  # a person pressed it
    assert text(info, "cap:area/cap:areaDesc") == "Antelope Park Elementary"
    assert text(info, "cap:area/cap:circle") == "38.581600,-121.494400 0.25"
    params = {text(p, "cap:valueName"): text(p, "cap:value") for p in info.findall("cap:parameter", NS)}
    assert params["campusguard:incidentId"] == "42"
    assert text(alert, "cap:scope") == "Restricted" and alert.find("cap:restriction", NS) is not None

    public = parse(render_cap(notification(lon=None, lat=None, type="route_deviation"), config(scope="Public")))
    assert public.find("cap:restriction", NS) is None
    assert public.find("cap:info/cap:area/cap:circle", NS) is None
    assert text(public, "cap:info/cap:certainty") == "Likely"  # a rule's detection
    assert text(public, "cap:info/cap:event") == "Route deviation"


@pytest.mark.parametrize(
    ("incident_type", "expected"),
    [("panic", "Security"), ("weapon_detected", "Security"), ("smoke_alarm", "Fire"), ("route_deviation", "Transport"),
     ("overspeed", "Transport"), ("medical_emergency", "Health"), ("freezer_warm", "Safety")],
)
def test_category_from_the_incident_type(incident_type: str, expected: str) -> None:
    assert category(incident_type, config()) == expected


def test_category_override_and_config_checks() -> None:
    assert category("freezer_warm", config(categories={"freezer_warm": "Health"})) == "Health"
    with pytest.raises(ValidationError, match="exactly one of url and directory"):
        CapConfig.model_validate({"type": "cap", "sender": "s@example.org"})
    with pytest.raises(ValidationError):
        config(sender="has space")
    with pytest.raises(ValidationError):
        config(categories={"x": "Weather"})


def test_notifier_writes_one_file_per_message(tmp_path: Path) -> None:
    out = tmp_path / "out"
    notifier = build_notifier({"type": "cap", "sender": "safety@antelope.example.org", "directory": str(out),
                               "retry": FAST})
    assert notifier.send(notification()).ok
    assert notifier.send(notification(event="acknowledged", at=T1)).ok
    files = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert files == ["campusguard-incident-42-acknowledged-20240902T073500Z.xml",
                     "campusguard-incident-42-raised-20240902T073000Z.xml"]
    assert_follows_spec(parse((tmp_path / "out" / files[1]).read_bytes()), ALERT_ORDER, REQUIRED["alert"])


@pytest.fixture
def cap_receiver() -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    got: list[tuple[dict[str, str], bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            got.append((dict(self.headers.items()), self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # quiet: pytest would show it as noise
            pass

    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}/cap", got
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_notifier_posts_signed_xml(cap_receiver: tuple[str, list[tuple[dict[str, str], bytes]]]) -> None:
    url, got = cap_receiver
    with build_notifier({"type": "cap", "sender": "safety@antelope.example.org", "url": url, "secret": SECRET,
                         "retry": FAST}) as notifier:
        assert notifier.send(notification()).ok
    [(headers, body)] = got
    assert headers["Content-Type"].startswith("application/xml")
    assert verify_signature(SECRET, headers["X-Campusguard-Timestamp"], body, headers["X-Campusguard-Signature"],
                            datetime.now(UTC))
    assert local(parse(body)) == "alert"
