"""The push subscription API: a person keeps and deletes their own browsers' subscriptions, audited, scoped.

The last test goes through the wire: a subscription made through this API (keys generated as a browser does) is
the one the alert service pushes a panic to, decrypted by the local push service of tests/alerts/test_webpush.py.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from alerts.notifiers.webpush import PushSettings
from campusguard.settings import Mode, Settings
from command_ui.app import create_app
from store import audit_repo
from tests.alerts.test_webpush import Browser, PushService, alert_service, b64url, panic
from tests.command_ui.conftest import PASSWORD
from tests.command_ui.test_live import OTHER, OWN, guard_of
from tests.support.secrets import TEST_ADMIN_PASSWORD, TEST_SECRET_KEY, TEST_VAPID_PRIVATE_KEY

KEY = TEST_VAPID_PRIVATE_KEY
SUBJECT = "mailto:desk@salt-creek.example.org"


def settings(url: str, data_dir: Path, **push: Any) -> Settings:
    return Settings(mode=Mode.PRODUCTION, database_url=url, secret_key=TEST_SECRET_KEY,
                    admin_password=TEST_ADMIN_PASSWORD, data_dir=data_dir, cookie_secure=False, push=push)


@pytest.fixture
def push_client(url: str, tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(settings(url, tmp_path, vapid_private_key=KEY, subject=SUBJECT,
                                        allow_insecure_endpoints=True))) as test_client:
        yield test_client


def sign_in(client: TestClient, username: str) -> None:
    client.cookies.clear()
    assert client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD}).status_code == 200


def browser_json(endpoint: str, browser: Browser | None = None) -> dict[str, Any]:
    b = browser or Browser(token="t")
    return {"endpoint": endpoint, "expirationTime": None, "keys": {"p256dh": b.p256dh, "auth": b64url(b.auth)}}


def audited(url: str, action: str) -> list[dict[str, Any]]:
    with psycopg.connect(url) as conn:
        return [{"actor": s.record.actor, "target": s.record.target, **s.record.detail}
                for s in audit_repo.search(conn, action=action)]


def test_nothing_without_signing_in(push_client: TestClient) -> None:
    assert push_client.get("/api/v1/push/key").status_code == 401
    assert push_client.get("/api/v1/push/subscriptions").status_code == 401
    assert push_client.post("/api/v1/push/subscriptions",
                            json=browser_json("https://push.example.net/a")).status_code == 401
    assert push_client.delete("/api/v1/push/subscriptions/1").status_code == 401


def test_a_guard_subscribes_once_per_browser_and_unsubscribes_audited(push_client: TestClient, url: str) -> None:
    guard = guard_of(url, OWN)
    sign_in(push_client, guard)
    key = push_client.get("/api/v1/push/key").json()
    assert key["enabled"] is True and len(base64.urlsafe_b64decode(key["public_key"] + "=")) == 65
    body = browser_json("https://fcm.googleapis.example/wp/abc")
    made = push_client.post("/api/v1/push/subscriptions", json=body, headers={"User-Agent": "phone"})
    assert made.status_code == 201, made.text
    again = push_client.post("/api/v1/push/subscriptions", json=body)  # the page subscribing the same browser
    assert again.status_code == 201 and again.json()["id"] == made.json()["id"]
    mine = push_client.get("/api/v1/push/subscriptions").json()
    assert [(s["id"], s["push_service"]) for s in mine] == [(made.json()["id"], "fcm.googleapis.example")]
    subscribed = audited(url, "push.subscribe")
    assert [(a["actor"], a["target"], a["new"]) for a in subscribed] == [
        (guard, f"user:{guard}", True), (guard, f"user:{guard}", False)]
    assert all("endpoint" not in a for a in subscribed)  # a capability URL stays out of the trail

    sign_in(push_client, guard_of(url, OTHER))  # another school's guard neither sees nor deletes it
    assert push_client.get("/api/v1/push/subscriptions").json() == []
    assert push_client.delete(f"/api/v1/push/subscriptions/{made.json()['id']}").status_code == 404

    sign_in(push_client, guard)
    assert push_client.delete(f"/api/v1/push/subscriptions/{made.json()['id']}").status_code == 204
    assert push_client.get("/api/v1/push/subscriptions").json() == []
    assert [(a["actor"], a["subscription_id"]) for a in audited(url, "push.unsubscribe")] == [
        (guard, made.json()["id"])]


def test_what_no_browser_would_send_is_refused(push_client: TestClient, url: str) -> None:
    sign_in(push_client, guard_of(url, OWN))
    good = browser_json("https://push.example.net/x")
    not_a_point = dict(good, keys={"p256dh": b64url(b"\x04" + os.urandom(64)), "auth": good["keys"]["auth"]})
    short_auth = dict(good, keys={"p256dh": good["keys"]["p256dh"], "auth": b64url(os.urandom(12))})
    for bad in (dict(good, endpoint="ftp://push.example.net/x"), dict(good, endpoint="https:///nohost"),
                not_a_point, short_auth, dict(good, colour="red"), {"endpoint": good["endpoint"]}):
        answer = push_client.post("/api/v1/push/subscriptions", json=bad)
        assert answer.status_code == 422, (bad, answer.text)
    assert push_client.get("/api/v1/push/subscriptions").json() == []
    assert audited(url, "push.subscribe") == []


def test_plain_http_endpoints_are_refused_unless_allowed(url: str, tmp_path: Path) -> None:
    with TestClient(create_app(settings(url, tmp_path, vapid_private_key=KEY, subject=SUBJECT))) as client:
        sign_in(client, guard_of(url, OWN))
        answer = client.post("/api/v1/push/subscriptions", json=browser_json("http://127.0.0.1:9/push/x"))
        assert answer.status_code == 422 and "https://" in answer.json()["detail"]
        for inside in ("https://10.1.2.3/push/x", "https://[::1]/x", "https://169.254.169.254/x", "https://localhost/x"):
            answer = client.post("/api/v1/push/subscriptions", json=browser_json(inside))
            assert answer.status_code == 422 and "internal" in answer.json()["detail"], inside


def test_a_person_keeps_at_most_ten_browsers(push_client: TestClient, url: str) -> None:
    sign_in(push_client, guard_of(url, OWN))
    for n in range(10):
        assert push_client.post("/api/v1/push/subscriptions",
                                json=browser_json(f"https://push.example.net/{n}")).status_code == 201
    refused = push_client.post("/api/v1/push/subscriptions", json=browser_json("https://push.example.net/10"))
    assert refused.status_code == 409 and "turn ringing off" in refused.json()["detail"]
    again = push_client.post("/api/v1/push/subscriptions", json=browser_json("https://push.example.net/3"))
    assert again.status_code == 201  # one already kept may always be renewed


def test_without_keys_the_page_is_told_push_is_off(url: str, tmp_path: Path) -> None:
    with TestClient(create_app(settings(url, tmp_path))) as client:
        sign_in(client, guard_of(url, OWN))
        assert client.get("/api/v1/push/key").json() == {"enabled": False, "public_key": None}
        refused = client.post("/api/v1/push/subscriptions", json=browser_json("https://push.example.net/x"))
        assert refused.status_code == 409 and "docs/push.md" in refused.json()["detail"]


def test_the_built_in_admin_has_no_phone_to_ring(push_client: TestClient) -> None:
    push_client.cookies.clear()
    answer = push_client.post("/api/v1/push/subscriptions", json=browser_json("https://push.example.net/x"),
                              auth=("admin", TEST_ADMIN_PASSWORD))
    assert answer.status_code == 409


def test_a_subscription_made_here_is_what_a_panic_rings(push_client: TestClient, url: str) -> None:
    push = PushService()
    try:
        own, other = push.browser(), push.browser()
        sign_in(push_client, guard_of(url, OTHER))
        assert push_client.post("/api/v1/push/subscriptions",
                                json=browser_json(push.endpoint(other), other)).status_code == 201
        sign_in(push_client, guard_of(url, OWN))
        assert push_client.post("/api/v1/push/subscriptions",
                                json=browser_json(push.endpoint(own), own)).status_code == 201
        panic(url, alert_service(url, PushSettings(vapid_private_key=SecretStr(KEY), subject=SUBJECT)))
        assert push.refusals == []
        assert [(r.token, r.message["title_key"], r.headers["urgency"]) for r in push.received] == [
            (own.token, "incident.title.panic", "high")]
    finally:
        push.close()
