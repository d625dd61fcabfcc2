"""The incident lifecycle: which person-made moves are allowed, and the record each one leaves.

The table, action by action (from → to)::

    acknowledge  raised                         → acknowledged
    respond      raised | acknowledged          → responding   (from raised it is the acknowledgement too)
    resolve      acknowledged | responding      → resolved     (outcome required)
    resolve      raised                         → resolved     (false alarm or drill only, note required)
    close        resolved                       → closed
    reopen       resolved | closed              → acknowledged (note required)

Reopen lands on *acknowledged*, not *raised*: the person reopening is looking at the incident, so paging
everyone again and restarting the escalation clock would be noise; the reopen is their acknowledgement,
and ``acknowledged_at`` is set to the reopen time. Outcome and ``resolved_at`` are cleared. A false alarm
always needs a note, on any path: it is what tunes the rules later. Incidents never reopen on their own:
a new signal after resolution opens a new incident (see ``correlate.py``).

Every accepted move returns the new incident and a :class:`~domain.incident.Transition` naming who, when,
from where and why. A refused move raises :class:`InvalidTransition` and changes nothing.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from domain.incident import Incident, Outcome, Status, Transition


class Action(StrEnum):
    """What a person can do to an incident."""

    ACKNOWLEDGE = "acknowledge"
    RESPOND = "respond"
    RESOLVE = "resolve"
    CLOSE = "close"
    REOPEN = "reopen"


class InvalidTransition(ValueError):  # noqa: N818 - the name the service and UI already expect
    """The move is not allowed from the incident's status, or lacks what it needs (outcome, note)."""


TRANSITIONS: Final[dict[tuple[Action, Status], Status]] = {
    (Action.ACKNOWLEDGE, Status.RAISED): Status.ACKNOWLEDGED,
    (Action.RESPOND, Status.RAISED): Status.RESPONDING,
    (Action.RESPOND, Status.ACKNOWLEDGED): Status.RESPONDING,
    (Action.RESOLVE, Status.RAISED): Status.RESOLVED,
    (Action.RESOLVE, Status.ACKNOWLEDGED): Status.RESOLVED,
    (Action.RESOLVE, Status.RESPONDING): Status.RESOLVED,
    (Action.CLOSE, Status.RESOLVED): Status.CLOSED,
    (Action.REOPEN, Status.RESOLVED): Status.ACKNOWLEDGED,
    (Action.REOPEN, Status.CLOSED): Status.ACKNOWLEDGED,
}
"""Every allowed (action, from) pair and where it leads; anything absent is refused."""

# Without a person on site nobody can confirm a raised incident was real; only a known false alarm or a
# scheduled drill may be closed out unseen.
_UNSEEN_OUTCOMES: Final = frozenset({Outcome.FALSE_ALARM, Outcome.DRILL})


def _check(incident: Incident, action: Action, note: str | None, outcome: Outcome | None) -> Status:
    """Return the target status, or raise saying why the move is refused."""
    what = f"cannot {action.value} {incident.label()}"
    target = TRANSITIONS.get((action, incident.status))
    if target is None:
        raise InvalidTransition(f"{what}: it is {incident.status.value}")
    has_note = note is not None and note.strip() != ""
    if action is Action.RESOLVE:
        if outcome is None:
            raise InvalidTransition(f"{what}: say whether it was real, a false alarm or a drill")
        if incident.status is Status.RAISED and outcome not in _UNSEEN_OUTCOMES:
            raise InvalidTransition(
                f"{what}: it is still raised; acknowledge it before resolving it as {outcome.value}")
        if incident.status is Status.RAISED and not has_note:
            raise InvalidTransition(f"{what}: resolving an unacknowledged incident needs a note")
        if outcome is Outcome.FALSE_ALARM and not has_note:
            raise InvalidTransition(f"{what}: a false alarm needs a note saying why")
    elif outcome is not None:
        raise InvalidTransition(f"{what}: only resolve takes an outcome")
    if action is Action.REOPEN and not has_note:
        raise InvalidTransition(f"{what}: reopening needs a note saying why")
    return target


def apply(
    incident: Incident,
    action: Action,
    actor: str,
    at: datetime,
    note: str | None = None,
    outcome: Outcome | None = None,
    source: str | None = None,
) -> tuple[Incident, Transition]:
    """Make ``actor``'s move at ``at``; returns the changed incident and the transition to record.

    Raises :class:`InvalidTransition` (a ``ValueError``) when the move is refused; ``incident`` is a frozen
    value, so a refused move leaves it as it was.
    """
    if not actor.strip():
        raise InvalidTransition(f"cannot {action.value} {incident.label()}: no actor given")
    target = _check(incident, action, note, outcome)
    changes: dict[str, Any] = {"status": target, "updated_at": at, "event_seq": incident.event_seq + 1}
    if incident.status is Status.RAISED:
        # Any move out of raised means a person has it: respond and the resolve shortcut acknowledge too.
        changes["acknowledged_at"] = at
    if action is Action.RESOLVE:
        changes |= {"outcome": outcome, "resolved_at": at}
    elif action is Action.REOPEN:
        changes |= {"outcome": None, "resolved_at": None, "acknowledged_at": at}
    detail: dict[str, Any] = {"from": incident.status.value, "to": target.value}
    if outcome is not None:
        detail["outcome"] = outcome.value
    transition = Transition(incident.id, incident.event_seq + 1, at, incident.school_id, action.value, actor,
                            note, source, detail)
    return replace(incident, **changes), transition


def mark_seen(
    incident: Incident, user_id: str, at: datetime, source: str | None = None
) -> tuple[Incident, Transition | None]:
    """Record that ``user_id`` opened the incident; only the first time per user leaves a transition.

    Seeing changes no status: a supervisor glancing at the board has not taken charge. A repeat view
    returns the incident unchanged and no transition.
    """
    if user_id in incident.seen_by:
        return incident, None
    seq = incident.event_seq + 1
    seen = replace(incident, seen_by=incident.seen_by | {user_id}, event_seq=seq)
    # updated_at is left alone: it dates changes to the situation, and a view is not one.
    return seen, Transition(incident.id, seq, at, incident.school_id, "seen", user_id, None, source,
                            {"status": incident.status.value})
