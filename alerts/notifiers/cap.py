"""CAP notifier: the notification as an OASIS Common Alerting Protocol 1.2 message, POSTed or written to a folder.

CAP is what public-warning systems, county emergency operations centres and many PA/siren controllers take in.
:func:`render_cap` is pure; elements follow the schema's sequence order (``alert``: identifier, sender, sent,
status, msgType, scope, restriction, note, references, incidents, info; ``info``: language, category, event,
responseType, urgency, severity, certainty, eventCode, onset, senderName, headline, description, contact,
parameter, area; ``area``: areaDesc, circle).

Messages about one incident are tied together without stored state: the "raised" message is identified by
the incident id and its opening time and is ``sent`` at ``opened_at``, so every later Update or Cancel can
name it in ``references``, and all carry the incident in ``incidents``.
"""

from __future__ import annotations

import os
import tempfile
import uuid
import xml.etree.ElementTree as ET  # we only build XML here, never parse untrusted input
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, Literal, Self

from pydantic import AnyHttpUrl, Field, SecretStr, model_validator

from alerts.notifiers.base import Notification, Notifier, NotifierConfigBase, RetryableError, Severity
from alerts.notifiers.webhook import DELIVERY_HEADER, http_client, post, signed_headers

CAP_NS: Final = "urn:oasis:names:tc:emergency:cap:1.2"
CapCategory = Literal[
    "Geo", "Met", "Safety", "Security", "Rescue", "Fire", "Health", "Env", "Transport", "Infra", "CBRNE", "Other"
]

# CAP "Unknown" means the sender cannot judge severity, not "informational", so info maps to Minor.
CAP_SEVERITY: Final[Mapping[Severity, str]] = {
    "critical": "Extreme", "high": "Severe", "medium": "Moderate", "low": "Minor", "info": "Minor",
}
CAP_URGENCY: Final[Mapping[Severity, str]] = {
    "critical": "Immediate", "high": "Immediate", "medium": "Expected", "low": "Future", "info": "Future",
}
CAP_MSG_TYPE: Final = {"raised": "Alert", "escalated": "Update", "acknowledged": "Update", "resolved": "Cancel"}
# When the incident type is not in the config's map, the first keyword found in it decides the category.
_CATEGORY_KEYWORDS: Final[tuple[tuple[tuple[str, ...], CapCategory], ...]] = (
    (("fire", "smoke"), "Fire"),
    (("medical", "health", "injur"), "Health"),
    (("bus", "route", "speed", "stop", "transport", "vehicle"), "Transport"),
    (("panic", "sos", "intru", "weapon", "lockdown", "trespass", "fence", "camera", "person"), "Security"),
)
# Types raised by a person (a button pressed, an SOS sent) are observed; rule detections are likely.
_OBSERVED_KEYWORDS: Final = ("panic", "sos", "manual", "report")


class CapConfig(NotifierConfigBase):
    """Render each notification as CAP 1.2 and POST it, or write it to a folder that a gateway watches."""

    type: Literal["cap"] = Field(description="Selects the CAP notifier.")
    sender: str = Field(
        pattern=r"^[^\s,<&]+$", description="CAP sender: a unique id of this system, e.g. safety@district.example.org."
    )
    sender_name: str | None = Field(None, description="Human-readable issuer, e.g. 'Antelope USD Safety Office'.")
    identifier_prefix: str = Field(
        "campusguard", pattern=r"^[^\s,<&]+$", description="Start of every message identifier."
    )
    scope: Literal["Public", "Restricted"] = Field(
        "Restricted", description="Public, or Restricted to the audience named in 'restriction'."
    )
    restriction: str = Field(
        "School and district safety staff and first responders", description="Who may see a Restricted message."
    )
    language: str = Field("en-US", description="RFC 3066 language of the text elements.")
    radius_km: float = Field(0.5, gt=0, le=100, description="Radius of the alert circle around the incident.")
    categories: dict[str, CapCategory] = Field(
        default_factory=dict, description="CAP category by incident type; others are guessed from the type's words."
    )
    contact: str | None = Field(None, description="Who to contact about the alert (phone, desk).")
    url: AnyHttpUrl | None = Field(None, description="POST the XML here; exactly one of url and directory.")
    directory: Path | None = Field(None, description="Write the XML into this folder, one file per message.")
    secret: SecretStr | None = Field(None, description="When set, POSTs are signed as the webhook notifier's are.")
    timeout_s: float = Field(10.0, gt=0, le=120, description="Limit for each POST.")

    @model_validator(mode="after")
    def _one_destination(self) -> Self:
        if (self.url is None) == (self.directory is None):
            raise ValueError("set exactly one of url and directory")
        if self.scope == "Restricted" and not self.restriction.strip():
            raise ValueError("a Restricted message needs a restriction text")
        return self


def cap_time(value: datetime) -> str:
    """CAP date-time: seconds precision with an explicit offset; UTC is written ``-00:00`` as the spec asks."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S-00:00")


def _stamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def raised_identifier(n: Notification, config: CapConfig) -> str:
    """Return the identifier of the incident's first message, which every later message references."""
    return f"{config.identifier_prefix}-incident-{n.incident_id}-raised-{_stamp(n.opened_at)}"


def identifier(n: Notification, config: CapConfig) -> str:
    """Return this message's identifier: unique per incident, event and time, stable across retries."""
    if n.event == "raised":
        return raised_identifier(n, config)
    return f"{config.identifier_prefix}-incident-{n.incident_id}-{n.event}-{_stamp(n.at)}"


def category(incident_type: str, config: CapConfig) -> CapCategory:
    """CAP category for an incident type: the config's map, else a keyword in the type, else Safety."""
    if incident_type in config.categories:
        return config.categories[incident_type]
    lowered = incident_type.lower()
    for keywords, chosen in _CATEGORY_KEYWORDS:
        if any(k in lowered for k in keywords):
            return chosen
    return "Safety"


def _sub(parent: ET.Element, tag: str, text: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{CAP_NS}}}{tag}")
    element.text = text
    return element


def render_cap(n: Notification, config: CapConfig) -> bytes:
    """Build the CAP 1.2 ``alert`` for one notification, as UTF-8 XML with a declaration."""
    alert = ET.Element(f"{{{CAP_NS}}}alert")
    _sub(alert, "identifier", identifier(n, config))
    _sub(alert, "sender", config.sender)
    _sub(alert, "sent", cap_time(n.opened_at if n.event == "raised" else n.at))
    _sub(alert, "status", "Exercise" if n.drill else "Actual")
    _sub(alert, "msgType", CAP_MSG_TYPE[n.event])
    _sub(alert, "scope", config.scope)
    if config.scope == "Restricted":
        _sub(alert, "restriction", config.restriction)
    if n.drill:
        _sub(alert, "note", "Drill: this is an exercise, not a real emergency.")
    if n.event != "raised":
        _sub(alert, "references", f"{config.sender},{raised_identifier(n, config)},{cap_time(n.opened_at)}")
    _sub(alert, "incidents", f"{config.identifier_prefix}-incident-{n.incident_id}")

    info = ET.SubElement(alert, f"{{{CAP_NS}}}info")
    _sub(info, "language", config.language)
    _sub(info, "category", category(n.type, config))
    _sub(info, "event", n.type.replace("_", " ").replace("-", " ").capitalize())
    if n.event == "resolved":
        _sub(info, "responseType", "AllClear")
    _sub(info, "urgency", "Past" if n.event == "resolved" else CAP_URGENCY[n.severity])
    _sub(info, "severity", CAP_SEVERITY[n.severity])
    observed = any(k in n.type.lower() for k in _OBSERVED_KEYWORDS)
    _sub(info, "certainty", "Observed" if observed else "Likely")
    event_code = ET.SubElement(info, f"{{{CAP_NS}}}eventCode")
    _sub(event_code, "valueName", "campusguard:type")
    _sub(event_code, "value", n.type)
    _sub(info, "onset", cap_time(n.opened_at))
    if config.sender_name:
        _sub(info, "senderName", config.sender_name)
    _sub(info, "headline", n.title[:160])  # the spec asks for about 160 characters, for SMS-sized channels
    _sub(info, "description", n.message or n.title)
    if config.contact:
        _sub(info, "contact", config.contact)
    for name, value in (("incidentId", str(n.incident_id)), ("schoolId", n.school_id),
                        ("status", n.status), ("escalationLevel", str(n.level))):
        parameter = ET.SubElement(info, f"{{{CAP_NS}}}parameter")
        _sub(parameter, "valueName", f"campusguard:{name}")
        _sub(parameter, "value", value)
    area = ET.SubElement(info, f"{{{CAP_NS}}}area")
    _sub(area, "areaDesc", n.school_name or n.school_id)
    if n.lat is not None and n.lon is not None:
        _sub(area, "circle", f"{n.lat:.6f},{n.lon:.6f} {config.radius_km:g}")
    document: bytes = ET.tostring(alert, encoding="utf-8", xml_declaration=True, default_namespace=CAP_NS)
    return document


class CapNotifier(Notifier[CapConfig]):
    """CAP 1.2 XML over HTTP POST (optionally signed) or into a watched folder."""

    type_key = "cap"
    config_class = CapConfig

    def __init__(self, config: CapConfig) -> None:
        """Open the HTTP client when posting."""
        super().__init__(config)
        self._client = http_client(config.timeout_s, verify_tls=True) if config.url is not None else None

    def prepare(self, notification: Notification) -> Callable[[], str | None]:
        """Render once; each attempt POSTs or writes the same bytes."""
        document = render_cap(notification, self.config)
        name = identifier(notification, self.config)
        if self._client is not None and self.config.url is not None:
            client, url, delivery = self._client, str(self.config.url), uuid.uuid4().hex

            def post_attempt() -> None:
                headers = {"Content-Type": "application/xml; charset=utf-8", DELIVERY_HEADER: delivery}
                headers |= signed_headers(self.config.secret, document, datetime.now(UTC))
                post(client, url, document, headers)

            return post_attempt
        assert self.config.directory is not None  # the config's validator requires one of the two
        directory = self.config.directory
        return lambda: write_atomically(directory, f"{name}.xml", document)

    def close(self) -> None:
        """Close the HTTP client's connections."""
        if self._client is not None:
            self._client.close()


def write_atomically(directory: Path, name: str, data: bytes) -> None:
    """Write a file so a folder watcher never sees it half written: a temporary name, then a rename."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=directory, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            Path(temporary).replace(directory / name)
        except OSError:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as exc:  # a full disk or a missing mount may come back; attempts are bounded anyway
        raise RetryableError(f"cannot write {directory / name}: {exc}") from exc
