"""JT/T 808 terminal authentication codes: issued at registration, checked at authentication, revocable.

Only each code's SHA-256 is stored (store/migrations/0030_jt808_terminals.sql says why that is enough). A
terminal number holds one live code. Registering again replaces a code that was never used (the answer may
have been lost on its way to the terminal); a used one holds the number until a person revokes it, so nobody
who merely knows a bus's number can take its place. The operations page lists the terminals (and the numbers
nobody listed) from here.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import psycopg

from domain.scope import owns_tree
from store.channels import TERMINAL_CHANNEL


class Issued(StrEnum):
    """What became of a registration."""

    ISSUED = "issued"
    TAKEN = "taken"  # the number holds a code already used: revoke it first


def code_digest(code: str) -> bytes:
    """Hash a code the way it is stored."""
    return hashlib.sha256(code.encode("utf-8")).digest()


def issue_code(conn: psycopg.Connection, phone: str, code: str) -> Issued:
    """Store a new code for ``phone``, replacing a live one never used; refuse when a used one is live."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('campusguard-jt808:' || %s))", (phone,))
        row = conn.execute("SELECT used_at IS NOT NULL FROM jt808_auth_codes WHERE phone = %s AND revoked_at IS NULL",
                           (phone,)).fetchone()
        if row is not None and row[0]:
            return Issued.TAKEN
        conn.execute("UPDATE jt808_auth_codes SET revoked_at = now(), revoked_by = 'reregistered'"
                     " WHERE phone = %s AND revoked_at IS NULL", (phone,))
        conn.execute("INSERT INTO jt808_auth_codes (phone, code_hash) VALUES (%s, %s)", (phone, code_digest(code)))
    return Issued.ISSUED


def check_code(conn: psycopg.Connection, phone: str, code: str) -> bool:
    """Tell whether ``code`` is ``phone``'s live code, marking it used."""
    with conn.transaction():
        row = conn.execute(
            "UPDATE jt808_auth_codes SET used_at = coalesce(used_at, now())"
            " WHERE phone = %s AND code_hash = %s AND revoked_at IS NULL RETURNING 1",
            (phone, code_digest(code))).fetchone()
    return row is not None


def revoke_codes(conn: psycopg.Connection, phone: str, by: str) -> int:
    """Revoke ``phone``'s live code, so the terminal must register again; returns how many were revoked.

    Ingest hears of it on :data:`~store.channels.TERMINAL_CHANNEL` when the transaction commits and closes the
    terminal's live connection: a revoked terminal keeps reporting on the connection it authenticated otherwise.
    """
    with conn.transaction():
        cur = conn.execute("UPDATE jt808_auth_codes SET revoked_at = now(), revoked_by = %s"
                           " WHERE phone = %s AND revoked_at IS NULL", (by, phone))
        conn.execute("SELECT pg_notify(%s, %s)", (TERMINAL_CHANNEL, phone))
    return cur.rowcount


@dataclass(frozen=True, slots=True)
class TerminalRow:
    """A JT/T 808 or GT06 device of the site file, as the operations page shows it."""

    device_id: str
    name: str
    school_id: str | None
    protocol: str  # jt808 or gt06
    number: str  # the JT/T 808 terminal number, or the GT06 IMEI
    registered: bool | None  # JT/T 808: holds a live code; GT06 has no registration (None)
    authenticated: bool | None  # JT/T 808: the live code was used; GT06: None
    last_seen: datetime | None
    refused: int  # reports refused before authentication, in the window


@dataclass(frozen=True, slots=True)
class UnknownTerminal:
    """A number or IMEI that spoke to a listener but is in no site file."""

    protocol: str
    number: str
    first_seen: datetime
    last_seen: datetime
    messages: int


def terminals(conn: psycopg.Connection, scope: str, since: datetime) -> list[TerminalRow]:
    """List the active JT/T 808 and GT06 devices in ``scope``, with refusals counted since ``since``."""
    rows = conn.execute(
        "SELECT d.id, d.name, d.school_id, d.source, d.external_id, c.phone IS NOT NULL, c.used_at IS NOT NULL,"
        "  l.last_seen, coalesce(r.refused, 0)"
        " FROM devices d JOIN org_units u ON u.id = d.school_id"
        " LEFT JOIN jt808_auth_codes c ON d.source = 'jt808' AND c.phone = d.external_id AND c.revoked_at IS NULL"
        " LEFT JOIN device_liveness l ON l.device_id = d.id"
        # The listener dead-letters a report before authentication under the number it claimed (ingest/tcp).
        " LEFT JOIN (SELECT split_part(split_part(topic, E'\\n', 1), '/', 2) AS number, count(*) AS refused"
        "   FROM dead_letters WHERE source = 'jt808-tcp' AND reason = 'not_authenticated' AND time >= %(since)s"
        "   GROUP BY 1) r ON d.source = 'jt808' AND r.number = d.external_id"
        " WHERE d.active AND d.source IN ('jt808', 'gt06') AND campusguard_within(u.path, %(scope)s)"
        " ORDER BY d.school_id, d.id LIMIT 2000",
        {"scope": scope, "since": since}).fetchall()
    out = []
    for r in rows:
        jt808 = r[3] == "jt808"
        out.append(TerminalRow(r[0], r[1], r[2], r[3], r[4], bool(r[5]) if jt808 else None,
                               bool(r[6]) if jt808 else None, r[7], int(r[8])))
    return out


def unknown_terminals(conn: psycopg.Connection, scope: str) -> list[UnknownTerminal]:
    """Numbers and IMEIs no site file lists, most recent first: for whole-tree readers only (anyone's typo)."""
    if not owns_tree(scope):
        return []
    rows = conn.execute(
        "SELECT source, external_id, first_seen, last_seen, messages FROM unregistered_devices"
        " WHERE source IN ('jt808', 'gt06') ORDER BY last_seen DESC LIMIT 500").fetchall()
    return [UnknownTerminal(r[0], r[1], r[2], r[3], int(r[4])) for r in rows]


def terminal_school(conn: psycopg.Connection, device_id: str) -> tuple[str, str, str | None] | None:
    """Return a terminal device's (protocol, number, school path), or None when it is no JT/T 808 or GT06 device."""
    row = conn.execute(
        "SELECT d.source, d.external_id, u.path FROM devices d LEFT JOIN org_units u ON u.id = d.school_id"
        " WHERE d.id = %s AND d.active AND d.source IN ('jt808', 'gt06')", (device_id,)).fetchone()
    return (row[0], row[1], row[2]) if row is not None else None
