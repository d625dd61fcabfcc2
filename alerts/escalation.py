"""Escalation: who to notify next about an unacknowledged incident, and when. Pure; the clock is passed in.

Level 0 of the chain is notified when the incident is raised. While it stays *raised* (nobody has
acknowledged it), level ``n`` is due exactly at ``raised_at + n * ack SLA`` of its severity: each level gets
the same time to react before the next is woken. ``raised_at`` is server time: a signal delivered late, or
from a device whose clock is off, still gets every level's full time (``opened_at`` is its device time).
Past the last level nothing escalates further; instead the current level is re-notified every ``renotify_s``
of the severity since the last notification. Escalation takes precedence over a re-notification due at the
same moment. Once anyone acknowledges (or responds, or
resolves), nothing is due. A severity without an SLA (info by default) never escalates, and one without a
re-notify interval is never re-notified.

The SLA is read from the incident's *current* severity, so a merge that raises medium to critical brings
the next level forward; if that moment has already passed the escalation is due at once. A service that
was down catches up one level per call: record each step with :func:`record_notification` and ask again.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain.incident import SYSTEM_ACTOR, Incident, Severity, Status, Transition

_Seconds = Annotated[float, Field(gt=0, le=86_400)]


class EscalationPolicy(BaseModel):
    """Acknowledgement deadlines, the chain of who is woken, and how often to nag."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ack_sla_s: Annotated[
        dict[Severity, _Seconds | None],
        Field(description="Seconds an incident of each severity may stay unacknowledged before the next level "
              "of the chain is notified; none (or absent): never escalate."),
    ] = Field(default_factory=lambda: {
        Severity.CRITICAL: 60.0, Severity.HIGH: 180.0, Severity.MEDIUM: 900.0, Severity.LOW: 3600.0,
        Severity.INFO: None,
    })
    renotify_s: Annotated[
        dict[Severity, _Seconds | None],
        Field(description="While unacknowledged, re-notify the current level this often; none: never."),
    ] = Field(default_factory=lambda: {
        Severity.CRITICAL: 30.0, Severity.HIGH: 120.0, Severity.MEDIUM: 600.0, Severity.LOW: None,
        Severity.INFO: None,
    })
    chain: Annotated[
        tuple[str, ...],
        Field(min_length=1, description="Who is notified at each level, first to last."),
    ] = ("school_guards", "school_admin", "district_officer")

    @model_validator(mode="after")
    def _distinct(self) -> Self:
        if len(set(self.chain)) != len(self.chain):
            raise ValueError("chain names a level twice")
        return self

    def sla(self, severity: Severity) -> timedelta | None:
        """Return the acknowledgement deadline of a severity, if it has one."""
        seconds = self.ack_sla_s.get(severity)
        return None if seconds is None else timedelta(seconds=seconds)

    def renotify(self, severity: Severity) -> timedelta | None:
        """Return the re-notification interval of a severity, if it has one."""
        seconds = self.renotify_s.get(severity)
        return None if seconds is None else timedelta(seconds=seconds)


@dataclass(frozen=True, slots=True)
class EscalationStep:
    """One notification that is due: which level, who, why, and when it became due.

    ``kind`` is ``notify`` (the first notice, level 0), ``escalate`` (a new level) or ``renotify``.
    """

    kind: Literal["notify", "escalate", "renotify"]
    level: int
    recipients: str
    reason: str
    due_at: datetime
    after_s: float | None = None
    """The SLA (escalate) or interval (renotify) that made it due, in seconds: pages say it in their language."""

    @property
    def renotify(self) -> bool:
        """True for a reminder to a level already notified."""
        return self.kind == "renotify"


def next_escalation_at(incident: Incident, policy: EscalationPolicy) -> datetime | None:
    """When the next level is due if nobody acknowledges; None when there is no further level or SLA."""
    sla = policy.sla(incident.severity)
    nxt = incident.escalation_level + 1
    if incident.status is not Status.RAISED or incident.cleared_at is not None or sla is None \
            or nxt >= len(policy.chain):
        return None
    return incident.raised + nxt * sla


def due(incident: Incident, policy: EscalationPolicy, now: datetime) -> EscalationStep | None:
    """Return the notification due at ``now``, or None. Record it with :func:`record_notification` once sent.

    The first notice always goes; after it, an incident whose condition has cleared is neither escalated nor
    reminded about: it waits, "cleared, not yet acknowledged", for a person to close it.
    """
    if incident.status is not Status.RAISED:
        return None
    if incident.cleared_at is not None and incident.last_notified_at is not None:
        return None
    level = incident.escalation_level
    if incident.last_notified_at is None:
        return EscalationStep("notify", level, policy.chain[min(level, len(policy.chain) - 1)], "raised",
                              incident.raised)
    escalate_at = next_escalation_at(incident, policy)
    if escalate_at is not None and now >= escalate_at:
        sla = policy.sla(incident.severity)
        sla_s = (sla or timedelta()).total_seconds()  # an escalation is only due under an SLA
        return EscalationStep("escalate", level + 1, policy.chain[level + 1],
                              f"not acknowledged within {sla_s:g} s at level {level}", escalate_at, sla_s)
    interval = policy.renotify(incident.severity)
    if interval is not None and now >= incident.last_notified_at + interval:
        current = policy.chain[min(level, len(policy.chain) - 1)]
        every_s = interval.total_seconds()
        return EscalationStep("renotify", level, current, f"still not acknowledged: reminder every {every_s:g} s",
                              incident.last_notified_at + interval, every_s)
    return None


def record_notification(incident: Incident, step: EscalationStep, at: datetime
                        ) -> tuple[Incident, Transition | None]:
    """Record that ``step`` was sent at ``at``: the changed incident and the transition to store.

    A reminder changes nothing about the incident but when it was last sent and how many reminders went: it
    is a delivery (counted, with each channel's result), not a transition, so it adds no timeline line, no
    audit record and no live-feed change (ISA-18.2: a re-annunciation is not a new alarm).
    """
    if step.renotify:
        return replace(incident, last_notified_at=at, reminders=incident.reminders + 1), None
    seq = incident.event_seq + 1
    kind = {"notify": "notified", "escalate": "escalated", "renotify": "renotified"}[step.kind]
    changed = replace(incident, escalation_level=step.level, last_notified_at=at, event_seq=seq)
    return changed, Transition(incident.id, seq, at, incident.school_id, kind, SYSTEM_ACTOR, step.reason, None,
                               {"level": step.level, "recipients": step.recipients,
                                "due_at": step.due_at.isoformat()}
                               | ({"after_s": step.after_s} if step.after_s is not None else {}))
