"""Correlation: one incident per real situation, however many signals report it.

:func:`correlate` decides what one signal means given the incidents already known:

* :class:`Ignore` - no rule matches, the matching rule is disabled, the signal was already folded into an
  incident (a re-delivery: same ``signal_id``), or it is an ending signal with nothing open to end.
* :class:`Repeat` - the same source reporting the same kind again into an open incident (a button pressed
  five times, a camera re-detecting the same fall): one more occurrence, no new evidence, no new alert.
* :class:`Merge` - a related signal (same merge group, within the rule's radius and window, or from the same
  device for ``same_source`` rules): new evidence, severity raised to the higher of the two (``realert``
  says it rose, so the service pages again). An *ending* signal (``online`` after ``offline``,
  ``geo.route_rejoined``) is a Merge with ``ends=True`` into the newest open incident of the type it ends
  holding evidence from the same device: it is attached as evidence and resolves nothing, because only a
  person can say a situation is over (a panic button back online does not mean the danger passed).
  It is not an occurrence either, and it is attached whatever its age, since outages can last days.
* :class:`NewIncident` - anything else a rule opens.

A position missing on either side counts as near: the point of this stage is fewer, truer alerts, and a
merged incident still lists every piece of evidence. Distances are great-circle (haversine) metres.

:func:`open_incident` and :func:`fold` apply a decision, each returning the incident and its transition.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from alerts.rules import Rule, RuleSet
from domain.incident import CHATTER_COUNT, SYSTEM_ACTOR, Evidence, Incident, Severity, Signal, Status, Transition

EARTH_RADIUS_M = 6_371_008.8
# How long an unanswered incident keeps absorbing its own source's repeats past its rule's window.
STANDING = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class NewIncident:
    """Open a new incident from the signal."""

    type: str
    severity: Severity
    title: str
    evidence: Evidence
    title_key: str | None = None
    """The title's message key (the rule's ``title_key``), filled with ``title_params`` on each reader's page."""
    title_params: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Merge:
    """Attach the signal to an open incident as new evidence."""

    incident_id: int
    evidence: Evidence
    severity: Severity
    """The incident's severity after the merge: the higher of its own and the signal's rule's."""
    realert: bool
    """The merge raised the severity: page again."""
    ends: bool = False
    """An ending signal: evidence only, not an occurrence."""


@dataclass(frozen=True, slots=True)
class Repeat:
    """The same source reported the same thing again: count it, nothing more."""

    incident_id: int


@dataclass(frozen=True, slots=True)
class Ignore:
    """Nothing to do, and why."""

    reason: str


Decision = NewIncident | Merge | Repeat | Ignore


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres between two WGS-84 points (haversine on a sphere)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def evidence_of(signal: Signal, summary: str) -> Evidence:
    """Make the evidence a signal leaves on an incident."""
    return Evidence(signal.kind, signal.evidence_ref, signal.time, summary, signal.signal_id, signal.source_id,
                    signal.lon, signal.lat)


def _nearest_m(incident: Incident, signal: Signal) -> float:
    """Distance to the incident's closest located evidence; 0 when either side has no position."""
    if signal.lon is None or signal.lat is None:
        return 0.0
    slon, slat = signal.lon, signal.lat
    located = [distance_m(e.lon, e.lat, slon, slat) for e in incident.evidence
               if e.lon is not None and e.lat is not None]
    return min(located, default=0.0)


def _from_source(incident: Incident, source_id: str) -> bool:
    return any(e.source_id == source_id for e in incident.evidence)


def _candidates(incidents: Iterable[Incident], signal: Signal, rule: Rule, rules: RuleSet) -> list[Incident]:
    """Open incidents of the rule's merge group that the signal is close enough to, nearest first."""
    window = timedelta(seconds=rule.window_s)
    group = rule.merge_group()
    found = []
    for incident in incidents:
        if rules.group_of(incident.type) != group:
            continue
        # Either side of the incident's active span: a late-delivered signal may predate its opening.
        if not (incident.opened_at - window <= signal.time <= incident.last_signal_at + window):
            continue
        if rule.same_source and not _from_source(incident, signal.source_id):
            continue
        if rule.radius_m is not None and _nearest_m(incident, signal) > rule.radius_m:
            continue
        found.append(incident)
    found.sort(key=lambda i: (_nearest_m(i, signal), -i.last_signal_at.timestamp()))
    return found


def correlate(incidents: Iterable[Incident], signal: Signal, rules: RuleSet, drill: bool = False) -> Decision:
    """Decide what ``signal`` means given the known ``incidents``.

    Pass the open incidents of the school plus recently resolved ones, so a re-delivered signal of theirs is
    still recognised; every incident must be stored (have an id). ``drill``: the school is in drill mode, so
    the signal opens or joins only drill incidents, and a real signal never joins a drill's incident.
    """
    known = [i for i in incidents if i.school_id == signal.school_id]
    for incident in known:
        if incident.id is None:
            raise ValueError(f"correlate needs stored incidents; {incident.label()} has no id")
        if signal.signal_id in incident.signal_ids:
            return Ignore(f"signal {signal.signal_id} is already in incident {incident.id}")
    rule = rules.match(signal)
    if rule is None:
        return Ignore(f"no rule for {signal.kind}")
    if not rule.enabled:
        return Ignore(f"the rule for {rule.kind} is disabled")
    open_ = [i for i in known if i.status.is_open]
    if rule.ends is not None:
        ending = [i for i in open_ if i.type == rule.ends and _from_source(i, signal.source_id)]
        if not ending:
            return Ignore(f"{signal.kind} from {signal.source_id}: no open {rule.ends} incident to attach to")
        target = max(ending, key=lambda i: i.last_signal_at)
        return Merge(_id(target), evidence_of(signal, f"{signal.kind} (ends {rule.ends})"), target.severity,
                     realert=False, ends=True)
    severity = rule.severity or Severity.INFO
    # A standing alarm: the same source reporting the same thing while its incident still waits for a person
    # (raised, nobody has acknowledged it) is that alarm sounding on. A looping or lingering scene is one
    # incident with repeats (ISA-18.2), never a fresh critical every window; the waiting incident's reminders
    # and escalation carry on. Bounded by STANDING since its last signal (each repeat renews it), and never for
    # a panic: a press after the window pages afresh. Once someone acknowledged it, the window decides again.
    kind = rule.type or signal.kind
    for incident in open_:
        if incident.status is Status.RAISED and incident.type == kind and kind != "panic" \
                and incident.drill == drill and severity <= incident.severity \
                and signal.time - incident.last_signal_at <= STANDING \
                and any(e.source_id == signal.source_id and e.kind == signal.kind for e in incident.evidence):
            return Repeat(_id(incident))
    candidates = [i for i in _candidates(open_, signal, rule, rules) if i.drill == drill]
    for incident in candidates:
        same = any(e.source_id == signal.source_id and e.kind == signal.kind for e in incident.evidence)
        # A repeat that is more urgent than the incident (an intrusion carrying on past closing time) must
        # still raise it, so it is merged as evidence instead.
        if same and severity <= incident.severity:
            return Repeat(_id(incident))
    title = rule.render_title(signal)
    if candidates:
        target = candidates[0]
        merged = max(target.severity, severity)
        return Merge(_id(target), evidence_of(signal, title), merged, realert=merged > target.severity)
    return NewIncident(rule.type or signal.kind, severity, title, evidence_of(signal, title), rule.title_key,
                       rule.title_params(signal))


def _id(incident: Incident) -> int:
    if incident.id is None:  # checked in correlate; keeps the type narrow without a cast
        raise ValueError(f"{incident.label()} has no id")
    return incident.id


def open_incident(signal: Signal, decision: NewIncident, decided_at: datetime, drill: bool = False
                  ) -> tuple[Incident, Transition]:
    """Open the raised incident a :class:`NewIncident` decision asks for, with its first transition (seq 1).

    ``opened_at`` is the signal's device time (when it happened); ``raised_at``, ``updated_at`` and the
    transition are the server time of the decision, ``decided_at`` (the one clock: docs/alerts.md).
    """
    incident = Incident(
        id=None, school_id=signal.school_id, type=decision.type, severity=decision.severity,
        status=Status.RAISED, title=decision.title, title_key=decision.title_key,
        title_params=decision.title_params, opened_at=signal.time, updated_at=decided_at,
        last_signal_at=signal.time, lon=signal.lon, lat=signal.lat, occurrences=1,
        evidence=(decision.evidence,), signal_ids=frozenset({signal.signal_id}), event_seq=1,
        raised_at=decided_at, drill=drill or decision.type == "drill",
    )
    return incident, Transition(None, 1, decided_at, signal.school_id, "raised", SYSTEM_ACTOR, None,
                                signal.source_id, {"signal_id": signal.signal_id, "kind": signal.kind,
                                                   "severity": decision.severity.value,
                                                   "signal_at": signal.time.isoformat(), "drill": incident.drill})


def _toggled(incident: Incident, at: datetime) -> dict[str, Any]:
    """Count a change of the condition (cleared, or came back) at ``at``, for chattering."""
    return {"toggles": incident.toggles + 1,
            "recent_toggles": (*incident.recent_toggles, at)[-CHATTER_COUNT:]}


def fold(incident: Incident, signal: Signal, decision: Merge | Repeat, decided_at: datetime
         ) -> tuple[Incident, Transition]:
    """Fold a signal into the incident a :class:`Merge` or :class:`Repeat` names, at server time ``decided_at``.

    An ending signal clears the incident (``cleared_at`` = ``decided_at``): its condition is back to normal, so
    escalation stops, but it stays open for a person to close. Any other signal means the condition holds
    again and un-clears it. Each of those changes counts as a toggle; three in a minute is chattering
    (:attr:`~domain.incident.Incident.chattering`), still one incident.
    """
    if decision.incident_id != incident.id:
        raise ValueError(f"decision is for incident {decision.incident_id}, not {incident.id}")
    seq = incident.event_seq + 1
    # updated_at is server time and only moves forward; the opening (device time, a fact) moves back to the
    # earliest signal: after an outage the presses are decided in commit order, and a first press decided late
    # must still date the situation.
    common: dict[str, Any] = {"updated_at": max(incident.updated_at, decided_at), "signal_ids": incident.signal_ids
                              | {signal.signal_id}, "event_seq": seq, "opened_at": min(incident.opened_at, signal.time)}
    detail: dict[str, object] = {"signal_id": signal.signal_id, "kind": signal.kind,
                                 "signal_at": signal.time.isoformat()}
    ends = isinstance(decision, Merge) and decision.ends
    if ends == (incident.cleared_at is None):  # it clears now, or it held again after clearing
        common |= _toggled(incident, decided_at)
    if isinstance(decision, Repeat):
        changed = replace(incident, occurrences=incident.occurrences + 1,
                          last_signal_at=max(incident.last_signal_at, signal.time), cleared_at=None, **common)
        kind = "repeat"
    elif decision.ends:
        changed = replace(incident, evidence=(*incident.evidence, decision.evidence),
                          cleared_at=incident.cleared_at or decided_at, **common)
        kind = "ended"
    else:
        lon, lat = (incident.lon, incident.lat) if incident.lon is not None else (signal.lon, signal.lat)
        changed = replace(incident, evidence=(*incident.evidence, decision.evidence),
                          occurrences=incident.occurrences + 1, severity=decision.severity, lon=lon, lat=lat,
                          last_signal_at=max(incident.last_signal_at, signal.time), cleared_at=None, **common)
        kind = "evidence"
        if decision.realert:
            detail |= {"severity_from": incident.severity.value, "severity_to": decision.severity.value}
    if changed.chattering and not incident.chattering:
        detail["chattering"] = changed.toggles
    transition = Transition(incident.id, seq, decided_at, incident.school_id, kind, SYSTEM_ACTOR, None,
                            signal.source_id, detail)
    return changed, transition
