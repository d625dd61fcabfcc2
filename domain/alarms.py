"""Alarm-management records shared by the alert stage, the store and the API: shelves and drill modes.

A *shelf* silences one noisy source (optionally one incident type from it) of one school for a bounded time,
with a reason, as ISA-18.2 shelving does; a *drill mode* marks everything one school raises meanwhile as a
drill. Both are set by a person, audited, and end by themselves at ``until`` (or earlier, by a person).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Shelf:
    """A source shelved: its signals are decided as shelved, not alerted, until ``until`` (server time)."""

    id: int
    school_id: str
    source_id: str
    type: str | None  # None: every incident type from the source (panics excepted, always)
    reason: str
    shelved_by: str
    shelved_at: datetime
    until: datetime
    suppressed: int = 0  # signals decided as shelved so far
    ended_at: datetime | None = None
    ended_by: str | None = None

    def active(self, now: datetime) -> bool:
        """Say whether the shelf holds at ``now``: not ended by a person and not yet expired."""
        return self.ended_at is None and self.shelved_at <= now < self.until


@dataclass(frozen=True, slots=True)
class DrillMode:
    """A school in drill mode: what it raises meanwhile is marked as a drill, never counted as real."""

    id: int
    school_id: str
    reason: str
    started_by: str
    started_at: datetime
    until: datetime
    ended_at: datetime | None = None
    ended_by: str | None = None

    def active(self, now: datetime) -> bool:
        """Say whether the school is in drill mode at ``now``."""
        return self.ended_at is None and self.started_at <= now < self.until
