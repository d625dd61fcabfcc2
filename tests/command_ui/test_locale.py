"""A person's own language: kept with their account, read back by /me, audited, theirs alone, kept by a site reload."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from campusguard.settings import Mode, Settings
from command_ui.app import create_app
from domain.site.validate import load_site as read_site
from store import audit_repo
from store.site_repo import load_site
from tests.support.ingest import EXAMPLE
from tests.support.secrets import TEST_ADMIN_PASSWORD, TEST_SECRET_KEY

PASSWORD = "a long enough password"
ADMIN_PASSWORD = TEST_ADMIN_PASSWORD


@pytest.fixture
def client(url: str, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(mode=Mode.PRODUCTION, database_url=url, secret_key=TEST_SECRET_KEY,
                        admin_password=ADMIN_PASSWORD, data_dir=tmp_path, cookie_secure=False)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def guards(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT id FROM users WHERE role = 'guard' AND locale = 'en' ORDER BY id").fetchall()
    return [str(r[0]) for r in rows]


def sign_in(client: TestClient, user: str) -> None:
    client.cookies.clear()
    assert client.post("/api/v1/auth/login", json={"username": user, "password": PASSWORD}).status_code == 200


def test_a_guard_keeps_their_language_and_the_change_is_audited(client: TestClient, url: str) -> None:
    guard = guards(url)[0]
    sign_in(client, guard)
    assert client.get("/api/v1/auth/me").json()["locale"] == "en"

    answer = client.put("/api/v1/auth/me/locale", json={"locale": "zh-CN"})
    assert answer.status_code == 200 and answer.json()["locale"] == "zh-CN"
    assert client.get("/api/v1/auth/me").json()["locale"] == "zh-CN"
    sign_in(client, guard)  # a new session, as on another device: the account speaks it
    assert client.get("/api/v1/auth/me").json()["locale"] == "zh-CN"

    with psycopg.connect(url) as conn:
        [record] = audit_repo.search(conn, action="user.locale")
        assert audit_repo.verify(conn).ok
    assert (record.record.actor, record.record.target) == (guard, f"user:{guard}")
    assert record.record.detail == {"from": "en", "to": "zh-CN"}


def test_a_guard_changes_only_their_own_language(client: TestClient, url: str) -> None:
    guard, other = guards(url)[:2]
    sign_in(client, guard)
    # No way to name another account: the body takes the language and nothing else.
    refused = client.put("/api/v1/auth/me/locale", json={"locale": "zh-CN", "id": other})
    assert refused.status_code == 422
    assert client.put("/api/v1/auth/me/locale", json={"locale": "zh-CN"}).status_code == 200
    sign_in(client, other)
    assert client.get("/api/v1/auth/me").json()["locale"] == "en"


def test_only_supported_languages_and_only_when_signed_in(client: TestClient, url: str) -> None:
    assert client.put("/api/v1/auth/me/locale", json={"locale": "zh-CN"}).status_code == 401
    sign_in(client, guards(url)[0])
    assert client.put("/api/v1/auth/me/locale", json={"locale": "fr"}).status_code == 422
    assert client.put("/api/v1/auth/me/locale", json={}).status_code == 422
    assert client.get("/api/v1/auth/me").json()["locale"] == "en"
    with psycopg.connect(url) as conn:
        assert audit_repo.search(conn, action="user.locale") == []


def test_the_built_in_admin_has_no_account_to_keep_a_language_on(client: TestClient) -> None:
    answer = client.put("/api/v1/auth/me/locale", json={"locale": "zh-CN"}, auth=("admin", ADMIN_PASSWORD))
    assert answer.status_code == 409 and "built-in admin" in answer.json()["detail"]


def test_a_site_reload_keeps_the_persons_pick_over_the_site_file(client: TestClient, url: str) -> None:
    sign_in(client, "aisha-moreau")  # zh-CN in the site file
    assert client.get("/api/v1/auth/me").json()["locale"] == "zh-CN"
    assert client.put("/api/v1/auth/me/locale", json={"locale": "en"}).status_code == 200
    with psycopg.connect(url) as conn:
        load_site(conn, read_site(EXAMPLE))
        stored = conn.execute("SELECT locale, chosen_locale FROM users WHERE id = 'aisha-moreau'").fetchone()
    assert stored == ("zh-CN", "en")  # the file's choice is untouched; the person's own wins
    assert client.get("/api/v1/auth/me").json()["locale"] == "en"
