"""The alert service: the I/O around the pure alert core (correlate, lifecycle, escalation).

``device_events`` is its queue: panics, device health and geo events are all stored there by ingest and the
geo service before anything else happens, so a panic raised while this service was down is still decided when
it starts. ``NOTIFY`` on the upstream channels only wakes it. Each event is decided once (``alert_signals``
holds its id), in one transaction with the incident change, its transition and its audit record; the
notifications follow the commit, and escalation sends what the policy says is due.
"""

from __future__ import annotations

import logging
import select
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from alerts.correlate import Ignore, Merge, NewIncident, Repeat, correlate, fold, open_incident
from alerts.cross_modal import CookingWatch
from alerts.escalation import EscalationPolicy, due, record_notification
from alerts.kitchens import CookingMonitor
from alerts.lifecycle import Action, apply, mark_seen
from alerts.notifiers.base import EventKind, Notification, Notifier
from alerts.patrol_watch import due_alarms as patrol_alarms
from alerts.rules import RuleSet
from alerts.shelving import covering, shelves_incident
from domain.audit import AuditRecord
from domain.incident import SYSTEM_ACTOR, Incident, Outcome, Signal, Transition
from store import alarm_repo, audit_repo
from store.channels import EVENT_CHANNEL, GEO_CHANNEL, PANIC_CHANNEL, announce_incident, listen
from store.db import connect, is_transient
from store.incident_repo import (
    PendingEvent,
    claim_signal,
    get_incident,
    insert_incident,
    link_signal,
    link_signal_without_incident,
    open_incidents,
    pending_events,
    recipients,
    record_delivery,
    record_transition,
    signal_id_of,
    unacknowledged,
    update_incident,
)

log = logging.getLogger(__name__)

# Events older than this at start-up are history, not news: an alert service that was down for a day does not
# page about yesterday's low batteries.
LOOKBACK = timedelta(hours=6)
BATCH = 200
# Incidents of this type come from `campusguard drill`: real path, real notifications, marked as exercises.
DRILL_TYPE = "drill"
# The cooking rule counts minutes; a pass every few seconds is prompt enough and cheap.
COOKING_TICK_S = 10.0


def to_signal(event: PendingEvent) -> Signal | None:
    """Turn a stored device event into the alert core's input; None when it belongs to no school."""
    if event.school_id is None:
        return None
    # The place ("Main office, behind the front desk") is what a guard runs to; titles name it.
    detail = dict(event.detail) | {"device_kind": event.device_kind, "place": event.place}
    # Geo events follow their subject (the bus, not one of its trackers), so bus rules can merge by source.
    return Signal(signal_id_of(event.kind, event.device_id, event.time), event.kind, event.school_id,
                  event.subject_id, event.time, event.lon, event.lat, detail, evidence_ref(event.detail))


def evidence_ref(detail: Mapping[str, Any]) -> str | None:
    """Name what a person can open for this event: a camera event's snapshot (``snapshot:<id>``); else none.

    The vision stage stores the snapshot before its event (``store.vision_repo``), so the id always resolves.
    """
    snapshot = detail.get("snapshot_id")
    return f"snapshot:{snapshot}" if isinstance(snapshot, int) and not isinstance(snapshot, bool) else None


class AlertService:
    """Decides device events into incidents and sends what is due; thread-safe entry points."""

    def __init__(self, database_url: str, rules: RuleSet, policy: EscalationPolicy,
                 notifiers: Sequence[Notifier[Any]], cooking: CookingWatch | None = None) -> None:
        """Prepare; connections open on first use.

        ``cooking`` holds the unattended-cooking thresholds (its zones are ignored: they are paired from the
        loaded site, see :mod:`alerts.kitchens`); the defaults when none.
        """
        self._url = database_url
        self.rules = rules
        self.policy = policy
        self.notifiers = list(notifiers)
        self._stop = threading.Event()
        self._kinds = sorted({r.kind for r in rules.rules})
        self._started = datetime.now(UTC)
        self._notify_now = threading.Event()
        # One connection per thread (deciding, escalation, cooking), kept between passes: opening one costs
        # milliseconds that a panic's path to the siren should not pay twice.
        self._local = threading.local()
        self.cooking = CookingMonitor(cooking or CookingWatch(), LOOKBACK)

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection]:
        if not getattr(self._local, "keep", False):  # a one-off call from outside the loops
            with connect(self._url, autocommit=True) as once:
                yield once
            return
        conn: psycopg.Connection | None = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            conn = self._local.conn = connect(self._url, autocommit=True)
        try:
            yield conn
        except psycopg.Error:
            conn.close()  # possibly broken; the next pass opens a fresh one
            self._local.conn = None
            raise

    def _keep_connection(self) -> None:
        """Keep this loop thread's connection between passes, until :meth:`_close_connection`."""
        self._local.keep = True

    def _close_connection(self) -> None:
        conn: psycopg.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
        self._local.keep = False

    # --- deciding ------------------------------------------------------------------------------------------

    def decide_pending(self) -> int:
        """Decide every waiting event; returns how many were decided."""
        decided = 0
        with self._connection() as conn:
            while True:
                # One statement on an autocommit connection: no BEGIN/COMMIT round trips on a panic's path (each
                # costs milliseconds when the cores are busy with a GPS backlog).
                batch = pending_events(conn, self._started - LOOKBACK, self._kinds, BATCH)
                for event in batch:
                    decided += self._decide_alone(conn, event)
                if len(batch) < BATCH:
                    return decided

    def _decide_alone(self, conn: psycopg.Connection, event: PendingEvent) -> int:
        """Decide one event; one the code cannot decide is set aside, so it never blocks the panics behind it."""
        try:
            return self._decide(conn, event)
        except Exception as exc:
            if is_transient(exc):
                raise  # the database went away: the whole pass starts again once it is back
            log.exception("event %s of %s could not be decided; set aside", event.kind, event.device_id)
            signal_id = signal_id_of(event.kind, event.device_id, event.time)
            with conn.transaction():
                claim_signal(conn, signal_id, f"failed: {type(exc).__name__}: {exc}"[:500], datetime.now(UTC))
            return 0

    def _decide(self, conn: psycopg.Connection, event: PendingEvent) -> int:
        signal = to_signal(event)
        signal_id = signal.signal_id if signal else signal_id_of(event.kind, event.device_id, event.time)
        return self._decide_signal(conn, signal_id, signal)

    def _decide_signal(self, conn: psycopg.Connection, signal_id: str, signal: Signal | None) -> int:
        now = datetime.now(UTC)
        with conn.transaction():
            if not claim_signal(conn, signal_id, "pending", now):
                return 0
            if signal is None:
                link_signal_without_incident(conn, signal_id, "ignored: device belongs to no school")
                return 1
            incidents = open_incidents(conn, signal.school_id)
            shelf = covering(alarm_repo.active_shelves(conn, now, signal.school_id), signal.source_id,
                             self.rules.match(signal), now)
            if shelf is not None:
                # Kept (device_events, alert_signals) and counted on the shelf, never alerted.
                link_signal_without_incident(conn, signal_id, f"shelved: shelf {shelf.id}")
                alarm_repo.count_suppressed(conn, shelf.id)
                return 1
            drill = bool(alarm_repo.active_drill_modes(conn, now, signal.school_id))
            decision = correlate(incidents, signal, self.rules, drill=drill)
            if isinstance(decision, Ignore):
                link_signal_without_incident(conn, signal_id, f"ignored: {decision.reason}")
                return 1
            if isinstance(decision, NewIncident):
                incident, transition = open_incident(signal, decision, now, drill)
                incident_id = insert_incident(conn, incident)
                incident = replace(incident, id=incident_id)
            else:
                target = next(i for i in incidents if i.id == decision.incident_id)
                incident, transition = fold(target, signal, decision, now)
                if isinstance(decision, Merge) and decision.realert:
                    # Worse than it was: page again from the current level.
                    incident = replace(incident, last_notified_at=None)
                update_incident(conn, incident)
            assert incident.id is not None
            record_transition(conn, transition, incident.id)
            link_signal(conn, signal_id, incident.id, _decision_name(decision))
            self._audit(conn, transition, incident)
            announce_incident(conn, incident.id)
        log.info("%s: %s %s (%s)", _decision_name(decision), incident.label(), incident.type, signal.source_id)
        if isinstance(decision, NewIncident) or (isinstance(decision, Merge) and decision.realert):
            # The first notice is due now: wake the escalation thread instead of leaving it to its next tick.
            self._notify_now.set()
        return 1

    def watch_cooking(self, now: datetime | None = None) -> int:
        """Run the unattended-cooking rule over new readings and sightings; returns how many signals were new."""
        moment = now or datetime.now(UTC)
        with self._connection() as conn:
            with conn.transaction():
                signals = self.cooking.poll(conn, moment)
            decided = sum(self._decide_signal(conn, s.signal_id, s) for s in signals)
        self.cooking.commit()
        return decided

    def watch_patrols(self, now: datetime | None = None) -> int:
        """Raise the alarms of patrol rounds not complete by their deadline; returns how many were new."""
        moment = now or datetime.now(UTC)
        with self._connection() as conn:
            with conn.transaction():
                signals = patrol_alarms(conn, moment, LOOKBACK)
            return sum(self._decide_signal(conn, s.signal_id, s) for s in signals)

    # --- escalation and notification -----------------------------------------------------------------------

    def escalate_due(self, now: datetime | None = None, expire: bool = True) -> int:
        """Send every notification the policy says is due; returns how many steps were sent.

        ``expire``: first stamp the shelves and drill modes that ran out. A pass woken by a new incident skips
        it (the escalation loop runs it at least once a tick): ``active_shelves`` already leaves expired ones
        out, and the stamping's transaction was four round trips on the way to a panic's first notice.
        """
        moment = now or datetime.now(UTC)
        sent = 0
        with self._connection() as conn:
            if expire:
                self._expire(conn, moment)
            with conn.transaction():
                shelves = alarm_repo.active_shelves(conn, moment)
                # A shelved source's open incidents wait silently with it (never a panic: shelves_incident).
                steps = [(i, step) for i in unacknowledged(conn) if (step := due(i, self.policy, moment))
                         and not shelves_incident(shelves, i, moment)]
            for incident, step in steps:
                event: EventKind = "raised" if step.kind == "notify" else "escalated"
                people = recipients(conn, incident.school_id, step.recipients)  # one statement, autocommit
                notification = self._notification(incident, event, moment, step.level, people)
                # In parallel: a dead webhook retrying for a minute must not delay the siren or the email.
                with ThreadPoolExecutor(max_workers=max(1, len(self.notifiers))) as pool:
                    sent_results = pool.map(Notifier.send, self.notifiers, [notification] * len(self.notifiers))
                    results = list(zip((n.name for n in self.notifiers), sent_results, strict=True))
                with conn.transaction():
                    current = get_incident(conn, incident.id or 0)
                    if current is None or current.status != incident.status:
                        continue  # acknowledged while we were sending: the step stands but is not recorded
                    changed, transition = record_notification(current, step, moment)
                    update_incident(conn, changed)
                    if transition is not None:
                        record_transition(conn, transition, changed.id or 0)
                        self._audit(conn, transition, changed)
                    for name, result in results:
                        record_delivery(conn, changed.id or 0, name, event, result.ok, result.attempts,
                                        result.error, result.at)
                sent += 1
        return sent

    def _expire(self, conn: psycopg.Connection, now: datetime) -> None:
        """Stamp and audit the shelves and drill modes that ran out: once each, by the stage that stamps them."""
        with conn.transaction():
            shelves, drills = alarm_repo.expire(conn, now)
            for shelf in shelves:
                audit_repo.append(conn, AuditRecord(now, SYSTEM_ACTOR, "shelf.expired", f"shelf:{shelf.id}", {
                    "school_id": shelf.school_id, "source_id": shelf.source_id, "type": shelf.type,
                    "suppressed": shelf.suppressed, "until": shelf.until.isoformat()}))
            for mode in drills:
                audit_repo.append(conn, AuditRecord(now, SYSTEM_ACTOR, "drill_mode.expired",
                                                    f"school:{mode.school_id}", {"until": mode.until.isoformat()}))

    def act(self, incident_id: int, action: Action, actor: str, note: str | None = None,
            outcome: Outcome | None = None, source: str | None = None) -> Incident:
        """Make a person's move on an incident (acknowledge, respond, resolve...); raises InvalidTransition."""
        with connect(self._url) as conn:
            return act(conn, incident_id, action, actor, note, outcome, source)

    def _notification(self, incident: Incident, event: EventKind, at: datetime, level: int,
                      people: tuple[str, ...] = ()) -> Notification:
        return Notification(
            incident_id=incident.id or 0, school_id=incident.school_id, type=incident.type,
            severity=incident.severity.value, status=incident.status.value,
            title=incident.title, event=event, at=at, opened_at=incident.opened_at,
            lon=incident.lon, lat=incident.lat, message=incident.title, level=level, recipients=people,
            drill=incident.drill or incident.type == DRILL_TYPE, title_key=incident.title_key,
            title_params=dict(incident.title_params))

    def _audit(self, conn: psycopg.Connection, transition: Transition, incident: Incident) -> None:
        audit_transition(conn, transition, incident)

    # --- the loop ------------------------------------------------------------------------------------------


    def run(self, tick_s: float = 1.0, cooking_s: float = COOKING_TICK_S) -> None:
        """Listen and decide until :meth:`stop`; escalation and the cooking watch run on threads of their own."""
        # Escalation sends over the network; on its own thread a slow channel never delays deciding a panic.
        escalator = threading.Thread(target=self._escalate_loop, args=(tick_s,), name="escalation", daemon=True)
        escalator.start()
        self._keep_connection()
        # Minutes-scale rule over polled tables: its own slow loop, never in the way of a panic.
        threading.Thread(target=self._cooking_loop, args=(cooking_s,), name="cooking", daemon=True).start()
        while not self._stop.is_set():
            try:
                self._listen(tick_s)
            except Exception:
                # The database stopped (or a bug): decisions wait, never end. Reconnect, LISTEN again, and
                # decide at once whatever was stored meanwhile (device_events is the queue).
                log.exception("alert loop failed; reconnecting")
                self._close_connection()
                self._keep_connection()
                self._stop.wait(1.0)
        self._close_connection()
        # A pass still sending would open a held connection again after close(): let it finish first (bounded:
        # a send is bounded by its notifier's timeout and retries).
        escalator.join(timeout=60)
        for notifier in self.notifiers:
            notifier.close()  # connections a notifier holds between sends (MQTT)

    def _listen(self, tick_s: float) -> None:
        with connect(self._url, autocommit=True, max_wait_s=None) as listener:
            listen(listener, PANIC_CHANNEL, EVENT_CHANNEL, GEO_CHANNEL)
            while not self._stop.is_set():
                self.decide_pending()
                # Wake on any upstream NOTIFY, or after a tick for escalation deadlines.
                select.select([listener.fileno()], [], [], tick_s)
                for _ in listener.notifies(timeout=0):
                    pass

    def _escalate_loop(self, tick_s: float) -> None:
        self._keep_connection()
        expired_at = float("-inf")
        while not self._stop.is_set():
            # A new incident wakes this at once (its first notice is the latency that matters); otherwise
            # deadlines are checked every quarter tick.
            woken = self._notify_now.wait(tick_s / 4)
            self._notify_now.clear()
            if self._stop.is_set():
                break
            # Expiry is stamped on the timer's passes, and at least once a tick however often presses wake it.
            expire = not woken or time.monotonic() - expired_at >= tick_s
            try:
                self.escalate_due(expire=expire)
                if expire:
                    expired_at = time.monotonic()
            except Exception:
                # Never let the thread die: a database outage or a bug in one pass, the next pass tries again.
                log.exception("escalation pass failed; retrying")
        self._close_connection()

    def _cooking_loop(self, tick_s: float) -> None:
        self._keep_connection()
        while not self._stop.wait(tick_s):
            try:
                self.watch_cooking()
            except Exception:
                log.exception("cooking watch pass failed; retrying")
            try:
                self.watch_patrols()  # minutes-scale too: a round's deadline is checked every cooking tick
            except Exception:
                log.exception("patrol watch pass failed; retrying")
        self._close_connection()

    def stop(self) -> None:
        """Ask :meth:`run` to return."""
        self._stop.set()
        self._notify_now.set()


def act(conn: psycopg.Connection, incident_id: int, action: Action, actor: str, note: str | None = None,
        outcome: Outcome | None = None, source: str | None = None) -> Incident:
    """Apply a person's move in one transaction with its transition and audit record; raises InvalidTransition."""
    with conn.transaction():
        incident = get_incident(conn, incident_id)
        if incident is None:
            raise LookupError(f"no incident {incident_id}")
        changed, transition = apply(incident, action, actor, datetime.now(UTC), note, outcome, source)
        update_incident(conn, changed)
        record_transition(conn, transition, incident_id)
        audit_transition(conn, transition, changed)
        announce_incident(conn, incident_id)
    return changed


def seen(conn: psycopg.Connection, incident_id: int, user_id: str) -> Incident:
    """Record that a person has the incident on screen (once per person), with its audit record."""
    with conn.transaction():
        incident = get_incident(conn, incident_id)
        if incident is None:
            raise LookupError(f"no incident {incident_id}")
        changed, transition = mark_seen(incident, user_id, datetime.now(UTC))
        if transition is not None:
            update_incident(conn, changed)
            record_transition(conn, transition, incident_id)
            audit_transition(conn, transition, changed)
    return changed


def audit_transition(conn: psycopg.Connection, transition: Transition, incident: Incident) -> None:
    """Append the audit record of an incident's state change, in the caller's transaction."""
    audit_repo.append(conn, AuditRecord(
        at=transition.time, actor=transition.actor, action=f"incident.{transition.kind}",
        target=f"incident:{incident.id}",
        detail={"seq": transition.seq, "status": incident.status.value, "severity": incident.severity.value,
                "note": transition.note, "source": transition.source, **dict(transition.detail)}))




def _decision_name(decision: NewIncident | Merge | Repeat | Ignore) -> str:
    return {NewIncident: "raised", Merge: "merged", Repeat: "repeat", Ignore: "ignored"}[type(decision)]

