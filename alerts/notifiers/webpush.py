"""Web Push notifier: an encrypted message to each subscribed browser of the people a notification names.

The guard's phone rings when locked: the guard page subscribes the browser (``command_ui/routers/push.py``), and
here each notification about an incident raised or escalated to a person is sent to their browsers' push
services with VAPID (RFC 8292: a JWT signed with our P-256 key, ``Authorization: vapid t=..., k=...``), encrypted
for that browser alone (RFC 8291, ``Content-Encoding: aes128gcm``), with ``TTL`` and ``Urgency`` (RFC 8030):
``high`` for a critical incident, so a phone in power saving wakes for it. The service worker (``static/sw.js``)
shows it in its person's language from the title's message key, with an Acknowledge action.

A 404 or 410 from a push service means the browser unsubscribed: the subscription is deleted. A 429, a 5xx or
a network failure is retried by the notifier policy for the browsers still pending (one that took the message
is not sent it twice); anything else is that browser's permanent failure. Each is recorded like every
notifier's delivery on the incident, and on the subscription (``last_error``) for the operations page.

The pywebpush library (and requests under it) is imported when a message is sent: reading the settings must not
load an HTTP stack into every process.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import psycopg
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, field_validator

from alerts.notifiers.base import Notification, Notifier, NotifierConfigBase, RetryableError
from domain.audit import AuditRecord
from domain.incident import SYSTEM_ACTOR
from store import audit_repo, push_repo
from store.db import connect

log = logging.getLogger(__name__)

# What a push service accepts in one aes128gcm record (RFC 8291: 4096 bytes, less 103 of header and padding);
# a title longer than this leaves its values out and the worker shows the English title instead.
MAX_PAYLOAD = 3000
URGENCY = {"critical": "high", "high": "normal", "medium": "normal", "low": "low", "info": "low"}
DEMO_VAPID_FILE = "demo-vapid.env"
HOW_TO_MAKE_KEYS = ("make a key pair with `campusguard vapid-keys` and set CAMPUSGUARD_PUSH__VAPID_PRIVATE_KEY "
                    "and CAMPUSGUARD_PUSH__SUBJECT (docs/push.md)")


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_private_key() -> str:
    """Make a fresh VAPID private key: a P-256 scalar, 32 bytes in base64url (what ``web-push`` tools also print)."""
    from cryptography.hazmat.primitives.asymmetric import ec

    number = ec.generate_private_key(ec.SECP256R1()).private_numbers().private_value
    return _b64url(number.to_bytes(32, "big"))


def public_key_of(private_key: str) -> str:
    """Give the public key browsers take as ``applicationServerKey``: the uncompressed point in base64url."""
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    raw = _unb64url(private_key)
    if len(raw) != 32:
        raise ValueError("a VAPID private key is 32 bytes in base64url")
    key = ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())
    return _b64url(key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint))


def _checked_key(value: SecretStr) -> SecretStr:
    try:
        public_key_of(value.get_secret_value())
    except ValueError as exc:
        raise ValueError(f"not a VAPID private key ({exc}); {HOW_TO_MAKE_KEYS}") from None
    return value


def _checked_subject(value: str) -> str:
    # RFC 8292 section 2.1: a contact for the push service's operator, mailto: or https:.
    if not ((value.startswith("mailto:") and "@" in value) or value.startswith("https://")):
        raise ValueError(f"the VAPID subject is a mailto: or https: contact, got {value!r}")
    return value


VapidKey = Annotated[SecretStr, AfterValidator(_checked_key)]
"""A VAPID private key, checked to be one."""
Subject = Annotated[str, AfterValidator(_checked_subject)]
"""A VAPID contact, checked to be a mailto: or https: one."""


class PushSettings(BaseModel):
    """Web Push to the guards' phones (``CAMPUSGUARD_PUSH__*``); see docs/push.md."""

    model_config = ConfigDict(extra="forbid")

    enabled: Annotated[bool | None, Field(
        description="Send Web Push: unset, on where keys are given (always in demo mode); true without keys "
        "refuses to start.")] = None
    vapid_private_key: Annotated[VapidKey | None, Field(
        description="VAPID private key (P-256, 32 bytes base64url) from `campusguard vapid-keys`; the demo makes "
        "and keeps one under data_dir.")] = None
    subject: Annotated[Subject | None, Field(
        description="Contact the push services may reach us at: mailto:someone@district or an https: URL.")] = None
    ttl_s: Annotated[int, Field(
        ge=0, le=28 * 86400, description="How long a push service keeps a message for a phone that is off; an "
        "older alarm would mislead (escalation has moved on by then).")] = 1800
    allow_insecure_endpoints: Annotated[bool, Field(
        description="Accept http:// push endpoints (a lab without TLS, tests); real push services are https.")] = (
        False)

    @field_validator("vapid_private_key", "subject", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # Compose passes a variable the deployment left out as "" (docker/compose.yaml): not given, not invalid.
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def active(self) -> bool:
        """Whether push is on: keys given and not turned off."""
        return self.enabled is not False and self.vapid_private_key is not None and self.subject is not None

    @property
    def public_key(self) -> str | None:
        """The key the browser subscribes with; None while push is off."""
        if not self.active or self.vapid_private_key is None:
            return None
        return public_key_of(self.vapid_private_key.get_secret_value())

    def problem(self) -> str | None:
        """Why these settings cannot push although asked to, or None."""
        if self.enabled and (self.vapid_private_key is None or self.subject is None):
            return f"CAMPUSGUARD_PUSH__ENABLED is true but push has no VAPID key or subject: {HOW_TO_MAKE_KEYS}"
        return None

    def notifier_config(self, database_url: str) -> WebPushConfig | None:
        """Build the push notifier these settings describe, or None while push is off."""
        if not self.active or self.vapid_private_key is None or self.subject is None:
            return None
        return WebPushConfig(type="webpush", database_url=database_url, vapid_private_key=self.vapid_private_key,
                             subject=self.subject, ttl_s=self.ttl_s)


def demo_push(data_dir: Path, given: PushSettings) -> PushSettings:
    """Demo mode: push on, with a key pair made once per data directory and kept there (as the demo's logins)."""
    if given.enabled is False:
        return given
    key = given.vapid_private_key
    if key is None:
        path = data_dir / DEMO_VAPID_FILE
        stored = path.read_text().strip() if path.exists() else ""
        if not stored:
            stored = new_private_key()
            data_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(stored + "\n")
            path.chmod(0o600)
        key = SecretStr(stored)
    return given.model_copy(update={"vapid_private_key": key,
                                    "subject": given.subject or "mailto:demo@campusguard.example.org"})


class WebPushConfig(NotifierConfigBase):
    """Push each notification to the subscribed browsers of its recipients (built from ``PushSettings``)."""

    type: Literal["webpush"] = Field(description="Selects the Web Push notifier.")
    database_url: str = Field(description="The database holding the subscriptions.")
    vapid_private_key: VapidKey = Field(description="VAPID private key, 32 bytes base64url.")
    subject: Subject = Field(description="VAPID contact, mailto: or https:.")
    ttl_s: int = Field(1800, ge=0, le=28 * 86400, description="TTL header: seconds a push service keeps it.")
    timeout_s: float = Field(10.0, gt=0, le=120, description="Limit for each request to a push service.")


def payload(n: Notification, title: push_repo.IncidentTitle | None, locale: str) -> bytes:
    """Build what the service worker is sent (pure): the incident, its title as a key and values, where to open it."""
    body: dict[str, Any] = {
        "v": 1, "incident_id": n.incident_id, "event": n.event, "severity": n.severity, "level": n.level,
        "school": n.school_name or (title.school if title else None) or n.school_id, "drill": n.drill,
        "at": n.at.astimezone(UTC).isoformat(),
        "title": title.title if title else n.title, "title_key": title.key if title else None,
        "title_params": dict(title.params) if title else {}, "locale": locale,
        "url": f"/guard?incident={n.incident_id}",
    }
    encoded = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    if len(encoded) > MAX_PAYLOAD:
        body |= {"title_params": {}, "title_key": None, "title": body["title"][:200]}
        encoded = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    return encoded


@dataclass(slots=True)
class _Delivery:
    """One notification's progress across attempts: which browsers still wait for it, and what to report."""

    notification: Notification
    pending: dict[int, push_repo.Subscription] | None = None  # None until the subscriptions are read
    title: push_repo.IncidentTitle | None = None
    notes: list[str] = field(default_factory=list)


class WebPushNotifier(Notifier[WebPushConfig]):
    """One push per subscribed browser; retries only the browsers whose push service may yet take it."""

    type_key = "webpush"
    config_class = WebPushConfig

    def prepare(self, notification: Notification) -> Callable[[], str | None]:
        """Return the attempt: it loads the subscriptions once, then pushes to those still pending."""
        if notification.event not in ("raised", "escalated"):
            return lambda: f"nothing pushed when {notification.event}"
        state = _Delivery(notification)

        def attempt() -> str | None:
            try:
                return self._attempt(state)
            except psycopg.Error as exc:  # the database went away mid-way: what is pending waits for the retry
                raise RetryableError(f"push subscriptions unreadable: {exc}") from exc

        return attempt

    def _attempt(self, state: _Delivery) -> str | None:
        n = state.notification
        with self._database() as conn:
            if state.pending is None:
                found = push_repo.for_recipients(conn, n.school_id, n.recipients)
                state.title = push_repo.incident_title(conn, n.incident_id)
                state.pending = {s.id: s for s in found}
                if not found:
                    return "no subscribed browser among the recipients"
            for sub in list(state.pending.values()):
                outcome = self._push(sub, payload(n, state.title, sub.locale), n)
                if outcome is None or not outcome.startswith("retry"):
                    del state.pending[sub.id]  # first: a database failure below must not send it twice
                if outcome is None:
                    push_repo.delivered(conn, sub.id, datetime.now(UTC))
                elif outcome.startswith("gone"):
                    with conn.transaction():
                        push_repo.gone(conn, sub.id)
                        audit_repo.append(conn, AuditRecord(datetime.now(UTC), SYSTEM_ACTOR, "push.gone",
                                                            f"user:{sub.user_id}",
                                                            {"subscription_id": sub.id, "answer": outcome}))
                    state.notes.append(f"subscription {sub.id} {outcome}: deleted")
                else:
                    push_repo.failed(conn, sub.id, outcome)
                    if not outcome.startswith("retry"):
                        state.notes.append(f"subscription {sub.id}: {outcome}")
        if state.pending:
            raise RetryableError(f"{len(state.pending)} push service(s) did not take it yet: "
                                 + "; ".join(f"subscription {i}" for i in sorted(state.pending)))
        return "; ".join(state.notes) or None

    def _database(self) -> psycopg.Connection:
        try:
            return connect(self.config.database_url, autocommit=True, max_wait_s=5)
        except psycopg.Error as exc:
            raise RetryableError(f"push subscriptions unreadable: {exc}") from exc

    def _push(self, sub: push_repo.Subscription, body: bytes, n: Notification) -> str | None:
        """Send one message; None when the service took it, else ``gone ...``, ``retry ...`` or why it refused."""
        import requests
        from py_vapid import Vapid02  # type: ignore[import-untyped]
        from pywebpush import WebPushException, webpush  # type: ignore[import-untyped]

        vapid = Vapid02.from_raw(self.config.vapid_private_key.get_secret_value().encode())
        headers = {"Urgency": URGENCY[n.severity],
                   # A later message about the same incident replaces one the phone has not fetched yet.
                   "Topic": f"incident-{n.incident_id}"}
        try:
            webpush(sub.info(), data=body.decode(), vapid_private_key=vapid,
                    vapid_claims={"sub": self.config.subject}, content_encoding="aes128gcm",
                    ttl=self.config.ttl_s, timeout=self.config.timeout_s, headers=headers)
        except WebPushException as exc:
            status = exc.response.status_code if exc.response is not None else None
            where = f"{status} from {sub.endpoint.split('/')[2]}"
            if status in (404, 410):
                return f"gone ({where})"
            if status is None or status == 429 or status >= 500:
                return f"retry ({where})"
            return f"refused ({where}: {exc.response.text[:200]})"
        except requests.RequestException as exc:
            return f"retry ({type(exc).__name__} to {sub.endpoint.split('/')[2]})"
        return None
