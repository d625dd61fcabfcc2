"""The audit trail's hash chain: canonical records, their hashes, and verification. Pure: no I/O.

Each record's hash is SHA-256 over the previous record's hash followed by the record's canonical bytes, so
editing, removing or reordering a stored record breaks the chain at that point. The first record chains to
:data:`GENESIS`. What a chain alone cannot show is records cut off the *end*, or a chain rewritten from some
point on with every later hash recomputed: for that, keep the head hash that :func:`verify_chain` reports
somewhere the database's owner cannot write (a printed report, a ticket, another system) and compare later.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

GENESIS = bytes(32)
"""The ``prev_hash`` of the first record: 32 zero bytes rather than NULL, so the unique index covers it."""


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One thing someone (a person, or a stage of ours) did: who, what, to what, when, and the details."""

    at: datetime
    actor: str
    action: str
    target: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Refuse naive times, which would hash differently depending on the server's time zone."""
        if self.at.tzinfo is None or self.at.utcoffset() is None:
            raise ValueError(f"at must be timezone-aware, got naive {self.at.isoformat()}")


@dataclass(frozen=True, slots=True)
class StoredAudit:
    """A record as stored: its id (its place in the chain) and the two hashes that link it."""

    id: int
    record: AuditRecord
    prev_hash: bytes | None
    hash: bytes | None


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Which records a search or export covers; ``since`` is inclusive, ``until`` exclusive."""

    actor: str | None = None
    action: str | None = None
    target: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    # The reader's organisation path: only records about things inside it. The whole tree (domain.scope.owns_tree)
    # also reads the records about nothing in the tree (site loads, unknown names' failed logins).
    scope: str = "/"


class BreakReason(StrEnum):
    """Why the chain is broken at a record."""

    EDITED = "edited"
    """The record's content no longer matches its own hash."""
    GAP = "gap"
    """The record's predecessor is not in the table: deleted, or rewritten with a recomputed hash."""
    REORDERED = "reordered"
    """The record's predecessor is in the table, but not right before it."""


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """The outcome of walking the chain: how many records were checked and the first break, if any."""

    records: int
    head_hash: bytes
    broken_id: int | None = None
    reason: BreakReason | None = None
    explanation: str = ""

    @property
    def ok(self) -> bool:
        """Whether every record is intact and in place."""
        return self.broken_id is None


def canonical_bytes(record: AuditRecord) -> bytes:
    """Serialise a record the one way its hash is computed: sorted-key compact JSON, times in UTC.

    ``detail`` must already be in the form the database gives back (see ``store.audit_repo``), since jsonb
    rewrites some numbers (``1e16`` comes back as ``10000000000000000``).
    """
    document = {
        "at": record.at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor": record.actor,
        "action": record.action,
        "target": record.target,
        "detail": record.detail,
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def chain_hash(prev_hash: bytes, record: AuditRecord) -> bytes:
    """Hash a record onto the chain after ``prev_hash``."""
    return hashlib.sha256(prev_hash + canonical_bytes(record)).digest()


def verify_chain(records: Iterable[StoredAudit]) -> VerifyResult:
    """Walk stored records in id order and report the first one that is edited, missing its predecessor or out of place.

    Streams: memory stays constant however long the chain. After a link break the rest of the stream is read
    once more to tell a reordering (the missing predecessor turns up later) from a gap (it never does). That
    is enough, because the rows before the first break form an intact chain, and each hash has exactly one
    successor, so the predecessor of the breaking row cannot be among them.
    """
    expected_prev = GENESIS
    previous_id: int | None = None
    count = 0
    iterator = iter(records)
    for stored in iterator:
        count += 1
        intact = stored.hash is not None and stored.prev_hash is not None
        if not intact or stored.hash != chain_hash(stored.prev_hash or b"", stored.record):
            return VerifyResult(
                count, expected_prev, stored.id, BreakReason.EDITED,
                f"record {stored.id} was changed after it was written: its content no longer matches its hash",
            )
        if stored.prev_hash != expected_prev:
            return _classify_link_break(stored, previous_id, iterator, count, expected_prev)
        expected_prev = stored.hash
        previous_id = stored.id
    return VerifyResult(count, expected_prev)


def _classify_link_break(
    stored: StoredAudit, previous_id: int | None, rest: Iterable[StoredAudit], count: int, head: bytes
) -> VerifyResult:
    after = "the start of the log" if previous_id is None else f"record {previous_id}"
    for later in rest:
        if later.hash == stored.prev_hash:
            return VerifyResult(
                count, head, stored.id, BreakReason.REORDERED,
                f"record {stored.id} is out of order: it follows {after}, but its predecessor is record {later.id}",
            )
    return VerifyResult(
        count, head, stored.id, BreakReason.GAP,
        f"record {stored.id} does not follow {after}: the record(s) between them were deleted, "
        f"or {after} was rewritten with a recomputed hash",
    )
