"""What every notifier shares: the notification it is handed, the result it returns, config and retry.

A notifier's one job is :meth:`Notifier.send`: deliver one notification, retrying what may succeed later
(network errors, a busy server) with exponential backoff for a bounded number of attempts, and return a
:class:`DeliveryResult` either way, never raise, so one broken channel cannot stop the others and the
caller can record on the incident what happened on each.
"""

from __future__ import annotations

import json
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import ClassVar, Generic, Literal, Self, TypeVar, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

log = logging.getLogger(__name__)

Severity = Literal["critical", "high", "medium", "low", "info"]
IncidentStatus = Literal["raised", "acknowledged", "responding", "resolved", "closed"]
EventKind = Literal["raised", "escalated", "acknowledged", "resolved"]
SEVERITIES: tuple[str, ...] = get_args(Severity)
PAYLOAD_SCHEMA = "campusguard.alert/1"


def _require_aware(name: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")


@dataclass(frozen=True, slots=True)
class Notification:
    """One thing to tell people about an incident: it was raised, escalated, acknowledged or resolved.

    ``at`` is when that happened; ``opened_at`` when the incident was raised. ``recipients`` are addresses in
    the medium of the notifier they are meant for (the email notifier takes those with an ``@``); ``level`` is
    the escalation level, 0 before any escalation.
    """

    incident_id: int
    school_id: str
    type: str
    severity: Severity
    status: IncidentStatus
    title: str
    event: EventKind
    at: datetime
    opened_at: datetime
    lon: float | None = None
    lat: float | None = None
    message: str = ""
    level: int = 0
    recipients: tuple[str, ...] = ()
    school_name: str | None = None
    drill: bool = False
    title_key: str | None = None
    """The incident's title as a message key, so each channel can say it in its own language."""
    title_params: Mapping[str, str] = field(default_factory=dict)
    """The values the title's key is filled with."""

    def __post_init__(self) -> None:
        """Refuse naive times, unknown severities and half a position."""
        _require_aware("at", self.at)
        _require_aware("opened_at", self.opened_at)
        if self.severity not in SEVERITIES:
            raise ValueError(f"unknown severity {self.severity!r}; expected one of {SEVERITIES}")
        if (self.lon is None) != (self.lat is None):
            raise ValueError("lon and lat come together or not at all")


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """How a delivery ended: ``error`` holds the last failure's text (or a partial failure's when ``ok``)."""

    ok: bool
    attempts: int
    error: str | None
    at: datetime


class DeliveryError(Exception):
    """One attempt failed; the message says why in words fit for the incident's history."""


class RetryableError(DeliveryError):
    """A failure that may pass: the network, a timeout, a 5xx or 429, a full queue."""


class PermanentError(DeliveryError):
    """A failure that retrying cannot fix: refused credentials, a 4xx, a malformed address."""


class RetryConfig(BaseModel):
    """How hard to try: attempts in all, and the exponential backoff between them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    attempts: int = Field(4, ge=1, le=20, description="Attempts in all, the first one included.")
    initial_backoff_s: float = Field(1.0, gt=0, description="Wait before the second attempt; doubles after each.")
    max_backoff_s: float = Field(30.0, gt=0, description="Longest wait between two attempts.")
    jitter_s: float = Field(0.5, ge=0, description="Random extra wait, so many notifiers do not retry in step.")

    @model_validator(mode="after")
    def _max_not_below_initial(self) -> Self:
        if self.max_backoff_s < self.initial_backoff_s:
            raise ValueError("max_backoff_s must not be below initial_backoff_s")
        return self


class NotifierConfigBase(BaseModel):
    """Fields every notifier config has; each notifier's config adds ``type: Literal[...]`` and its own."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = Field(None, description="Name shown in the incident history; defaults to the type.")
    retry: RetryConfig = Field(default_factory=RetryConfig, description="Retry policy for failed deliveries.")


ConfigT = TypeVar("ConfigT", bound=NotifierConfigBase)


def deliver(attempt: Callable[[], str | None], retry: RetryConfig, what: str) -> DeliveryResult:
    """Run ``attempt`` until it returns, retrying :class:`RetryableError` by ``retry``; never raises.

    ``attempt`` returns None, or a note about a partial failure that needs no retry (``ok`` stays true).
    """

    def log_retry(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning("%s: attempt %d failed (%s); retrying", what, state.attempt_number, exc)

    retrying = Retrying(
        stop=stop_after_attempt(retry.attempts),
        wait=wait_exponential(multiplier=retry.initial_backoff_s, max=retry.max_backoff_s)
        + wait_random(0, retry.jitter_s),
        retry=retry_if_exception_type(RetryableError),
        before_sleep=log_retry,
        reraise=True,
    )
    attempts = 0
    try:
        for trying in retrying:
            with trying:
                attempts = trying.retry_state.attempt_number
                note = attempt()
    except DeliveryError as exc:
        log.error("%s: failed after %d attempt(s): %s", what, attempts, exc)
        return DeliveryResult(ok=False, attempts=attempts, error=str(exc), at=datetime.now(UTC))
    except Exception as exc:
        # A bug in one notifier must not stop the others or the pipeline; it is logged with its traceback.
        log.exception("%s: unexpected error", what)
        return DeliveryResult(ok=False, attempts=attempts, error=f"internal error: {exc!r}", at=datetime.now(UTC))
    return DeliveryResult(ok=True, attempts=attempts, error=note, at=datetime.now(UTC))


class Notifier(ABC, Generic[ConfigT]):
    """A delivery channel built from its config; registered in ``alerts.notifiers.NOTIFIERS`` by ``type_key``."""

    type_key: ClassVar[str]
    config_class: ClassVar[type[NotifierConfigBase]]

    def __init__(self, config: ConfigT) -> None:
        """Keep the config; connections are opened per delivery or lazily."""
        self.config = config

    @property
    def name(self) -> str:
        """What the incident history calls this channel."""
        return self.config.name or self.type_key

    def send(self, notification: Notification) -> DeliveryResult:
        """Deliver one notification, retrying by the config's policy; never raises."""
        what = f"{self.name} notification for incident {notification.incident_id} ({notification.event})"
        try:
            attempt = self.prepare(notification)
        except DeliveryError as exc:
            return DeliveryResult(ok=False, attempts=0, error=str(exc), at=datetime.now(UTC))
        except Exception as exc:  # a bug in one channel's message must not stop the others
            log.exception("%s could not be prepared", what)
            return DeliveryResult(ok=False, attempts=0, error=f"{type(exc).__name__}: {exc}", at=datetime.now(UTC))
        return deliver(attempt, self.config.retry, what)

    @abstractmethod
    def prepare(self, notification: Notification) -> Callable[[], str | None]:
        """Build what is sent once (body, ids) and return the attempt that sends it; may raise PermanentError."""

    def close(self) -> None:
        """Release connections the notifier holds."""

    def __enter__(self) -> Self:
        """Use as a context manager that closes the notifier."""
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Close the notifier."""
        self.close()


def notification_payload(n: Notification) -> dict[str, object]:
    """Build the JSON document the webhook and MQTT notifiers send (schema ``campusguard.alert/1``)."""
    return {
        "schema": PAYLOAD_SCHEMA,
        "event": n.event,
        "at": n.at.astimezone(UTC).isoformat(),
        "incident": {
            "id": n.incident_id,
            "school_id": n.school_id,
            "school_name": n.school_name,
            "type": n.type,
            "severity": n.severity,
            "status": n.status,
            "title": n.title,
            "message": n.message,
            "lon": n.lon,
            "lat": n.lat,
            "opened_at": n.opened_at.astimezone(UTC).isoformat(),
            "drill": n.drill,
        },
        "level": n.level,
        "recipients": list(n.recipients),
    }


def notification_json(n: Notification) -> bytes:
    """:func:`notification_payload` as compact UTF-8 JSON with sorted keys (stable bytes to sign)."""
    return json.dumps(notification_payload(n), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
