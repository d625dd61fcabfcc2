"""Web Push subscriptions of the signed-in person: the key to subscribe with, and their browsers' subscriptions.

The guard page asks ``GET /api/v1/push/key`` for the server's VAPID public key, has the browser subscribe with it
(on the guard's tap: the browser asks for permission then), and posts what ``PushSubscription.toJSON()`` gives to
``POST /api/v1/push/subscriptions``. A person sees and deletes only their own; every create and delete is audited
in its transaction. The alert stage's push notifier (``alerts/notifiers/webpush.py``) sends to them.

The endpoint is a capability URL (whoever knows it may push to that browser), so the audit and the listing name
only its push service's host; the person's own browser already knows its full endpoint to match its row.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Header, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field

from command_ui.deps import ConnDep, CurrentUser, SettingsDep
from command_ui.schemas import RowId
from domain.audit import AuditRecord
from store import audit_repo, push_repo

router = APIRouter(prefix="/api/v1/push", tags=["push"])

# A person's phones and browsers; more is a mistake or an attempt to have the alert stage post to many places.
MAX_PER_PERSON = 10


class PushKeyOut(BaseModel):
    """The server's VAPID public key (``applicationServerKey``), or none while push is off."""

    model_config = ConfigDict(frozen=True)

    enabled: bool
    public_key: Annotated[str | None, Field(description="Uncompressed P-256 point, base64url.")]


class SubscriptionKeys(BaseModel):
    """The browser's own keys (RFC 8291), base64url as ``PushSubscription.toJSON()`` gives them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    p256dh: Annotated[str, Field(min_length=80, max_length=100, description="The browser's P-256 public key.")]
    auth: Annotated[str, Field(min_length=16, max_length=32, description="The browser's 16-byte auth secret.")]


class SubscriptionIn(BaseModel):
    """A browser's push subscription, as ``JSON.stringify(subscription)`` writes it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    endpoint: Annotated[str, Field(min_length=12, max_length=2048, description="The push service's URL for it.")]
    keys: SubscriptionKeys
    expirationTime: Annotated[int | None, Field(  # noqa: N815 - the browser's own spelling
        description="When the push service ends it (ms since 1970), usually null; not used.")] = None


class SubscriptionOut(BaseModel):
    """One of the caller's subscriptions."""

    model_config = ConfigDict(frozen=True)

    id: int
    endpoint: Annotated[str, Field(description="The push service's URL (the caller's own browser's).")]
    push_service: Annotated[str, Field(description="The push service's host.")]
    created_at: datetime


def _host(endpoint: str) -> str:
    return urlsplit(endpoint).hostname or "?"


def _out(sub: push_repo.Subscription) -> SubscriptionOut:
    return SubscriptionOut(id=sub.id, endpoint=sub.endpoint, push_service=_host(sub.endpoint),
                           created_at=sub.created_at)


def _decoded(text: str, what: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=f"{what} is not base64url") from None


def _internal(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return host == "localhost" or host.endswith((".localhost", ".local", ".internal"))
    return not address.is_global


def _check(body: SubscriptionIn, insecure_ok: bool) -> None:
    """Refuse what no push service would have given: a wrong scheme, a key that is not a P-256 point."""
    from cryptography.hazmat.primitives.asymmetric import ec

    parts = urlsplit(body.endpoint)
    schemes = ("https", "http") if insecure_ok else ("https",)
    if parts.scheme not in schemes or not parts.hostname:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            detail="endpoint must be the push service's https:// URL")
    # Push services are public hosts: an address inside our own network would have the alert stage post there.
    if not insecure_ok and _internal(parts.hostname):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            detail="endpoint must be a push service on the internet, not an internal address")
    point = _decoded(body.keys.p256dh, "keys.p256dh")
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except ValueError:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            detail="keys.p256dh is not a P-256 public key") from None
    if len(_decoded(body.keys.auth, "keys.auth")) != 16:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail="keys.auth is not 16 bytes")


@router.get("/key")
def push_key(settings: SettingsDep, user: CurrentUser) -> PushKeyOut:
    """Give the key a browser subscribes with."""
    key = settings.push.public_key
    return PushKeyOut(enabled=key is not None, public_key=key)


@router.get("/subscriptions")
def my_subscriptions(conn: ConnDep, user: CurrentUser) -> list[SubscriptionOut]:
    """List the caller's own subscriptions."""
    return [_out(s) for s in push_repo.of_user(conn, user.id)]


@router.post("/subscriptions", status_code=status.HTTP_201_CREATED)
def subscribe(body: SubscriptionIn, conn: ConnDep, settings: SettingsDep, user: CurrentUser,
              user_agent: Annotated[str | None, Header(max_length=512)] = None) -> SubscriptionOut:
    """Keep this browser's subscription for the caller, so their alarms ring it."""
    if settings.push.public_key is None:
        raise HTTPException(status.HTTP_409_CONFLICT, detail="push is not configured on this server "
                            "(CAMPUSGUARD_PUSH__VAPID_PRIVATE_KEY, see docs/push.md)")
    _check(body, settings.push.allow_insecure_endpoints)
    now = datetime.now(UTC)
    with conn.transaction():
        if not push_repo.has_account(conn, user.id):
            raise HTTPException(status.HTTP_409_CONFLICT,
                                detail="only a person of the site file has alarms to ring a phone with")
        mine = push_repo.of_user(conn, user.id)
        if len(mine) >= MAX_PER_PERSON and body.endpoint not in {m.endpoint for m in mine}:
            raise HTTPException(status.HTTP_409_CONFLICT, detail=f"you already have {MAX_PER_PERSON} subscribed "
                                "browsers; turn ringing off on one you no longer use")
        sub, new = push_repo.save(conn, user.id, body.endpoint, body.keys.p256dh, body.keys.auth, user_agent)
        audit_repo.append(conn, AuditRecord(now, user.id, "push.subscribe", f"user:{user.id}", {
            "subscription_id": sub.id, "push_service": _host(sub.endpoint), "new": new}))
    return _out(sub)


@router.delete("/subscriptions/{subscription_id}", status_code=status.HTTP_204_NO_CONTENT)
def unsubscribe(subscription_id: RowId, conn: ConnDep, user: CurrentUser) -> None:
    """Delete one of the caller's subscriptions: that browser rings no more."""
    now = datetime.now(UTC)
    with conn.transaction():
        gone = push_repo.delete_own(conn, user.id, subscription_id)
        if gone is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no subscription {subscription_id} of yours")
        audit_repo.append(conn, AuditRecord(now, user.id, "push.unsubscribe", f"user:{user.id}", {
            "subscription_id": gone.id, "push_service": _host(gone.endpoint)}))
