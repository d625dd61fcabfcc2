"""Operations: what an installer or an administrator checks when something does not arrive.

Devices offline or low on battery, cameras that stopped delivering frames, input ingest refused (dead letters)
with its reason, ids nobody registered (a mistyped Traccar Client id shows up here within its first message,
beside the registered id it most resembles) and how many messages arrive per minute. For school administrators,
district officers and administrators; every list is scoped to the caller's part of the organisation
(store/ops_repo.py says what belongs to no school and who reads that).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, HTTPException, Query, status
from pydantic import BaseModel, ConfigDict, Field

from command_ui.deps import ConnDep, User, require
from command_ui.schemas import Instant
from store import ops_repo, push_repo

router = APIRouter(prefix="/api/v1/ops", tags=["operations"])

READ_OPS = frozenset({"school_admin", "district_officer", "district_admin", "admin"})
"""Roles that read the operations page."""
OpsReader = Annotated[User, Depends(require(READ_OPS, "read operations"))]
DEAD_LETTER_DAYS = 14  # what dead letters are kept for by default (store/config.py): a longer window finds nothing
DEFAULT_WINDOW = dt.timedelta(hours=24)


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DeviceTroubleOut(_Out):
    """A device offline, low on battery, or never heard from."""

    device_id: str
    name: str
    kind: str
    school_id: str | None
    state: str = Field(description="offline, low_battery (heard, battery low) or never_heard.")
    last_seen: dt.datetime | None = Field(description="When ingest last heard it (arrival time).")
    battery_pct: float | None
    battery_low: bool


class StalledCameraOut(_Out):
    """A camera whose stream stopped."""

    camera_id: str
    name: str
    school_id: str | None
    since: dt.datetime = Field(description="When the vision worker declared it offline.")
    reason: str | None


class PushHealthOut(_Out):
    """One phone's or browser's Web Push subscription and how its pushes fare (issue 17)."""

    subscription_id: int
    user_id: str
    display_name: str
    push_service: str = Field(description="The push service's host (the endpoint itself is a capability URL).")
    created_at: dt.datetime
    last_push_at: dt.datetime | None = Field(description="The last push its service accepted.")
    last_error: str | None = Field(description="Why the last push failed; none since a push went through.")
    last_error_at: dt.datetime | None


class DevicesOut(_Out):
    """Devices and cameras in trouble."""

    devices: list[DeviceTroubleOut]
    cameras: list[StalledCameraOut]
    push: list[PushHealthOut] = Field(description="Push subscriptions of the people in scope, failing first.")


class DeadLetterOut(_Out):
    """One refused input."""

    time: dt.datetime
    source: str = Field(description="The listener: mqtt, osmand-http, geo.")
    topic: str = Field(description="The MQTT topic, or an OsmAnd request's query, as one line.")
    reason: str
    message: str = Field(description="Why it was refused, in words.")
    excerpt: str = Field(description="The start of the payload as text.")
    size: int = Field(description="Payload bytes.")
    device_id: str | None = Field(description="The registered device it names, when it names one.")
    school_id: str | None


class DeadLettersOut(_Out):
    """Dead letters of a window."""

    since: dt.datetime
    until: dt.datetime
    reasons: dict[str, int] = Field(description="Dead letters of the window per reason (before the reason filter).")
    letters: list[DeadLetterOut] = Field(description="The newest first, at most `limit`.")


class UnknownDeviceOut(_Out):
    """An id that sent messages but is not registered."""

    source: str
    external_id: str
    first_seen: dt.datetime
    last_seen: dt.datetime
    messages: int
    last_topic: str = Field(description="Its latest topic (for OsmAnd, the request's query: its last payload).")
    school_id: str | None = Field(description="The school its topic names, when it names one.")
    closest: str | None = Field(description="The registered id it most resembles, a likely typo's intent.")


class MinuteOut(_Out):
    """What arrived in one minute."""

    minute: dt.datetime
    positions: int
    events: int
    readings: int
    dead_letters: int


class RatesOut(_Out):
    """Messages per minute of arrival."""

    minutes: list[MinuteOut]


def _state(row: ops_repo.DeviceTrouble) -> str:
    if row.online is None:
        return "never_heard"
    return "offline" if not row.online else "low_battery"


@router.get("/devices")
def devices(conn: ConnDep, user: OpsReader) -> DevicesOut:
    """Devices offline, low on battery or never heard from, and cameras whose stream stopped."""
    now = dt.datetime.now(dt.UTC)
    return DevicesOut(
        devices=[DeviceTroubleOut(device_id=d.device_id, name=d.name, kind=d.kind, school_id=d.school_id,
                                  state=_state(d), last_seen=d.last_seen, battery_pct=d.battery_pct,
                                  battery_low=d.battery_low) for d in ops_repo.device_trouble(conn, user.scope_path)],
        cameras=[StalledCameraOut(camera_id=c.camera_id, name=c.name, school_id=c.school_id, since=c.since,
                                  reason=c.reason) for c in ops_repo.stalled_cameras(conn, user.scope_path, now)],
        push=[PushHealthOut(subscription_id=p.id, user_id=p.user_id, display_name=p.display_name,
                            push_service=urlsplit(p.endpoint).hostname or "?", created_at=p.created_at,
                            last_push_at=p.last_push_at, last_error=p.last_error, last_error_at=p.last_error_at)
              for p in push_repo.health(conn, user.scope_path)])


@router.get("/dead-letters")
def dead_letters(
    conn: ConnDep, user: OpsReader,
    since: Annotated[Instant | None, Query(description="Window start; 24 hours before until by default.")] = None,
    until: Annotated[Instant | None, Query(description="Window end; now by default.")] = None,
    reason: Annotated[str | None, Query(max_length=64, description="Only this reason.")] = None,
    limit: Annotated[int, Query(ge=1, le=ops_repo.LIST_LIMIT)] = 100,
) -> DeadLettersOut:
    """Input ingest refused, newest first, with its reason and the start of its payload."""
    end = until or dt.datetime.now(dt.UTC)
    start = since or end - DEFAULT_WINDOW
    if not start < end <= start + dt.timedelta(days=DEAD_LETTER_DAYS):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            detail=f"since must be before until, within {DEAD_LETTER_DAYS} days")
    letters = ops_repo.dead_letters(conn, user.scope_path, start, end, reason, limit)
    return DeadLettersOut(
        since=start, until=end, reasons=ops_repo.dead_letter_reasons(conn, user.scope_path, start, end),
        letters=[DeadLetterOut(time=d.time, source=d.source, topic=d.topic, reason=d.reason, message=d.message,
                               excerpt=d.excerpt, size=d.size, device_id=d.device_id, school_id=d.school_id)
                 for d in letters])


@router.get("/unregistered")
def unregistered(conn: ConnDep, user: OpsReader) -> list[UnknownDeviceOut]:
    """Ids that sent messages but match no registered device, most recently heard first."""
    return [UnknownDeviceOut(source=u.source, external_id=u.external_id, first_seen=u.first_seen,
                             last_seen=u.last_seen, messages=u.messages, last_topic=u.last_topic,
                             school_id=u.school_id, closest=u.closest)
            for u in ops_repo.unknown_devices(conn, user.scope_path)]


@router.get("/ingest-rates")
def ingest_rates(conn: ConnDep, user: OpsReader,
                 minutes: Annotated[int, Query(ge=5, le=180, description="How many minutes back.")] = 60,
                 ) -> RatesOut:
    """Positions, device events, sensor readings and dead letters stored per minute of arrival."""
    rows = ops_repo.ingest_rates(conn, user.scope_path, dt.datetime.now(dt.UTC), minutes)
    return RatesOut(minutes=[MinuteOut(minute=m.minute, positions=m.positions, events=m.events,
                                       readings=m.readings, dead_letters=m.dead_letters) for m in rows])
