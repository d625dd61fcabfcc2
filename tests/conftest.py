"""Shared fixtures: a PostgreSQL database per session or per test, a private cluster, the MQTT broker.

Under ``make test`` the services come from ``devtools.devservices run`` through the environment; a bare
``pytest`` resolves them in-process the same way (and stops what it started at the end of the session).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.devservices import ServiceUrls, services
from tests.support.mqtt import PrivateBroker
from tests.support.postgres import PrivateCluster, scratch_database

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def service_urls() -> Iterator[ServiceUrls]:
    """Where PostgreSQL and Mosquitto are (found, or started for this session)."""
    with services(REPO_ROOT / ".run") as urls:
        yield urls


@pytest.fixture(scope="session")
def database_url(service_urls: ServiceUrls) -> Iterator[str]:
    """URL of an empty database shared by the whole session, dropped at its end."""
    with scratch_database(service_urls.database_url) as url:
        yield url


@pytest.fixture
def fresh_database_url(service_urls: ServiceUrls) -> Iterator[str]:
    """URL of an empty database of this test's own, dropped after it."""
    with scratch_database(service_urls.database_url) as url:
        yield url


@pytest.fixture
def private_postgres() -> Iterator[PrivateCluster]:
    """Yield a PostgreSQL cluster this test may stop, restart or break; removed after the test."""
    with PrivateCluster() as cluster:
        yield cluster


@pytest.fixture
def private_mqtt() -> Iterator[PrivateBroker]:
    """A Mosquitto of this test's own: no other test's traffic, and it may be restarted."""
    broker = PrivateBroker()
    try:
        yield broker
    finally:
        broker.close()


@pytest.fixture(scope="session")
def mqtt_url(service_urls: ServiceUrls) -> Iterator[str]:
    """URL of the MQTT broker: the shared one, or under pytest-xdist a broker of this worker's own.

    Ingest workers share one subscription group per broker, so two tests running at once on one broker would
    take each other's messages; a test process of its own never meets another on its broker.
    """
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        yield service_urls.mqtt_url
        return
    broker = PrivateBroker()
    try:
        yield broker.url
    finally:
        broker.close()
