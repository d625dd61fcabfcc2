"""Fixtures of the alert-stage tests: a migrated database with the example district, a siren, the service."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from alerts.escalation import EscalationPolicy
from alerts.notifiers import build_notifier
from alerts.rules import load_rules
from alerts.service import AlertService
from tests.support.ingest import prepare_database
from tests.support.mqtt import PrivateBroker
from tests.support.siren import Siren


@pytest.fixture
def db(fresh_database_url: str) -> str:
    prepare_database(fresh_database_url)
    return fresh_database_url


@pytest.fixture
def siren(private_mqtt: PrivateBroker) -> Iterator[Siren]:
    s = Siren(private_mqtt.url)
    yield s
    s.close()


@pytest.fixture
def service(db: str, private_mqtt: PrivateBroker) -> AlertService:
    notifier = build_notifier({"type": "mqtt", "url": private_mqtt.url})
    return AlertService(db, load_rules(), EscalationPolicy(), [notifier])
