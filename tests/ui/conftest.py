"""Browser tests' fixtures: the real app under uvicorn, a database holding the example district, Chromium.

The app runs on a free port against a migrated database; the browser is Debian's Chromium driven by
Playwright (never a downloaded one).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
import uvicorn
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

from alerts.escalation import EscalationPolicy
from alerts.rules import load_rules
from alerts.service import AlertService
from campusguard.settings import Mode, Settings
from command_ui.app import create_app
from command_ui.routers.auth import HASHER
from devtools.devservices import free_port
from domain.site import load_site
from store.config import RetentionSettings, StorageBackend
from store.migrate import migrate
from store.site_repo import load_site as store_site
from tests.support.ingest import prepare_database, wait_for
from tests.support.secrets import TEST_ADMIN_PASSWORD, TEST_SECRET_KEY

CITY = Path(__file__).resolve().parents[2] / "examples" / "city.yaml"
"""The example city (scripts/make_example_city.py)."""

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]
PASSWORD = "a long enough password"
OPEN_STATUSES = ("raised", "acknowledged", "responding")

pytestmark = pytest.mark.slow


@dataclass(frozen=True, slots=True)
class Site:
    """A running campusguard: where its pages are and which database it uses."""

    base: str
    db: str

    def raise_panic(self, device: str) -> None:
        """Press a panic button: a device event, decided by the real alert service into an incident."""
        now = datetime.now(UTC)
        with psycopg.connect(self.db) as conn:
            conn.execute("INSERT INTO device_events (device_id, time, kind, received_at, detail)"
                         " VALUES (%s, %s, 'panic', %s, '{\"action\": \"hold\"}')", (device, now, now))
        AlertService(self.db, load_rules(), EscalationPolicy(), []).decide_pending()

    def one(self, query: str, *params: object) -> object:
        """Run a one-row, one-value query."""
        with psycopg.connect(self.db, autocommit=True) as conn:
            row = conn.execute(query, params or None).fetchone()
        return None if row is None else row[0]


@contextmanager
def serving(database_url: str, data_dir: Path, name: str) -> Iterator[Site]:
    """Serve the app on a free port over ``database_url`` until the block ends."""
    settings = Settings(mode=Mode.PRODUCTION, database_url=database_url, secret_key=TEST_SECRET_KEY,
                        admin_password=TEST_ADMIN_PASSWORD, data_dir=data_dir, cookie_secure=False)
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=free_port(),
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, name=name)
    thread.start()
    try:
        wait_for(lambda: server.started, 20, "uvicorn to start")
        yield Site(f"http://127.0.0.1:{server.config.port}", database_url)
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture
def site(fresh_database_url: str, tmp_path: Path) -> Iterator[Site]:
    """The app serving a fresh database holding the example district, every person's password PASSWORD."""
    prepare_database(fresh_database_url)
    with psycopg.connect(fresh_database_url) as conn:
        conn.execute("UPDATE users SET password_hash = %s", (HASHER.hash(PASSWORD),))
    with serving(fresh_database_url, tmp_path, "ui-test-server") as served:
        yield served


@pytest.fixture
def city(fresh_database_url: str, tmp_path: Path) -> Iterator[Site]:
    """The app serving a fresh database holding the example city, every person's password PASSWORD."""
    with psycopg.connect(fresh_database_url) as conn:
        migrate(conn, StorageBackend.AUTO, RetentionSettings())
        store_site(conn, load_site(CITY))
        conn.execute("UPDATE users SET password_hash = %s", (HASHER.hash(PASSWORD),))
    with serving(fresh_database_url, tmp_path, "ui-city-server") as served:
        yield served


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless."""
    if not CHROMIUM.exists():
        pytest.fail("the browser tests need Debian's chromium package (/usr/bin/chromium): run scripts/bootstrap.sh")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context (no cookies) whose page fails the test on any script error."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    tab.on("console", lambda msg: _console(msg, errors))
    try:
        yield tab
    finally:
        context.close()
    assert not errors, errors


def _console(message: ConsoleMessage, errors: list[str]) -> None:
    # A 401 before signing in is how the pages find out nobody is signed in; the browser logs it as an error.
    if message.type == "error" and "401" not in message.text:
        errors.append(f"console: {message.text} at {message.location.get('url')}")


def sign_in(page: Page, base: str, user: str) -> None:
    """Sign in through the login page, as a person would, and wait for the page it leads to."""
    page.goto(f"{base}/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)
    page.wait_for_selector("body[data-ready=true]")


def person(site: Site, role: str, school: str | None = None) -> str:
    """The first person of a role (at a school)."""
    query = "SELECT id FROM users WHERE role = %s" + (" AND scope_id = %s" if school else "") + " ORDER BY id LIMIT 1"
    found = site.one(query, *((role, school) if school else (role,)))
    assert isinstance(found, str)
    return found
