"""Web Push at the wire: a local push service that checks what a real one checks, and decrypts what it is sent.

The push service here is a real HTTP server. For every message it verifies the VAPID ``Authorization`` header
(RFC 8292: ``vapid t=<JWT>, k=<key>``, an ES256 signature checked with that key, ``aud`` its own origin, ``exp``
within 24 hours, ``sub`` a mailto: or https: contact), requires ``Content-Encoding: aes128gcm``, ``TTL`` and a
valid ``Urgency`` (RFC 8030), and decrypts the body (RFC 8291) with the subscription's private key and auth secret,
generated here as a browser would. The alert service runs for real on PostgreSQL with the example district.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import http_ece  # type: ignore[import-untyped]
import psycopg
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pydantic import SecretStr, ValidationError

from alerts.escalation import EscalationPolicy
from alerts.notifiers import build_notifier
from alerts.notifiers.base import Notification, RetryConfig
from alerts.notifiers.webpush import PushSettings, new_private_key, payload, public_key_of
from alerts.rules import load_rules
from alerts.service import AlertService
from campusguard.settings import Mode, Settings
from store import audit_repo, push_repo
from tests.support.secrets import TEST_ADMIN_PASSWORD, TEST_SECRET_KEY, TEST_VAPID_PRIVATE_KEY

OWN_BUTTON = "antelope-park-office-panic-1"
SUBJECT = "mailto:desk@salt-creek.example.org"
FAST = RetryConfig(attempts=3, initial_backoff_s=0.01, max_backoff_s=0.02, jitter_s=0)


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Browser:
    """A browser's side of one subscription: its key pair and auth secret, and what its push service answers."""

    token: str
    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    auth: bytes = field(default_factory=lambda: os.urandom(16))
    answers: list[int] = field(default_factory=list)  # statuses to answer in turn; 201 once they run out

    @property
    def p256dh(self) -> str:
        return b64url(self.key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint))


@dataclass(frozen=True)
class Received:
    token: str
    headers: dict[str, str]
    claims: dict[str, Any]
    message: dict[str, Any]


class PushService:
    """A push service on 127.0.0.1: refuses what a real one refuses (400/401/403), decrypts what it accepts."""

    def __init__(self) -> None:
        self.browsers: dict[str, Browser] = {}
        self.received: list[Received] = []
        self.refusals: list[str] = []
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status, why = service.handle(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                self.send_response(status)
                self.send_header("Content-Length", str(len(why)))
                self.end_headers()
                self.wfile.write(why.encode())

            def log_message(self, format: str, *args: Any) -> None:  # quiet: pytest would show it as noise
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def browser(self) -> Browser:
        b = Browser(token=b64url(os.urandom(12)))
        self.browsers[b.token] = b
        return b

    def endpoint(self, b: Browser) -> str:
        return f"{self.origin}/push/{b.token}"

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, str]:
        browser = self.browsers.get(path.removeprefix("/push/"))
        if browser is None:
            return 404, "no such subscription"
        try:
            claims = self.check_vapid(headers.get("authorization", ""))
        except (ValueError, InvalidSignature) as exc:
            self.refusals.append(f"vapid: {exc}")
            return 401 if "signature" in str(exc) else 403, str(exc)
        problems = [p for p in (
            headers.get("content-encoding") != "aes128gcm" and "Content-Encoding is not aes128gcm",
            not headers.get("ttl", "").isdigit() and "TTL missing",
            headers.get("urgency") not in ("very-low", "low", "normal", "high") and "Urgency invalid",
        ) if p]
        if problems:
            self.refusals.append("; ".join(problems))
            return 400, "; ".join(problems)
        plain = http_ece.decrypt(body, private_key=browser.key, auth_secret=browser.auth, version="aes128gcm")
        self.received.append(Received(browser.token, headers, claims, json.loads(plain)))
        status = browser.answers.pop(0) if browser.answers else 201
        return status, ""

    def check_vapid(self, authorization: str) -> dict[str, Any]:
        """RFC 8292 section 3: ``vapid t=<JWT>, k=<P-256 public key>``; returns the verified claims."""
        scheme, _, rest = authorization.partition(" ")
        if scheme != "vapid":
            raise ValueError(f"Authorization scheme {scheme!r}, not vapid")
        params = dict(part.strip().split("=", 1) for part in rest.split(","))
        token, k = params["t"], params["k"]
        header_b64, claims_b64, signature_b64 = token.split(".")
        header = json.loads(unb64url(header_b64))
        if header.get("alg") != "ES256":
            raise ValueError(f"JWT alg {header.get('alg')!r}")
        signature = unb64url(signature_b64)
        if len(signature) != 64:
            raise ValueError("ES256 signature is not 64 bytes")
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(k))
        der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
        try:
            public.verify(der, f"{header_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            raise ValueError("bad signature") from None
        claims: dict[str, Any] = json.loads(unb64url(claims_b64))
        now = time.time()
        if claims.get("aud") != self.origin:
            raise ValueError(f"aud {claims.get('aud')!r} is not {self.origin}")
        if not isinstance(claims.get("exp"), int) or not now < claims["exp"] <= now + 86400:
            raise ValueError(f"exp {claims.get('exp')!r} is not within 24 h")
        sub = str(claims.get("sub", ""))
        if not (sub.startswith("mailto:") or sub.startswith("https:")):
            raise ValueError(f"sub {sub!r} is no contact")
        claims["k"] = k
        return claims

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def push_service() -> Iterator[PushService]:
    service = PushService()
    yield service
    service.close()


@pytest.fixture
def keys() -> PushSettings:
    return PushSettings(vapid_private_key=SecretStr(TEST_VAPID_PRIVATE_KEY), subject=SUBJECT)


def alert_service(db: str, keys: PushSettings, retry: RetryConfig = FAST) -> AlertService:
    config = keys.notifier_config(db)
    assert config is not None
    notifier = build_notifier(config.model_copy(update={"retry": retry}))
    return AlertService(db, load_rules(), EscalationPolicy(), [notifier])


def subscribe(db: str, user: str, push: PushService) -> tuple[Browser, int]:
    browser = push.browser()
    with psycopg.connect(db) as conn:
        sub, new = push_repo.save(conn, user, push.endpoint(browser), browser.p256dh, b64url(browser.auth), "test")
    assert new
    return browser, sub.id


def guard(db: str, school: str) -> str:
    with psycopg.connect(db) as conn:
        row = conn.execute("SELECT id FROM users WHERE role = 'guard' AND scope_id = %s ORDER BY id LIMIT 1",
                           (school,)).fetchone()
    assert row is not None
    return str(row[0])


def panic(db: str, service: AlertService) -> None:
    now = datetime.now(UTC)
    with psycopg.connect(db) as conn:
        conn.execute("INSERT INTO device_events (device_id, time, kind, received_at, detail)"
                     " VALUES (%s, %s, 'panic', %s, '{\"action\": \"hold\"}')", (OWN_BUTTON, now, now))
    assert service.decide_pending() == 1
    assert service.escalate_due() == 1


def deliveries(db: str) -> list[tuple[bool, int, str | None]]:
    with psycopg.connect(db) as conn:
        rows = conn.execute("SELECT ok, attempts, error FROM notification_deliveries WHERE notifier = 'webpush'"
                            " ORDER BY id").fetchall()
    return [(bool(ok), int(n), error) for ok, n, error in rows]


def test_a_panic_rings_the_subscribed_guard_of_its_school_and_nobody_elses(
        db: str, keys: PushSettings, push_service: PushService) -> None:
    own, _ = subscribe(db, guard(db, "antelope-park-es"), push_service)
    other, _ = subscribe(db, guard(db, "walton-road-es"), push_service)
    panic(db, alert_service(db, keys))
    assert push_service.refusals == []
    assert [r.token for r in push_service.received] == [own.token]  # one push, none to the other school's guard
    got = push_service.received[0]
    assert got.claims["k"] == keys.public_key  # signed with our key, which the browser subscribed with
    assert got.claims["sub"] == "mailto:desk@salt-creek.example.org"
    assert got.headers["urgency"] == "high"  # a panic is critical: the phone wakes for it
    assert got.headers["ttl"] == "1800"
    message = got.message
    assert message["severity"] == "critical" and message["event"] == "raised"
    assert message["title_key"] == "incident.title.panic"
    assert message["title_params"] == {"place": "Main office, behind the front desk"}
    assert message["url"] == f"/guard?incident={message['incident_id']}"
    assert message["locale"] == "en"
    assert message["school"] == "Antelope Park Elementary"  # the name a guard knows, not the id
    with psycopg.connect(db) as conn:
        assert conn.execute("SELECT id FROM incidents WHERE type = 'panic'").fetchone() == (message["incident_id"],)
        assert conn.execute("SELECT last_push_at IS NOT NULL FROM push_subscriptions ORDER BY id").fetchall() == [
            (True,), (False,)]
    assert deliveries(db) == [(True, 1, None)]
    assert other.token not in {r.token for r in push_service.received}


def test_a_410_deletes_the_subscription_and_says_so(db: str, keys: PushSettings, push_service: PushService) -> None:
    browser, sub_id = subscribe(db, guard(db, "antelope-park-es"), push_service)
    browser.answers = [410]
    panic(db, alert_service(db, keys))
    assert len(push_service.received) == 1  # tried once: gone is not retried
    with psycopg.connect(db) as conn:
        assert push_repo.get(conn, sub_id) is None
        [gone] = audit_repo.search(conn, action="push.gone")
    assert gone.record.target == f"user:{guard(db, 'antelope-park-es')}"
    assert gone.record.detail["subscription_id"] == sub_id
    [(ok, attempts, note)] = deliveries(db)
    assert ok and attempts == 1 and note is not None and "410" in note and "deleted" in note


def test_a_busy_push_service_is_retried_for_that_browser_alone(
        db: str, keys: PushSettings, push_service: PushService) -> None:
    person = guard(db, "antelope-park-es")
    steady, _ = subscribe(db, person, push_service)
    busy, _ = subscribe(db, person, push_service)
    busy.answers = [503]
    panic(db, alert_service(db, keys))
    tokens = [r.token for r in push_service.received]
    assert tokens.count(steady.token) == 1  # took it the first time: not sent twice
    assert tokens.count(busy.token) == 2
    assert deliveries(db) == [(True, 2, None)]


def test_a_push_service_that_keeps_failing_is_recorded_as_a_failed_delivery(
        db: str, keys: PushSettings, push_service: PushService) -> None:
    browser, sub_id = subscribe(db, guard(db, "antelope-park-es"), push_service)
    browser.answers = [500, 500, 500]
    panic(db, alert_service(db, keys))
    [(ok, attempts, error)] = deliveries(db)
    assert not ok and attempts == 3 and error is not None and f"subscription {sub_id}" in error
    with psycopg.connect(db) as conn:
        assert conn.execute("SELECT last_error FROM push_subscriptions WHERE id = %s", (sub_id,)).fetchone() == (
            f"retry (500 from {push_service.origin.removeprefix('http://')})",)


def test_the_payload_fits_one_record_and_keeps_the_english_title_when_too_long() -> None:
    now = datetime.now(UTC)
    n = Notification(incident_id=7, school_id="s", type="panic", severity="critical", status="raised",
                     title="Panic: " + "x" * 5000, event="raised", at=now, opened_at=now)
    title = push_repo.IncidentTitle(n.title, "incident.title.panic", {"place": "x" * 5000})
    body = json.loads(payload(n, title, "zh-CN"))
    assert body["title_key"] is None and body["title_params"] == {} and len(body["title"]) == 200
    assert len(payload(n, title, "zh-CN")) <= 3000


def test_production_refuses_push_without_keys_and_says_how_to_make_them(tmp_path: Path) -> None:
    common: dict[str, Any] = {"secret_key": TEST_SECRET_KEY, "admin_password": TEST_ADMIN_PASSWORD,
                              "data_dir": tmp_path}
    with pytest.raises(ValidationError, match="campusguard vapid-keys"):
        Settings(mode=Mode.PRODUCTION, push={"enabled": True}, **common)
    assert Settings(mode=Mode.PRODUCTION, **common).push.public_key is None  # off, and says so to the page
    with pytest.raises(ValidationError, match="not a VAPID private key"):
        Settings(mode=Mode.PRODUCTION, push={"vapid_private_key": "short", "subject": "mailto:a@b.example"}, **common)
    with pytest.raises(ValidationError, match="mailto: or https:"):
        PushSettings(vapid_private_key=SecretStr(new_private_key()), subject="desk@b.example")
    demo = Settings(mode=Mode.DEMO, data_dir=tmp_path)
    assert demo.push.public_key is not None
    assert Settings(mode=Mode.DEMO, data_dir=tmp_path).push.public_key == demo.push.public_key  # kept
    private = new_private_key()
    given = Settings(mode=Mode.PRODUCTION, push={"vapid_private_key": private, "subject": "https://d.example"},
                     **common)
    assert given.push.public_key == public_key_of(private)
    assert len(unb64url(public_key_of(private))) == 65


def test_the_vapid_keys_command_prints_a_pair_the_settings_take(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from campusguard.cli import app

    result = CliRunner().invoke(app, ["vapid-keys"])
    assert result.exit_code == 0, result.output
    lines = dict(line.split("=", 1) for line in result.output.splitlines() if line.startswith("CAMPUSGUARD_"))
    private = lines["CAMPUSGUARD_PUSH__VAPID_PRIVATE_KEY"]
    taken = Settings(mode=Mode.PRODUCTION, secret_key=TEST_SECRET_KEY, admin_password=TEST_ADMIN_PASSWORD,
                     data_dir=tmp_path, push={"vapid_private_key": private, "subject": "mailto:desk@d.example"})
    assert taken.push.public_key is not None and taken.push.public_key in result.output


def test_a_push_key_left_out_by_compose_is_unset_not_invalid() -> None:
    """docker/compose.yaml passes CAMPUSGUARD_PUSH__* as "" where the deployment gave none: push is off, no error."""
    settings = PushSettings.model_validate({"vapid_private_key": "", "subject": " "})
    assert settings.vapid_private_key is None and settings.subject is None and not settings.active
