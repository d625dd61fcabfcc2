"""JT/T 808 terminals and GT06 trackers: what an installer checks, and the revocation of a terminal's code.

The list shows each terminal of the caller's part of the organisation with its number or IMEI, its protocol,
whether it registered and authenticated (JT/T 808 only: GT06 has no registration), when ingest last heard it
and how many reports it sent before authenticating (refused; a misconfigured terminal shows up here), and, for
readers of the whole tree, the numbers and IMEIs no site file lists.

Revoking a JT/T 808 terminal's authentication code (an administrator of its school or above) makes it register
again; ingest closes its live connection when the revocation commits. Audited in the same transaction. A
terminal outside the caller's scope answers 404, exactly like one that does not exist.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, status
from pydantic import BaseModel, ConfigDict, Field

from command_ui.deps import EDIT_GEOFENCES, ConnDep, User, require
from command_ui.routers.ops import OpsReader
from domain.audit import AuditRecord
from store import audit_repo, terminal_repo

router = APIRouter(prefix="/api/v1/terminals", tags=["terminals"])

DeviceId = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$", description="Our id of the terminal.")]
TerminalAdmin = Annotated[User, Depends(require(EDIT_GEOFENCES, "revoke a terminal's authentication"))]
"""Who may revoke a code: administrators of a school, a district or the system (their subtree only)."""
REFUSED_WINDOW = timedelta(days=14)  # dead letters are kept this long by default (store/config.py)


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TerminalOut(_Out):
    """A JT/T 808 terminal or GT06 tracker of the site file."""

    device_id: str
    name: str
    school_id: str | None
    protocol: Annotated[str, Field(description="jt808 or gt06.")]
    number: Annotated[str, Field(description="The JT/T 808 terminal number, or the GT06 IMEI.")]
    registered: Annotated[bool | None, Field(description="Holds a live authentication code (JT/T 808 only).")]
    authenticated: Annotated[bool | None, Field(description="Has authenticated with it (JT/T 808 only).")]
    last_seen: Annotated[datetime | None, Field(description="When ingest last heard it (arrival time).")]
    refused: Annotated[int, Field(description="Reports refused before authentication, last 14 days.")]


class UnknownTerminalOut(_Out):
    """A number or IMEI that spoke to a listener but is in no site file."""

    protocol: str
    number: str
    first_seen: datetime
    last_seen: datetime
    messages: int


class TerminalsOut(_Out):
    """The terminals in scope, and the unknown numbers (whole-tree readers only)."""

    terminals: list[TerminalOut]
    unknown: list[UnknownTerminalOut]


class RevokedOut(_Out):
    """What a revocation did."""

    device_id: str
    number: str
    revoked: Annotated[int, Field(description="Codes revoked: 0 when the terminal held none.")]


@router.get("")
def list_terminals(conn: ConnDep, user: OpsReader) -> TerminalsOut:
    """JT/T 808 terminals and GT06 trackers in scope with their state, and unknown numbers."""
    since = datetime.now(UTC) - REFUSED_WINDOW
    return TerminalsOut(
        terminals=[TerminalOut(device_id=t.device_id, name=t.name, school_id=t.school_id, protocol=t.protocol,
                               number=t.number, registered=t.registered, authenticated=t.authenticated,
                               last_seen=t.last_seen, refused=t.refused)
                   for t in terminal_repo.terminals(conn, user.scope_path, since)],
        unknown=[UnknownTerminalOut(protocol=u.protocol, number=u.number, first_seen=u.first_seen,
                                    last_seen=u.last_seen, messages=u.messages)
                 for u in terminal_repo.unknown_terminals(conn, user.scope_path)])


@router.post("/{device_id}/revoke")
def revoke(device_id: DeviceId, conn: ConnDep, user: TerminalAdmin) -> RevokedOut:
    """Revoke a JT/T 808 terminal's authentication code: it must register again; its connection is closed."""
    with conn.transaction():
        found = terminal_repo.terminal_school(conn, device_id)
        if found is None or found[2] is None or not user.sees(found[2]):
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no terminal {device_id}")
        protocol, number, _ = found
        if protocol != "jt808":
            raise HTTPException(status.HTTP_409_CONFLICT,
                                detail=f"{device_id} speaks {protocol}, which has no authentication code")
        revoked = terminal_repo.revoke_codes(conn, number, user.id)
        audit_repo.append(conn, AuditRecord(datetime.now(UTC), user.id, "terminal.revoke", f"device:{device_id}",
                                            {"number": number, "revoked": revoked}))
    return RevokedOut(device_id=device_id, number=number, revoked=revoked)
