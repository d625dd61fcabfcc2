"""The archive of monthly bulletins (migration 0043): adding a made bulletin, listing them, reading one back.

A scheduled bulletin is added once per unit, month, language and format (a second add is refused quietly and
returns None), so the job can run as often as it likes. Any other add is the next version: the archive keeps
what was handed out, never overwriting it. Scoping is the API's (``campusguard_within``, migration 0017).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import psycopg

# Versions of one unit, month, language and format are numbered under this lock (with the key's hash), so two
# people making the same bulletin at once get 2 and 3 instead of one of them a unique-violation.
_VERSION_LOCK = 0x63676275  # "cgbu"

Format = Literal["html", "pdf"]


@dataclass(frozen=True, slots=True)
class ArchivedBulletin:
    """One archived bulletin, without its bytes."""

    id: int
    unit_id: str
    unit_name: str
    month: str
    lang: str
    format: str
    version: int
    scheduled: bool
    size: int
    sha256: str
    """Hex digest of the bytes."""
    generated_at: datetime
    generated_by: str


@dataclass(frozen=True, slots=True)
class BulletinFile:
    """An archived bulletin with its bytes and the unit's organisation path (for scoping)."""

    meta: ArchivedBulletin
    path: str
    body: bytes


_COLUMNS = ("b.id, b.unit_id, u.name, b.month, b.lang, b.format, b.version, b.scheduled, length(b.body),"
            " encode(b.sha256, 'hex'), b.generated_at, b.generated_by")


def _meta(row: tuple[Any, ...]) -> ArchivedBulletin:
    return ArchivedBulletin(int(row[0]), row[1], row[2], row[3], row[4], row[5], int(row[6]), bool(row[7]),
                            int(row[8]), row[9], row[10], row[11])


def add(conn: psycopg.Connection, unit_id: str, month: str, lang: str, fmt: str, body: bytes, at: datetime,
        by: str, *, scheduled: bool) -> int | None:
    """Archive a bulletin and return its id; None when it is scheduled and that month's is archived already."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))",
                     (_VERSION_LOCK, f"{unit_id}|{month}|{lang}|{fmt}"))
        row = conn.execute(
            "INSERT INTO bulletins (unit_id, month, lang, format, version, scheduled, body, sha256, generated_at,"
            " generated_by)"
            " SELECT %(unit)s, %(month)s, %(lang)s, %(fmt)s, coalesce(max(version), 0) + 1, %(scheduled)s,"
            " %(body)s, %(sha)s, %(at)s, %(by)s FROM bulletins"
            " WHERE unit_id = %(unit)s AND month = %(month)s AND lang = %(lang)s AND format = %(fmt)s"
            " ON CONFLICT (unit_id, month, lang, format) WHERE scheduled DO NOTHING RETURNING id",
            {"unit": unit_id, "month": month, "lang": lang, "fmt": fmt, "scheduled": scheduled, "body": body,
             "sha": hashlib.sha256(body).digest(), "at": at, "by": by}).fetchone()
    return int(row[0]) if row else None


def has_scheduled(conn: psycopg.Connection, unit_id: str, month: str, lang: str, fmt: str) -> bool:
    """Tell whether the scheduler's bulletin of a unit, month, language and format is archived."""
    return conn.execute("SELECT 1 FROM bulletins WHERE scheduled AND unit_id = %s AND month = %s AND lang = %s"
                        " AND format = %s", (unit_id, month, lang, fmt)).fetchone() is not None


def first_scheduled_month(conn: psycopg.Connection, unit_id: str) -> str | None:
    """Return the first month the scheduler archived a bulletin of the unit for (when it began), or None."""
    row = conn.execute("SELECT min(month) FROM bulletins WHERE scheduled AND unit_id = %s", (unit_id,)).fetchone()
    return str(row[0]) if row and row[0] is not None else None


def reader_locales(conn: psycopg.Connection, path: str, roles: Iterable[str]) -> set[str]:
    """Return the languages read by the active people of ``roles`` whose scope holds ``path`` (who may read it)."""
    rows = conn.execute("SELECT DISTINCT coalesce(p.chosen_locale, p.locale) FROM users p"
                        " JOIN org_units u ON u.id = p.scope_id WHERE p.active AND p.role = ANY(%(roles)s)"
                        " AND campusguard_within(%(path)s, u.path)",
                        {"roles": sorted(roles), "path": path}).fetchall()
    return {str(r[0]) for r in rows if r[0]}


def listed(conn: psycopg.Connection, scope: str, limit: int = 500) -> list[ArchivedBulletin]:
    """List the archived bulletins of the units under ``scope``, newest month first, the city before counties."""
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM bulletins b JOIN org_units u ON u.id = b.unit_id"
        " WHERE campusguard_within(u.path, %s)"
        " ORDER BY b.month DESC, u.depth, u.path, b.lang, b.format, b.version DESC LIMIT %s",
        (scope, limit)).fetchall()
    return [_meta(r) for r in rows]


def fetch(conn: psycopg.Connection, bulletin_id: int) -> BulletinFile | None:
    """Read one archived bulletin with its bytes, or None."""
    row = conn.execute(f"SELECT {_COLUMNS}, u.path, b.body FROM bulletins b"
                       " JOIN org_units u ON u.id = b.unit_id WHERE b.id = %s", (bulletin_id,)).fetchone()
    return BulletinFile(_meta(row[:12]), str(row[12]), bytes(row[13])) if row else None


def try_pass_lock(conn: psycopg.Connection, key: int) -> bool:
    """Take the session's advisory lock ``key`` if nobody holds it (released when the connection closes)."""
    row = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
    return bool(row and row[0])
