"""The guard's phone as an app, in Chromium: installable, its worker registered, the shell offline, pushes shown.

Headless Chromium cannot reach a real push service, so the subscription itself is tested through the API
(tests/command_ui/test_push.py) and at the wire (tests/alerts/test_webpush.py); here a push is handed to the
service worker through the DevTools protocol (``ServiceWorker.deliverPushMessage``) with the very payload the
notifier sends, and the notification it shows is read back.
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
import uvicorn
from PIL import Image
from playwright.sync_api import Browser, BrowserContext, CDPSession, Page

from alerts.notifiers.base import Notification
from alerts.notifiers.webpush import payload
from campusguard.settings import Mode, Settings
from command_ui.app import create_app
from command_ui.routers.auth import HASHER
from devtools.devservices import free_port
from store import push_repo
from tests.support.ingest import prepare_database, wait_for
from tests.support.secrets import TEST_ADMIN_PASSWORD, TEST_SECRET_KEY, TEST_VAPID_PRIVATE_KEY
from tests.ui.conftest import PASSWORD, Site

pytestmark = pytest.mark.slow

PHONE = {"width": 390, "height": 844}
CACHED_PATHS = """async () => {
  const out = [];
  for (const name of await caches.keys()) {
    for (const request of await (await caches.open(name)).keys()) out.push(new URL(request.url).pathname);
  }
  return out;
}"""
NOTIFICATIONS = """async () => (await (await navigator.serviceWorker.ready).getNotifications())
  .map((n) => ({ title: n.title, body: n.body, tag: n.tag, actions: n.actions.map((a) => a.title),
                 data: n.data, requireInteraction: n.requireInteraction }))"""


@dataclass
class Server:
    """The app under uvicorn, push configured, which a test may stop (the phone loses the network)."""

    site: Site
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


@pytest.fixture
def app_server(fresh_database_url: str, tmp_path: Path) -> Iterator[Server]:
    prepare_database(fresh_database_url)
    with psycopg.connect(fresh_database_url) as conn:
        conn.execute("UPDATE users SET password_hash = %s", (HASHER.hash(PASSWORD),))
    settings = Settings(mode=Mode.PRODUCTION, database_url=fresh_database_url, secret_key=TEST_SECRET_KEY,
                        admin_password=TEST_ADMIN_PASSWORD, data_dir=tmp_path, cookie_secure=False,
                        push={"vapid_private_key": TEST_VAPID_PRIVATE_KEY, "subject": "mailto:desk@example.org"})
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="pwa-test-server")
    thread.start()
    running = Server(Site(f"http://127.0.0.1:{port}", fresh_database_url), server, thread)
    try:
        wait_for(lambda: server.started, 20, "uvicorn to start")
        yield running
    finally:
        running.stop()


@pytest.fixture
def phone(browser: Browser) -> Iterator[tuple[BrowserContext, Page, list[str]]]:
    """A phone-sized context; script errors are collected (the offline part expects failed requests)."""
    context = browser.new_context(viewport=PHONE)  # type: ignore[arg-type]
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield context, page, errors
    finally:
        context.close()


def guard_on_duty(page: Page, site: Site) -> str:
    user = site.one("SELECT id FROM users WHERE role = 'guard' AND scope_id = 'antelope-park-es' ORDER BY id LIMIT 1")
    assert isinstance(user, str)
    page.goto(f"{site.base}/login?next=/guard")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)
    page.goto(f"{site.base}/guard")
    page.wait_for_selector("body[data-ready=true]")
    return user


def worker_ready(page: Page) -> dict[str, Any]:
    state: dict[str, Any] = page.evaluate("""async () => {
      const r = await navigator.serviceWorker.ready;
      return { state: r.active && r.active.state, scope: r.scope };
    }""")
    return state


def test_the_guard_page_installs_registers_its_worker_and_opens_offline(
        app_server: Server, phone: tuple[BrowserContext, Page, list[str]]) -> None:
    context, page, errors = phone
    site = app_server.site
    guard_on_duty(page, site)

    manifest_url = page.eval_on_selector("link[rel=manifest]", "link => link.href")
    assert manifest_url == f"{site.base}/static/manifest.webmanifest"
    cdp = context.new_cdp_session(page)
    parsed = cdp.send("Page.getAppManifest")
    assert parsed["url"] == manifest_url and parsed["errors"] == []  # Chromium's own parser found no fault
    manifest = json.loads(parsed["data"])
    assert (manifest["start_url"], manifest["display"]) == ("/guard", "standalone")
    assert manifest["translations"]["zh-CN"]["name"] == "校园卫士：保安手机"  # noqa: RUF001 - Chinese punctuation
    for icon in manifest["icons"]:
        answer = page.request.get(f"{site.base}{icon['src']}")
        assert answer.ok and answer.headers["content-type"] == "image/png"
        width, height = Image.open(io.BytesIO(answer.body())).size
        assert f"{width}x{height}" == icon["sizes"]
    assert page.evaluate("Notification.permission") == "default"  # asked on the guard's tap, never on load

    wait_for(lambda: worker_ready(page)["state"] == "activated", 20, "the service worker to activate")
    assert worker_ready(page)["scope"] == f"{site.base}/guard"
    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    assert page.evaluate("navigator.serviceWorker.controller !== null")  # the page is the worker's now
    # Chromium's own installability check: nothing wrong with the app, only that a test context is incognito.
    installable = context.new_cdp_session(page).send("Page.getInstallabilityErrors")
    assert [e["errorId"] for e in installable["installabilityErrors"]] == ["in-incognito"]
    cached = page.evaluate(CACHED_PATHS)
    assert "/guard" in cached and "/static/js/guard-page.js" in cached
    assert [p for p in cached if p.startswith("/api/")] == []  # no person's data stays on the phone
    assert errors == []

    app_server.stop()  # the phone loses the command centre
    opened = page.goto(f"{site.base}/guard?incident=1")
    assert opened is not None and opened.from_service_worker
    banner = page.wait_for_selector("[data-testid=offline]:not([hidden])")
    assert banner is not None and banner.inner_text().startswith("Offline: this phone cannot reach")
    assert page.evaluate("document.body.dataset.offline") == "true"
    assert page.inner_text("#push-message") == ""  # one message for one cause
    assert errors == []


def _registration_id(cdp: CDPSession, page: Page, base: str) -> str:
    found: list[str] = []
    cdp.on("ServiceWorker.workerRegistrationUpdated", lambda event: found.extend(
        r["registrationId"] for r in event["registrations"] if r["scopeURL"] == f"{base}/guard" and not r["isDeleted"]))
    cdp.send("ServiceWorker.enable")
    # Events arrive while the page is being talked to; each evaluate lets them in.
    wait_for(lambda: page.evaluate("1") == 1 and bool(found), 10, "the worker's registration")
    return found[0]


def _panic(site: Site) -> Notification:
    site.raise_panic("antelope-park-office-panic-1")
    row = site.one("SELECT id FROM incidents WHERE type = 'panic'")
    assert isinstance(row, int)
    now = datetime.now(UTC)
    return Notification(incident_id=row, school_id="antelope-park-es", type="panic", severity="critical",
                        status="raised", title="Panic", event="raised", at=now, opened_at=now,
                        school_name="Antelope Park Elementary")


@pytest.mark.parametrize("locale", ["en", "zh-CN"])
def test_a_push_shows_the_incident_in_the_persons_language_with_acknowledge(
        app_server: Server, phone: tuple[BrowserContext, Page, list[str]], locale: str) -> None:
    context, page, errors = phone
    site = app_server.site
    context.grant_permissions(["notifications"], origin=site.base)
    guard = guard_on_duty(page, site)
    wait_for(lambda: worker_ready(page)["state"] == "activated", 20, "the service worker to activate")
    page.wait_for_selector("body[data-push]")  # the page has kept the worker's words by now
    notification = _panic(site)
    with psycopg.connect(site.db) as conn:
        title = push_repo.incident_title(conn, notification.incident_id)
    sent = payload(notification, title, locale)

    cdp = context.new_cdp_session(page)
    registration = _registration_id(cdp, page, site.base)  # the domain is enabled on this session
    cdp.send("ServiceWorker.deliverPushMessage", {
        "origin": site.base, "registrationId": registration, "data": sent.decode()})
    wait_for(lambda: bool(page.evaluate(NOTIFICATIONS)), 30, "the notification")
    [shown] = page.evaluate(NOTIFICATIONS)

    words = page.evaluate(f"""import("/static/js/i18n.js").then((m) => m.catalog({json.dumps(locale)},
        ["incident.title.panic", "severity.critical", "action.acknowledge", "push.acknowledged"]))""")
    assert title is not None and title.params == {"place": "Main office, behind the front desk"}
    expected = words["incident.title.panic"].replace("{place}", title.params["place"])
    assert shown["title"] == f"{words['severity.critical']} · {expected}"
    assert shown["actions"] == [words["action.acknowledge"]]
    assert shown["data"]["url"] == f"/guard?incident={notification.incident_id}"
    assert shown["tag"] == f"incident-{notification.incident_id}" and shown["requireInteraction"]

    # Acknowledge on the notification: the worker's own click handler, as the phone's lock screen would call it.
    # (A script-made event cannot extend its lifetime, which the handler asks for; the request is sent first.)
    [worker] = [w for w in context.service_workers if w.url == f"{site.base}/sw.js"]
    worker.evaluate("""async () => {
      const [shown] = await self.registration.getNotifications();
      try {
        self.dispatchEvent(new NotificationEvent("notificationclick", { notification: shown, action: "acknowledge" }));
      } catch { /* waitUntil refuses an untrusted event */ }
    }""")
    wait_for(lambda: site.one("SELECT status FROM incidents WHERE id = %s", notification.incident_id)
             == "acknowledged", 20, "the incident to be acknowledged from the notification")
    assert site.one("SELECT actor FROM incident_events WHERE incident_id = %s ORDER BY seq DESC LIMIT 1",
                    notification.incident_id) == guard  # with the guard's own session, from the worker
    said = words["push.acknowledged"].replace("{title}", expected)
    wait_for(lambda: [n["title"] for n in page.evaluate(NOTIFICATIONS)] == [said], 20, "the worker to say so")

    page.goto(f"{site.base}{shown['data']['url']}")  # what tapping the notification opens
    page.wait_for_selector("body[data-ready=true]")
    focused = page.query_selector_all(".card.focus")
    assert [c.get_attribute("data-incident-id") for c in focused] == [str(notification.incident_id)]
    assert errors == []


def test_ring_when_locked_asks_for_permission_on_the_tap_and_says_why_it_could_not(
        app_server: Server, phone: tuple[BrowserContext, Page, list[str]]) -> None:
    context, page, errors = phone
    site = app_server.site
    guard_on_duty(page, site)
    wait_for(lambda: worker_ready(page)["state"] == "activated", 20, "the service worker to activate")
    page.wait_for_selector("body[data-push=off]")
    assert page.inner_text("#push") == "Tap to ring this phone when it is locked"

    def answered() -> bool:
        return bool(page.evaluate("document.getElementById('push-message').textContent !== ''"))

    page.click("#push")  # no permission given: the browser refuses on the tap, and the page says what to do
    wait_for(answered, 20, "the page's answer")
    assert page.inner_text("#push-message").startswith("Notifications are blocked for this site")

    context.grant_permissions(["notifications"], origin=site.base)
    page.click("#push")  # allowed now; headless Chromium has no push service to register with
    wait_for(answered, 20, "the page's answer")
    assert page.inner_text("#push-message").startswith("Could not turn on ringing when locked: ")
    assert page.evaluate("document.body.dataset.push") == "off"
    assert site.one("SELECT count(*) FROM push_subscriptions") == 0
    assert errors == []


def test_in_chinese_the_app_and_its_button_are_named_in_chinese(
        app_server: Server, phone: tuple[BrowserContext, Page, list[str]]) -> None:
    context, page, errors = phone
    site = app_server.site
    guard_on_duty(page, site)
    page.goto(f"{site.base}/guard?lang=zh-CN")
    page.wait_for_selector("body[data-push=off]")
    assert page.inner_text("#push") == "点按后，手机锁屏时也会响铃"  # noqa: RUF001 - Chinese punctuation
    parsed = context.new_cdp_session(page).send("Page.getAppManifest")
    assert parsed["url"] == f"{site.base}/static/manifest.zh-CN.webmanifest" and parsed["errors"] == []
    manifest = json.loads(parsed["data"])
    assert (manifest["lang"], manifest["name"], manifest["start_url"]) == ("zh-CN", "校园卫士：保安手机", "/guard")  # noqa: RUF001
    assert errors == []
