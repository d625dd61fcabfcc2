"""The drill measures the guard's page: a guard on the live websocket sees the drill and acknowledges it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from alerts.escalation import EscalationPolicy
from alerts.notifiers import build_notifier
from alerts.rules import load_rules
from alerts.service import AlertService
from campusguard.drill import RUNNER, PersonResponse, person_responses, run_drill
from campusguard.settings import Mode, Settings
from command_ui.app import create_app
from command_ui.deps import SESSION_COOKIE
from tests.support.ingest import ingest_settings, prepare_database, running_worker, scalar
from tests.support.mqtt import PrivateBroker
from tests.support.secrets import TEST_ADMIN_PASSWORD, TEST_SECRET_KEY

PASSWORD = "a long enough password"
SCHOOL = "antelope-park-es"
T0 = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)


def test_responses_are_each_persons_first_receipt_and_acknowledgement() -> None:
    events = [("seen", "ruth-chen", T0 + timedelta(seconds=3)), ("seen", "ruth-chen", T0 + timedelta(seconds=9)),
              ("acknowledge", "ruth-chen", T0 + timedelta(seconds=5)), ("notified", "system", T0),
              ("acknowledge", RUNNER, T0 + timedelta(seconds=60)), ("seen", "officer-1", T0 + timedelta(seconds=4))]
    assert person_responses(T0, events, ["leah-wang", "ruth-chen"]) == (
        PersonResponse("leah-wang", None, None), PersonResponse("officer-1", 4000.0, None),
        PersonResponse("ruth-chen", 3000.0, 5000.0))


@pytest.fixture
def db(fresh_database_url: str) -> str:
    prepare_database(fresh_database_url, PASSWORD)
    return fresh_database_url


@pytest.fixture
def api(db: str, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(mode=Mode.PRODUCTION, database_url=db,
                        secret_key=TEST_SECRET_KEY, admin_password=TEST_ADMIN_PASSWORD,
                        data_dir=tmp_path / "api", cookie_secure=False)
    with TestClient(create_app(settings)) as client:
        yield client


def guard_page(client: TestClient, user: str, ready: threading.Event, errors: list[BaseException]) -> None:
    """What guard.html does on a phone: live websocket, a receipt when the alert shows, then Acknowledge."""
    try:
        response = client.post("/api/v1/auth/login", json={"username": user, "password": PASSWORD})
        assert response.status_code == 200, response.text
        cookie = {"Cookie": f"{SESSION_COOKIE}={response.cookies[SESSION_COOKIE]}"}
        client.cookies.clear()
        with client.websocket_connect("/api/v1/live", headers=cookie) as ws:
            ready.set()
            incident: dict[str, Any] = {}
            while incident.get("type") != "drill" or incident.get("status") != "raised":
                message = ws.receive_json()
                incident = message.get("incident", {}) if message["type"] == "incident" else {}
            seen = client.post(f"/api/v1/incidents/{incident['id']}/seen", headers=cookie)
            assert seen.status_code == 200, seen.text
            acked = client.post(f"/api/v1/incidents/{incident['id']}/actions", json={"action": "acknowledge"},
                                headers=cookie)
            assert acked.status_code == 200, acked.text
    except BaseException as exc:  # noqa: BLE001 - handed to the test's thread, which fails with it
        errors.append(exc)
        ready.set()


def test_a_drill_reports_when_the_guard_saw_and_acknowledged(db: str, api: TestClient, private_mqtt: PrivateBroker,
                                                             tmp_path: Path) -> None:
    service = AlertService(db, load_rules(), EscalationPolicy(), [build_notifier({"type": "mqtt",
                                                                                  "url": private_mqtt.url})])
    stop, ready = threading.Event(), threading.Event()
    errors: list[BaseException] = []
    guard = "leah-wang"

    def alert_loop() -> None:
        while not stop.is_set():
            service.decide_pending()
            service.escalate_due()
            stop.wait(0.05)

    with running_worker(ingest_settings(db, private_mqtt.url, tmp_path / "ingest"), serve_http=False):
        loop = threading.Thread(target=alert_loop)
        phone = threading.Thread(target=guard_page, args=(api, guard, ready, errors))
        loop.start()
        phone.start()
        try:
            assert ready.wait(30)
            report = run_drill(db, private_mqtt.url, SCHOOL, timeout_s=30, respond_s=30)
        finally:
            phone.join(timeout=30)
            stop.set()
            loop.join(timeout=30)
    assert errors == []
    assert report.ok and report.acknowledged_by == guard, report
    person = next(r for r in report.responses if r.user_id == guard)
    assert person.seen_ms is not None and person.acknowledged_ms is not None
    assert report.raised_ms is not None and report.raised_ms <= person.seen_ms <= person.acknowledged_ms
    assert person.acknowledged_ms == report.acknowledged_ms
    others = [r for r in report.responses if r.user_id != guard]
    assert others and all(r.seen_ms is None and r.acknowledged_ms is None for r in others)  # the other guard
    stored = scalar(db, "SELECT responses FROM drills")
    assert isinstance(stored, list)
    assert {"user_id": guard, "seen_ms": person.seen_ms, "acknowledged_ms": person.acknowledged_ms} in stored
    assert scalar(db, "SELECT acknowledged_by FROM drills") == guard
    assert scalar(db, "SELECT outcome FROM incidents WHERE type = 'drill'") == "drill"
