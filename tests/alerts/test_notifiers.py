"""Notifiers against real servers: a local HTTP server, an aiosmtpd SMTP server, a private Mosquitto."""

from __future__ import annotations

import hashlib
import hmac
import importlib
import inspect
import json
import pkgutil
import queue
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, get_args

import paho.mqtt.client as mqtt
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import ValidationError

import alerts.notifiers as notifiers_pkg
from alerts.notifiers import NOTIFIERS, build_notifier, parse_config
from alerts.notifiers.base import Notification, Notifier, PermanentError, RetryableError, RetryConfig, deliver
from alerts.notifiers.email import EmailConfig, build_message
from alerts.notifiers.mqtt_out import MqttOutConfig, render_topic
from alerts.notifiers.webhook import verify_signature
from devtools.devservices import free_port
from domain.broker import parse_broker_url
from tests.support.mqtt import PrivateBroker
from tests.support.secrets import TEST_VAPID_PRIVATE_KEY

SECRET = "s3cret-for-tests-only"
FAST = {"attempts": 3, "initial_backoff_s": 0.01, "max_backoff_s": 0.05, "jitter_s": 0}
T0 = datetime(2024, 9, 2, 7, 30, tzinfo=UTC)


def notification(**changes: Any) -> Notification:
    base: dict[str, Any] = dict(
        incident_id=42, school_id="antelope-park-es", type="panic", severity="critical", status="raised",
        title="Panic button pressed: front office", event="raised", at=T0 + timedelta(seconds=3), opened_at=T0,
        lon=-121.4944, lat=38.5816, message="Office panic button 1 pressed twice.", level=0,
        recipients=("principal@antelope.example.org", "guard-7"), school_name="Antelope Park Elementary",
    )
    base.update(changes)
    return Notification(**base)


# --- a real HTTP receiver ---------------------------------------------------------------------------------


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    signature_ok: bool


@dataclass
class Receiver:
    """A local HTTP server that answers with the queued statuses (then 200) and checks every signature."""

    url: str
    statuses: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)


def _verify_like_a_receiver(headers: dict[str, str], body: bytes) -> bool:
    # The documented recipe, written out independently of our own verify_signature.
    timestamp = headers.get("X-Campusguard-Timestamp", "")
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > 300:
        return False
    expected = hmac.new(SECRET.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest("sha256=" + expected, headers.get("X-Campusguard-Signature", ""))


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    port = free_port()
    state = Receiver(url=f"http://127.0.0.1:{port}/hooks/campusguard")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            headers = dict(self.headers.items())
            ok = _verify_like_a_receiver(headers, body)
            state.received.append(Received(headers, body, ok))
            status = state.statuses.pop(0) if state.statuses else (200 if ok else 401)
            self.send_response(status)
            self.end_headers()
            self.wfile.write(b"nope" if status >= 400 else b"")

        def log_message(self, format: str, *args: Any) -> None:  # quiet: pytest would show it as noise
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def webhook(url: str, **extra: Any) -> Notifier[Any]:
    return build_notifier({"type": "webhook", "url": url, "secret": SECRET, "timeout_s": 2, "retry": FAST, **extra})


def test_webhook_delivers_signed_json(receiver: Receiver) -> None:
    with webhook(receiver.url) as notifier:
        result = notifier.send(notification())
    assert (result.ok, result.attempts, result.error) == (True, 1, None)
    [got] = receiver.received
    assert got.signature_ok
    assert got.headers["Content-Type"] == "application/json"
    assert verify_signature(SECRET, got.headers["X-Campusguard-Timestamp"], got.body,
                            got.headers["X-Campusguard-Signature"], datetime.now(UTC))
    document = json.loads(got.body)
    assert document["schema"] == "campusguard.alert/1"
    assert document["event"] == "raised"
    assert document["incident"]["id"] == 42
    assert document["incident"]["severity"] == "critical"
    assert document["incident"]["opened_at"] == "2024-09-02T07:30:00+00:00"


def test_webhook_retries_a_500_then_succeeds_with_the_same_delivery_id(receiver: Receiver) -> None:
    receiver.statuses = [500, 503]
    with webhook(receiver.url) as notifier:
        result = notifier.send(notification())
    assert (result.ok, result.attempts) == (True, 3)
    assert all(r.signature_ok for r in receiver.received)
    assert len({r.headers["X-Campusguard-Delivery"] for r in receiver.received}) == 1


def test_webhook_retries_429(receiver: Receiver) -> None:
    receiver.statuses = [429]
    with webhook(receiver.url) as notifier:
        assert notifier.send(notification()).attempts == 2


def test_webhook_does_not_retry_a_400(receiver: Receiver) -> None:
    receiver.statuses = [400]
    with webhook(receiver.url) as notifier:
        result = notifier.send(notification())
    assert (result.ok, result.attempts) == (False, 1)
    assert result.error is not None and "HTTP 400" in result.error and "nope" in result.error
    assert len(receiver.received) == 1


def test_webhook_gives_up_after_the_configured_attempts(receiver: Receiver) -> None:
    receiver.statuses = [500, 500, 500, 500]
    with webhook(receiver.url) as notifier:
        result = notifier.send(notification())
    assert (result.ok, result.attempts) == (False, 3)
    assert result.error is not None and "HTTP 500" in result.error


def test_webhook_network_errors_are_retried() -> None:
    with webhook(f"http://127.0.0.1:{free_port()}/nobody-listens") as notifier:
        result = notifier.send(notification())
    assert (result.ok, result.attempts) == (False, 3)
    assert result.error is not None and "ConnectError" in result.error


def test_signature_verification_refuses_tampering_and_replays() -> None:
    body = b'{"a":1}'
    now = datetime.now(UTC)
    ts = str(int(now.timestamp()))
    good = "sha256=" + hmac.new(SECRET.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    assert verify_signature(SECRET, ts, body, good, now)
    assert not verify_signature(SECRET, ts, b'{"a":2}', good, now)
    assert not verify_signature("another-secret-value", ts, body, good, now)
    assert not verify_signature(SECRET, ts, body, good, now + timedelta(minutes=6))
    assert not verify_signature(SECRET, "not-a-number", body, good, now)


# --- a real SMTP server -----------------------------------------------------------------------------------


class Mailbox:
    """aiosmtpd handler: answers DATA with the queued replies (then 250) and keeps what it accepted."""

    def __init__(self) -> None:
        self.replies: list[str] = []
        self.messages: list[tuple[Envelope, Message]] = []
        self.attempts = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        self.attempts += 1
        if self.replies:
            return self.replies.pop(0)
        assert isinstance(envelope.content, bytes)
        self.messages.append((envelope, message_from_bytes(envelope.content)))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server() -> Iterator[tuple[Mailbox, int]]:
    mailbox, port = Mailbox(), free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


def email_config(port: int, **extra: Any) -> dict[str, Any]:
    return {"type": "email", "host": "127.0.0.1", "port": port, "security": "none", "timeout_s": 5,
            "sender": "Campus Safety <safety@antelope.example.org>", "to": ["desk@antelope.example.org"],
            "retry": FAST, **extra}


def test_email_is_received_with_subject_and_both_bodies(smtp_server: tuple[Mailbox, int]) -> None:
    mailbox, port = smtp_server
    result = build_notifier(email_config(port)).send(notification())
    assert (result.ok, result.attempts) == (True, 1)
    [(envelope, message)] = mailbox.messages
    assert envelope.mail_from == "safety@antelope.example.org"
    # guard-7 is not an email address, so only the principal is added to the configured desk.
    assert envelope.rcpt_tos == ["desk@antelope.example.org", "principal@antelope.example.org"]
    assert message["Subject"] == "[campusguard] [CRITICAL] Panic button pressed: front office (raised)"
    assert message["Message-ID"] == "<campusguard.incident-42.raised@antelope.example.org>"
    plain, html = (part for part in message.walk() if part.get_content_maintype() == "text")
    assert plain.get_content_type() == "text/plain" and html.get_content_type() == "text/html"
    text = plain.get_payload(decode=True)
    assert isinstance(text, bytes)
    assert b"Office panic button 1 pressed twice." in text and b"Antelope Park Elementary" in text
    markup = html.get_payload(decode=True)
    assert isinstance(markup, bytes) and b"<h2>Panic button pressed: front office</h2>" in markup


def test_email_updates_thread_under_the_raised_message() -> None:
    config = EmailConfig.model_validate(email_config(25))
    message = build_message(notification(event="escalated", level=2, drill=True, title="<b>x</b>"), config)
    assert message["In-Reply-To"] == "<campusguard.incident-42.raised@antelope.example.org>"
    assert message["Subject"].startswith("[campusguard] DRILL [CRITICAL]")
    html = message.get_body(("html",))
    assert html is not None and "&lt;b&gt;x&lt;/b&gt;" in str(html.get_content())


def test_email_retries_a_temporary_refusal(smtp_server: tuple[Mailbox, int]) -> None:
    mailbox, port = smtp_server
    mailbox.replies = ["451 Try again later"]
    result = build_notifier(email_config(port)).send(notification())
    assert (result.ok, result.attempts, len(mailbox.messages)) == (True, 2, 1)


def test_email_does_not_retry_a_permanent_refusal(smtp_server: tuple[Mailbox, int]) -> None:
    mailbox, port = smtp_server
    mailbox.replies = ["554 Rejected by policy"]
    result = build_notifier(email_config(port)).send(notification())
    assert (result.ok, result.attempts, mailbox.attempts) == (False, 1, 1)
    assert result.error is not None and "554" in result.error


def test_email_config_refuses_a_clear_text_login() -> None:
    with pytest.raises(ValidationError, match="clear text"):
        parse_config(email_config(25, username="u", password="p"))


def test_email_without_recipients_is_not_attempted() -> None:
    notifier = build_notifier(email_config(free_port(), to=[]))
    result = notifier.send(notification(recipients=()))
    assert (result.ok, result.attempts) == (False, 0)


# --- a real MQTT broker -----------------------------------------------------------------------------------


def subscribe(url: str, topic_filter: str) -> tuple[mqtt.Client, queue.Queue[mqtt.MQTTMessage]]:
    endpoint = parse_broker_url(url)
    got: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
    subscribed = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"siren-{uuid.uuid4().hex[:8]}")
    client.on_connect = lambda c, *_: c.subscribe(topic_filter, qos=1)
    client.on_subscribe = lambda *_: subscribed.set()
    client.on_message = lambda _c, _u, message: got.put(message)
    client.connect(endpoint.host, endpoint.port)
    client.loop_start()
    assert subscribed.wait(10)
    return client, got


def test_mqtt_publishes_json_where_sirens_listen(private_mqtt: PrivateBroker) -> None:
    client, got = subscribe(private_mqtt.url, "campusguard/alerts/v1/antelope-park-es/critical")
    try:
        result = build_notifier({"type": "mqtt", "url": private_mqtt.url, "retry": FAST}).send(notification())
        assert (result.ok, result.attempts) == (True, 1)
        message = got.get(timeout=10)
    finally:
        client.disconnect()
        client.loop_stop()
    assert message.topic == "campusguard/alerts/v1/antelope-park-es/critical"
    assert message.qos == 1 and not message.retain
    document = json.loads(message.payload)
    assert document["incident"]["id"] == 42 and document["event"] == "raised"


def test_mqtt_unreachable_broker_is_retried() -> None:
    notifier = build_notifier({"type": "mqtt", "url": f"mqtt://127.0.0.1:{free_port()}", "timeout_s": 2,
                               "retry": FAST})
    result = notifier.send(notification())
    assert (result.ok, result.attempts) == (False, 3)
    assert result.error is not None and "cannot connect" in result.error


def test_mqtt_topic_template() -> None:
    config = MqttOutConfig.model_validate({"type": "mqtt", "url": "mqtt://localhost",
                                           "topic_template": "district/{school_id}/{type}/{event}"})
    assert render_topic(config.topic_template, notification()) == "district/antelope-park-es/panic/raised"
    with pytest.raises(PermanentError):
        render_topic(config.topic_template, notification(school_id="a/b"))
    with pytest.raises(ValidationError, match="unknown topic fields"):
        MqttOutConfig.model_validate({"type": "mqtt", "url": "mqtt://localhost", "topic_template": "x/{room}"})
    with pytest.raises(ValidationError, match="wildcards"):
        MqttOutConfig.model_validate({"type": "mqtt", "url": "mqtt://localhost", "topic_template": "x/#"})


# --- the retry wrapper and the registry -------------------------------------------------------------------


def test_deliver_returns_rather_than_raises() -> None:
    policy = RetryConfig.model_validate(FAST)
    calls: list[int] = []

    def flaky() -> None:
        calls.append(1)
        if len(calls) < 3:
            raise RetryableError("busy")

    assert deliver(flaky, policy, "t").attempts == 3

    def broken() -> None:
        raise KeyError("bug")

    result = deliver(broken, policy, "t")
    assert (result.ok, result.attempts) == (False, 1)
    assert result.error is not None and "internal error" in result.error


def test_registry_builds_every_notifier_from_a_dict(tmp_path: Any) -> None:
    raw = {
        "webhook": {"type": "webhook", "url": "https://hooks.example.org/cg", "secret": SECRET},
        "email": email_config(25),
        "mqtt": {"type": "mqtt", "url": "mqtt://broker.example.org:1883"},
        "cap": {"type": "cap", "sender": "safety@antelope.example.org", "directory": str(tmp_path)},
        "webpush": {"type": "webpush", "database_url": "postgresql://127.0.0.1/none", "subject": "mailto:a@b.example",
                    "vapid_private_key": TEST_VAPID_PRIVATE_KEY},
        "dingtalk": {"type": "dingtalk", "access_token": "robot-token", "secret": "SEC0123456789"},
        "wecom": {"type": "wecom", "key": "0123-4567-89ab"},
        "feishu": {"type": "feishu", "hook": "0123-4567-89ab", "secret": "0123456789ab"},
        "sms": {"type": "sms", "provider": {"kind": "aliyun", "access_key_id": "LTAI0", "access_key_secret": SECRET,
                                            "sign_name": "鹤壁市教育局", "template_code": "SMS_1"}},
    }
    assert set(NOTIFIERS) == set(raw)
    for kind, config in raw.items():
        with build_notifier(config) as notifier:
            assert isinstance(notifier, NOTIFIERS[kind])
            assert notifier.name == kind
    with pytest.raises(ValidationError):
        parse_config({"type": "pager", "number": "555"})
    with pytest.raises(ValidationError, match="Extra inputs"):
        parse_config({**raw["mqtt"], "colour": "red"})
    with pytest.raises(ValidationError, match="at least 16"):
        parse_config({**raw["webhook"], "secret": "short"})


def test_every_notifier_module_is_registered_under_its_config_type() -> None:
    registered = set(NOTIFIERS.values())
    for module_info in pkgutil.iter_modules(notifiers_pkg.__path__):
        module = importlib.import_module(f"alerts.notifiers.{module_info.name}")
        for value in vars(module).values():
            concrete = isinstance(value, type) and issubclass(value, Notifier) and not inspect.isabstract(value)
            if concrete and value.__module__ == module.__name__:
                assert value in registered, f"{value.__name__} is not in NOTIFIERS"
                assert get_args(value.config_class.model_fields["type"].annotation) == (value.type_key,)


def test_notification_refuses_naive_times_and_half_positions() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        notification(at=datetime(2024, 1, 1))  # noqa: DTZ001 - the point of the test
    with pytest.raises(ValueError, match="lon and lat"):
        notification(lat=None)
    with pytest.raises(ValueError, match="severity"):
        notification(severity="apocalyptic")
