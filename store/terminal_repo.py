"""JT/T 808 terminal authentication codes: issued at registration, checked at authentication, revocable.

Only each code's SHA-256 is stored (store/migrations/0030_jt808_terminals.sql says why that is enough). A
terminal number holds one live code. Registering again replaces a code that was never used (the answer may
have been lost on its way to the terminal); a used one holds the number until a person revokes it, so nobody
who merely knows a bus's number can take its place.
"""

from __future__ import annotations

import hashlib
from enum import StrEnum

import psycopg


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
    """Revoke ``phone``'s live code, so the terminal must register again; returns how many were revoked."""
    with conn.transaction():
        cur = conn.execute("UPDATE jt808_auth_codes SET revoked_at = now(), revoked_by = %s"
                           " WHERE phone = %s AND revoked_at IS NULL", (by, phone))
    return cur.rowcount
