"""Fixtures shared by the live-feed and responder tests: the example district in a scratch database, and the app.

Every person's password is PASSWORD. Modules that need another district define their own fixtures.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from campusguard.settings import Mode, Settings
from command_ui.app import create_app
from tests.support.ingest import prepare_database
from tests.support.postgres import scratch_database
from tests.support.secrets import TEST_ADMIN_PASSWORD, TEST_SECRET_KEY

PASSWORD = "a long enough password"


@pytest.fixture
def url(service_urls: object) -> Iterator[str]:
    with scratch_database(service_urls.database_url) as db:  # type: ignore[attr-defined]
        prepare_database(db, PASSWORD)
        yield db


@pytest.fixture
def client(url: str, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(mode=Mode.PRODUCTION, database_url=url, secret_key=TEST_SECRET_KEY,
                        admin_password=TEST_ADMIN_PASSWORD, data_dir=tmp_path, cookie_secure=False)
    with TestClient(create_app(settings)) as test_client:
        yield test_client
