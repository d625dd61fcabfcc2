"""Webhook notifier: POST the notification as JSON, signed with HMAC-SHA256, to a receiver's URL.

Verifying a delivery (the receiver's side)
------------------------------------------
Every request carries::

    X-Campusguard-Timestamp: 1725262200               (Unix seconds when this attempt was signed)
    X-Campusguard-Signature: sha256=<64 hex digits>
    X-Campusguard-Delivery:  <32 hex digits>           (the same on every retry of one notification)

1. Read the raw request body as bytes, before any JSON parsing (re-serialising changes the bytes).
2. Refuse the request if the timestamp is more than 5 minutes from your clock: that stops replays.
3. Compute ``HMAC-SHA256(key=secret, msg=timestamp + "." + body)`` in hex, ``timestamp`` being the
   header's text, and compare it with the header after ``sha256=`` in constant time
   (``hmac.compare_digest``). Anything else means the request did not come from us, or was altered.
4. Optionally drop a delivery id you have already processed: a retry after a lost response repeats it.

:func:`verify_signature` is that recipe in Python. Each attempt is signed afresh, so a retry after a long
backoff still carries a current timestamp.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from pydantic import AnyHttpUrl, Field, SecretStr, field_validator

if TYPE_CHECKING:
    import httpx

from alerts.notifiers.base import (
    Notification,
    Notifier,
    NotifierConfigBase,
    PermanentError,
    RetryableError,
    notification_json,
)

SIGNATURE_HEADER = "X-Campusguard-Signature"
TIMESTAMP_HEADER = "X-Campusguard-Timestamp"
DELIVERY_HEADER = "X-Campusguard-Delivery"
USER_AGENT = "campusguard-notifier/1"
MIN_SECRET_LENGTH = 16
DEFAULT_TOLERANCE_S = 300


class WebhookConfig(NotifierConfigBase):
    """POST each notification as signed JSON to a URL."""

    type: Literal["webhook"] = Field(description="Selects the webhook notifier.")
    url: AnyHttpUrl = Field(description="Where to POST; https outside a trusted network.")
    secret: SecretStr = Field(description=f"Shared HMAC key, at least {MIN_SECRET_LENGTH} characters.")
    timeout_s: float = Field(10.0, gt=0, le=120, description="Limit for each attempt (connect, send, wait).")
    verify_tls: bool = Field(True, description="Check the server's TLS certificate (turn off only for testing).")

    @field_validator("secret")
    @classmethod
    def _long_enough(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < MIN_SECRET_LENGTH:
            raise ValueError(f"the secret must be at least {MIN_SECRET_LENGTH} characters")
        return value


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """Return the ``sha256=<hex>`` header value for a body signed at ``timestamp``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def verify_signature(
    secret: str, timestamp: str, body: bytes, header: str, now: datetime, tolerance_s: float = DEFAULT_TOLERANCE_S
) -> bool:
    """Check a received delivery: the signature matches and the timestamp is within ``tolerance_s`` of ``now``."""
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    if abs(now.timestamp() - sent) > tolerance_s:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), header)


def signed_headers(secret: SecretStr | None, body: bytes, now: datetime) -> dict[str, str]:
    """Sign one attempt: the timestamp and signature headers; none when there is no secret."""
    if secret is None:
        return {}
    timestamp = str(int(now.timestamp()))
    return {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: signature(secret.get_secret_value(), timestamp, body)}


def post(client: httpx.Client, url: str, body: bytes, headers: Mapping[str, str]) -> None:
    """POST once and sort the outcome: 2xx returns, 429/5xx/network raise Retryable, the rest Permanent."""
    import httpx  # here, not at the top: every process reads the notifier configs, only the alert stage posts

    try:
        response = client.post(url, content=body, headers=dict(headers))
    except httpx.TransportError as exc:  # connect, read and write errors and timeouts alike
        raise RetryableError(f"POST {url}: {type(exc).__name__}: {exc}") from exc
    if response.is_success:
        return
    detail = response.text[:200].strip()
    text = f"POST {url}: HTTP {response.status_code} {response.reason_phrase}" + (f": {detail}" if detail else "")
    if response.status_code == httpx.codes.TOO_MANY_REQUESTS or response.status_code >= 500:
        raise RetryableError(text)
    # 3xx too: a signed alert is not followed to wherever a redirect points.
    raise PermanentError(text)


def http_client(timeout_s: float, verify_tls: bool) -> httpx.Client:
    """Open a client for one notifier: connections are reused across deliveries, redirects are not followed."""
    import httpx

    return httpx.Client(
        timeout=timeout_s, verify=verify_tls, follow_redirects=False, headers={"User-Agent": USER_AGENT}
    )


class WebhookNotifier(Notifier[WebhookConfig]):
    """Signed JSON over HTTP POST."""

    type_key = "webhook"
    config_class = WebhookConfig

    def __init__(self, config: WebhookConfig) -> None:
        """Open the HTTP client (connections are made on first use)."""
        super().__init__(config)
        self._client = http_client(config.timeout_s, config.verify_tls)

    def prepare(self, notification: Notification) -> Callable[[], str | None]:
        """Serialise once; each attempt signs afresh and keeps the delivery id."""
        body = notification_json(notification)
        delivery = uuid.uuid4().hex
        url = str(self.config.url)

        def attempt() -> None:
            headers = {"Content-Type": "application/json", DELIVERY_HEADER: delivery}
            headers |= signed_headers(self.config.secret, body, datetime.now(UTC))
            post(self._client, url, body, headers)

        return attempt

    def close(self) -> None:
        """Close the HTTP client's connections."""
        self._client.close()
