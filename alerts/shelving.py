"""Shelving and drill mode as pure rules: which shelf silences a signal, what a person may shelve, and for how long.

ISA-18.2 lets an operator *shelve* a nuisance alarm: take it out of the way for a bounded time, with a reason,
under audit. Here a school admin or an officer shelves one source of one school (a chattering door contact,
a camera facing a flag), optionally one incident type from it. While the shelf holds, its signals are decided
as shelved (stored and counted, not alerted) and its open incidents are not escalated or reminded about. A
panic is never shelved: a button pressed is a person asking for help, whatever the source's record. Signals
that *end* a condition still pass, so a shelved source's incidents can still clear.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from alerts.rules import NEVER_CLEARS, Rule
from domain.alarms import DrillMode, Shelf
from domain.incident import Incident

NEVER_SHELVED = NEVER_CLEARS
"""Incident types no shelf silences: panics and drills."""
MAX_SHELF = timedelta(hours=24)
"""The longest a person may shelve a source: past a day a source is broken and needs repair, not silence."""
MAX_DRILL_MODE = timedelta(hours=8)
"""The longest a school stays in drill mode: a school day, so a forgotten drill never hides a real week."""


class ShelfRefused(ValueError):  # noqa: N818 - a refusal, worded for the person who asked
    """A shelf or drill mode request that breaks a rule (no reason, too long, a panic)."""


def covering(shelves: Iterable[Shelf], source_id: str, rule: Rule | None, now: datetime) -> Shelf | None:
    """Return the active shelf that silences a signal from ``source_id`` matched by ``rule``, if any.

    Ending signals (``rule.ends``) and the types in :data:`NEVER_SHELVED` are never silenced.
    """
    if rule is None or rule.type is None or rule.type in NEVER_SHELVED:
        return None
    return next((s for s in shelves if s.active(now) and s.source_id == source_id
                 and s.type in (None, rule.type)), None)


def shelves_incident(shelves: Iterable[Shelf], incident: Incident, now: datetime) -> bool:
    """Say whether an open incident is held by a shelf: every source of it shelved, and it is no panic or drill."""
    if incident.type in NEVER_SHELVED or incident.drill:
        return False
    sources = {e.source_id for e in incident.evidence}
    active = [s for s in shelves if s.active(now) and s.school_id == incident.school_id
              and s.type in (None, incident.type)]
    return bool(sources) and all(any(s.source_id == source for s in active) for source in sources)


def check_request(reason: str, duration: timedelta, longest: timedelta, incident_type: str | None = None) -> None:
    """Refuse a shelf or drill-mode request without a reason, not bounded by ``longest``, or for a panic."""
    if not reason.strip():
        raise ShelfRefused("say why: a reason is required")
    if duration <= timedelta(0) or duration > longest:
        raise ShelfRefused(f"the duration must be more than 0 and at most {int(longest.total_seconds() // 60)} "
                           "minutes")
    if incident_type in NEVER_SHELVED:
        raise ShelfRefused(f"a {incident_type} is never shelved")


def in_drill(modes: Iterable[DrillMode], school_id: str, now: datetime) -> DrillMode | None:
    """Return the drill mode the school is in at ``now``, if any."""
    return next((m for m in modes if m.school_id == school_id and m.active(now)), None)
