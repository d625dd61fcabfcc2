"""Alarm management in the running alert stage (real PostgreSQL, real Mosquitto): one clock, shelving, drill mode.

Before: the SLA clock ran from the signal's device time, so a press uploaded ten minutes late was escalated
through every level at once; nothing could be shelved; a school could not hold a drill without its alarms
counting as real ones.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg

from alerts.service import AlertService
from store import alarm_repo, audit_repo
from tests.alerts.test_service import NOW, count, panic_event
from tests.support.ingest import scalar
from tests.support.siren import Siren

BUTTON = "antelope-park-office-panic-1"
SCHOOL = "antelope-park-es"


def device_event(db: str, device: str, kind: str, at: datetime) -> None:
    with psycopg.connect(db) as conn:
        conn.execute("INSERT INTO device_events (device_id, time, kind, received_at, detail)"
                     " VALUES (%s, %s, %s, %s, '{}')", (device, at, kind, at))


def test_a_press_uploaded_ten_minutes_late_gets_its_full_escalation(service: AlertService, db: str) -> None:
    panic_event(db, BUTTON, NOW - timedelta(minutes=10))  # a backlog, or a button whose clock runs behind
    assert service.decide_pending() == 1
    opened, raised, updated = (scalar(db, f"SELECT {c} FROM incidents") for c in ("opened_at", "raised_at",
                                                                                  "updated_at"))
    assert isinstance(raised, datetime)
    assert opened == NOW - timedelta(minutes=10)  # the fact keeps the device's time
    assert raised >= NOW and updated == raised  # the decision and the record are server time
    assert service.escalate_due(raised + timedelta(seconds=1)) == 1  # the first notice
    assert service.escalate_due(raised + timedelta(seconds=20)) == 0  # not escalated through every level at once
    assert service.escalate_due(raised + timedelta(seconds=61)) == 1
    assert count(db, "SELECT escalation_level FROM incidents") == 1
    event_time = scalar(db, "SELECT time FROM incident_events WHERE kind = 'raised'")
    assert event_time == raised


def test_audit_times_never_go_backwards_whatever_clock_a_writer_brings(db: str) -> None:
    from domain.audit import AuditRecord
    with psycopg.connect(db) as conn:
        for at in (NOW, NOW - timedelta(minutes=3), NOW + timedelta(seconds=1), NOW - timedelta(hours=1)):
            audit_repo.append(conn, AuditRecord(at, "tester", "clock.test", None, {}))
        times = [t for t, in conn.execute("SELECT at FROM audit_log ORDER BY id").fetchall()]
        assert len(times) >= 4 and times == sorted(times)
        assert times[-1] == times[-2] >= NOW + timedelta(seconds=1)  # the hour-behind clock took the head's time
        assert audit_repo.verify(conn).ok


def test_a_shelved_source_is_silenced_but_its_panics_never_are(service: AlertService, db: str) -> None:
    now = datetime.now(UTC)
    with psycopg.connect(db) as conn:
        shelf = alarm_repo.add_shelf(conn, SCHOOL, BUTTON, None, "contact keeps dropping", "admin-1", now,
                                     now + timedelta(seconds=30))
    device_event(db, BUTTON, "offline", NOW)
    assert service.decide_pending() == 1
    assert count(db, "SELECT count(*) FROM incidents") == 0
    assert scalar(db, "SELECT decision FROM alert_signals") == f"shelved: shelf {shelf.id}"
    assert count(db, "SELECT suppressed FROM shelves") == 1
    panic_event(db, BUTTON, NOW + timedelta(seconds=5))
    assert service.decide_pending() == 1
    assert count(db, "SELECT count(*) FROM incidents WHERE type = 'panic'") == 1
    # It expires by itself: stamped and audited once, then the source alerts again.
    assert service.escalate_due(now + timedelta(seconds=31)) >= 1  # the panic's notice
    assert scalar(db, "SELECT ended_by FROM shelves") == "expired"
    service.escalate_due(now + timedelta(seconds=32))
    assert count(db, "SELECT count(*) FROM audit_log WHERE action = 'shelf.expired'") == 1
    with psycopg.connect(db) as conn:  # what the stage sees once the shelf has run out
        assert alarm_repo.active_shelves(conn, now + timedelta(seconds=31)) == []


def test_a_shelved_sources_open_incident_is_not_escalated(service: AlertService, db: str) -> None:
    device_event(db, BUTTON, "offline", NOW)
    assert service.decide_pending() == 1
    raised = scalar(db, "SELECT raised_at FROM incidents")
    assert isinstance(raised, datetime)
    assert service.escalate_due(raised + timedelta(seconds=1)) == 1  # the first notice went before the shelf
    with psycopg.connect(db) as conn:
        alarm_repo.add_shelf(conn, SCHOOL, BUTTON, "device_offline", "battery swap today", "admin-1", raised,
                             raised + timedelta(hours=2))
    assert service.escalate_due(raised + timedelta(minutes=30)) == 0  # high: would escalate after 180 s
    assert count(db, "SELECT escalation_level FROM incidents") == 0


def test_drill_mode_marks_what_the_school_raises_and_the_notice_says_drill(
        service: AlertService, siren: Siren, db: str) -> None:
    now = datetime.now(UTC)
    with psycopg.connect(db) as conn:
        alarm_repo.start_drill_mode(conn, SCHOOL, "lockdown drill, 3rd period", "admin-1", now,
                                    now + timedelta(minutes=30))
    panic_event(db, BUTTON, NOW)
    assert service.decide_pending() == 1
    assert scalar(db, "SELECT drill FROM incidents") is True
    assert service.escalate_due() == 1
    heard = siren.heard.get(timeout=10)
    assert heard["incident"]["drill"] is True  # type: ignore[index]
    with psycopg.connect(db) as conn:
        assert alarm_repo.end_drill_mode(conn, SCHOOL, "admin-1", datetime.now(UTC)) is not None
    panic_event(db, BUTTON, NOW + timedelta(seconds=30))
    assert service.decide_pending() == 1
    # A real press after the drill is a real incident of its own, never folded into the drill's.
    assert count(db, "SELECT count(*) FROM incidents WHERE NOT drill AND type = 'panic'") == 1
