"""Database side of the audit trail: appending onto the hash chain, verifying it, searching and exporting.

The hashing itself is pure (``domain.audit``); this module only decides the order of the chain. Appends are
serialised by a transaction-scoped advisory lock, and ``0007_audit_guard`` backs that up with a unique
index on ``prev_hash``, so a writer that skipped the lock fails instead of forking the chain.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, TextIO

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from domain.audit import GENESIS, AuditFilter, AuditRecord, StoredAudit, VerifyResult, chain_hash, verify_chain
from domain.scope import ROOT, owns_tree

# Any constant works; it only has to be the same in every process that appends (and differ from migrate's).
_APPEND_LOCK = 0x63676175  # "cgau"
_COLUMNS = sql.SQL("id, at, actor, action, target, detail, prev_hash, hash")
CSV_HEADER = ("id", "at", "actor", "action", "target", "detail", "prev_hash", "hash")
MAX_PAGE = 10_000


def append(conn: psycopg.Connection, record: AuditRecord) -> int:
    """Add a record to the end of the chain and return its id.

    Runs in the caller's transaction when there is one, so a record commits or rolls back with the change it
    records; the chain lock is then held until that transaction ends. The transaction must be READ
    COMMITTED (the default): a REPEATABLE READ snapshot taken before the lock could read a stale head, which
    the unique index then refuses.
    """
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_APPEND_LOCK,))
        row = conn.execute("SELECT hash, at FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()
        prev_hash = GENESIS if row is None else bytes(row[0])
        # Records are in commit order (the lock) and their times never go backwards: a writer that read the
        # clock before another took the lock, or a process whose clock runs behind, records the head's time.
        at = record.at if row is None else max(record.at, row[1])
        # Hash the detail in the form jsonb gives back (it rewrites some numbers), so verify agrees later.
        stored_detail = conn.execute("SELECT %s::jsonb", (Jsonb(dict(record.detail)),)).fetchone()
        assert stored_detail is not None  # a SELECT of one value always returns one row
        normalised = AuditRecord(at, record.actor, record.action, record.target, stored_detail[0])
        digest = chain_hash(prev_hash, normalised)
        inserted = conn.execute(
            "INSERT INTO audit_log (at, actor, action, target, detail, prev_hash, hash)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
            (at, record.actor, record.action, record.target, Jsonb(stored_detail[0]), prev_hash, digest),
        ).fetchone()
        assert inserted is not None  # INSERT ... RETURNING of one row
        return int(inserted[0])


def verify(conn: psycopg.Connection, batch: int = 2000) -> VerifyResult:
    """Walk the whole chain in id order through a server-side cursor (constant memory) and check every link."""
    with conn.transaction(), conn.cursor(name="audit_verify") as cur:
        cur.itersize = batch
        cur.execute(sql.SQL("SELECT {} FROM audit_log ORDER BY id").format(_COLUMNS))
        return verify_chain(_stored(row) for row in cur)


def search(
    conn: psycopg.Connection,
    *,
    actor: str | None = None,
    action: str | None = None,
    target: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    scope: str = "/",
    school: str | None = None,
    limit: int = 100,
    offset: int = 0,
    newest_first: bool = False,
) -> list[StoredAudit]:
    """Find records by exact actor, action, target and by time (``since`` inclusive, ``until`` not), oldest first.

    Only records inside ``scope`` (an organisation path; ``"/"`` is the whole tree) are found, and with
    ``school`` only those about that school or anything in it (its incidents, cameras, people).
    """
    if not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"limit must be between 1 and {MAX_PAGE}, got {limit}")
    if offset < 0:
        raise ValueError(f"offset must not be negative, got {offset}")
    where, params = _where(AuditFilter(actor, action, target, since, until, scope), school)
    order = sql.SQL("id DESC" if newest_first else "id")
    query = sql.SQL("SELECT {} FROM audit_log {} ORDER BY {} LIMIT %s OFFSET %s").format(_COLUMNS, where, order)
    rows = conn.execute(query, [*params, limit, offset]).fetchall()
    return [_stored(row) for row in rows]


def export_csv(
    conn: psycopg.Connection,
    out: TextIO,
    *,
    actor: str | None = None,
    action: str | None = None,
    target: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    scope: str = "/",
    school: str | None = None,
) -> int:
    """Write the matching records as CSV (with both hashes, so the export can be re-verified) and return how many."""
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    count = 0
    for row in export_rows(conn, actor=actor, action=action, target=target, since=since, until=until,
                           scope=scope, school=school):
        writer.writerow(row)
        count += 1
    return count


def export_rows(
    conn: psycopg.Connection,
    *,
    actor: str | None = None,
    action: str | None = None,
    target: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    scope: str = "/",
    school: str | None = None,
    batch: int = 2000,
) -> Iterator[tuple[str, ...]]:
    """Yield the matching records as CSV rows (:func:`csv_row`) in id order, ``batch`` at a time from the server.

    A server-side cursor in its own transaction: memory stays flat however many records match, so a year's trail
    can be streamed to a client as it is read.
    """
    where, params = _where(AuditFilter(actor, action, target, since, until, scope), school)
    with conn.transaction(), conn.cursor(name="audit_export") as cur:
        cur.itersize = batch
        cur.execute(sql.SQL("SELECT {} FROM audit_log {} ORDER BY id").format(_COLUMNS, where), params)
        for row in cur:
            yield csv_row(_stored(row))


def csv_row(stored: StoredAudit) -> tuple[str, ...]:
    """Format one record for CSV: times in UTC ISO-8601, detail as sorted JSON, hashes in hex."""
    record = stored.record
    return (
        str(stored.id),
        record.at.astimezone(UTC).isoformat(),
        record.actor,
        record.action,
        record.target or "",
        json.dumps(record.detail, sort_keys=True, ensure_ascii=False),
        stored.prev_hash.hex() if stored.prev_hash is not None else "",
        stored.hash.hex() if stored.hash is not None else "",
    )


def _where(filters: AuditFilter, school: str | None = None) -> tuple[sql.Composable, list[Any]]:
    clauses: list[sql.Composable] = []
    params: list[Any] = []
    for column, value in (("actor", filters.actor), ("action", filters.action), ("target", filters.target)):
        if value is not None:
            clauses.append(sql.SQL("{} = %s").format(sql.Identifier(column)))
            params.append(value)
    if filters.since is not None:
        clauses.append(sql.SQL("at >= %s"))
        params.append(filters.since)
    if filters.until is not None:
        clauses.append(sql.SQL("at < %s"))
        params.append(filters.until)
    if filters.scope != ROOT:
        # campusguard_within is STRICT: a NULL path (a record about nothing in the tree) is never within a scope,
        # and only the whole tree's readers get those records back.
        unscoped = sql.SQL(" OR scope_path IS NULL") if owns_tree(filters.scope) else sql.SQL("")
        clauses.append(sql.SQL("(campusguard_within(scope_path, %s){})").format(unscoped))
        params.append(filters.scope)
    if school is not None:
        # The record's own path (0027) inside the school's: an unknown school has no path, and the STRICT
        # function answers NULL for it, so nothing is found rather than everything.
        clauses.append(sql.SQL("campusguard_within(scope_path, (SELECT path FROM org_units WHERE id = %s))"))
        params.append(school)
    if not clauses:
        return sql.SQL(""), params
    return sql.SQL("WHERE ") + sql.SQL(" AND ").join(clauses), params


def _stored(row: tuple[Any, ...]) -> StoredAudit:
    id_, at, actor, action, target, detail, prev_hash, digest = row
    return StoredAudit(
        id=int(id_),
        record=AuditRecord(at=at, actor=actor, action=action, target=target, detail=detail),
        prev_hash=None if prev_hash is None else bytes(prev_hash),
        hash=None if digest is None else bytes(digest),
    )

