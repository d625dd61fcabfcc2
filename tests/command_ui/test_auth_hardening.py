"""Sign-in hardening (issue 16): guessers slowed without locking owners out, sessions that end on a change.

HTTP Basic is throttled and audited like the form; a session ends when what it was granted on changes (password,
role, logout), and its live socket hears it.

The throttle tests run in-process (TestClient, which can claim any client address); the socket and address
tests run on a real uvicorn over TCP, as a browser or a proxy would meet it.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from campusguard.cli import app as cli
from campusguard.runtime import server_config
from campusguard.settings import Mode, Settings
from command_ui.app import create_app
from command_ui.throttle import MAX_DELAY, pair_delay
from devtools.devservices import free_port
from tests.support.ingest import prepare_database, wait_for
from tests.support.postgres import scratch_database

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "district.yaml"
PASSWORD = "a long enough password"
SECRET_KEY = "test-only-secret-key-0123456789-abcdefghijklmnop"
ADMIN_PASSWORD = "test-only-Admin-7f3k9q2x"
PAIR_LIMIT, ADDRESS_LIMIT = 3, 12
CLOSE_WITHIN_S = 10.0  # well under the socket's own 30 s re-check: a close this soon came from the notification


@pytest.fixture(scope="module")
def url(service_urls: object) -> Iterator[str]:
    with scratch_database(service_urls.database_url) as db:  # type: ignore[attr-defined]
        prepare_database(db, PASSWORD)
        yield db


def settings(url: str, data_dir: Path, **extra: Any) -> Settings:
    return Settings(mode=Mode.PRODUCTION, database_url=url, secret_key=SECRET_KEY, admin_password=ADMIN_PASSWORD,
                    data_dir=data_dir, cookie_secure=False, login_attempts=PAIR_LIMIT,
                    login_address_failures=ADDRESS_LIMIT, http_port=free_port(), **extra)


def forget_attempts(url: str) -> None:
    """Each test starts with no failures on record (the database is shared by the module)."""
    with psycopg.connect(url) as conn:
        conn.execute("DELETE FROM auth_attempts")


def person(url: str, role: str, index: int = 0) -> str:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT id FROM users WHERE role = %s AND active ORDER BY id", (role,)).fetchall()
    return str(rows[index][0])


def audit(url: str, action: str, target: str | None = None) -> list[dict[str, Any]]:
    with psycopg.connect(url) as conn:
        return [row[0] for row in conn.execute(
            "SELECT detail FROM audit_log WHERE action = %s AND (%s::text IS NULL OR target = %s) ORDER BY id",
            (action, target, target))]


def pass_time(url: str, seconds: int) -> None:
    """Let the throttle's clock run on: every recorded attempt moves into the past."""
    with psycopg.connect(url) as conn:
        conn.execute("UPDATE auth_attempts SET at = at - make_interval(secs => %s)", (seconds,))


# --- throttling, in-process -----------------------------------------------------------------------------------

@pytest.fixture
def app(url: str, tmp_path: Path) -> Iterator[FastAPI]:
    forget_attempts(url)
    application = create_app(settings(url, tmp_path))
    with TestClient(application):  # the lifespan: the pool, the feeds
        yield application


def at(app: FastAPI, address: str) -> TestClient:
    """A client calling from ``address`` (the app's lifespan is already running)."""
    return TestClient(app, client=(address, 50000))


def login(client: TestClient, user: str, password: str = PASSWORD) -> httpx.Response:
    return client.post("/api/v1/auth/login", json={"username": user, "password": password})


def test_a_pair_doubles_its_wait_up_to_a_cap() -> None:
    assert [pair_delay(n, 5) for n in (0, 4)] == [timedelta(0)] * 2
    assert [pair_delay(n, 5).total_seconds() for n in (5, 6, 7, 8, 9, 10, 500)] == [30, 60, 120, 240, 480, 900, 900]
    assert pair_delay(10_000, 5) == MAX_DELAY


def test_wrong_passwords_from_one_address_leave_the_right_one_working_from_another(app: FastAPI, url: str) -> None:
    victim = person(url, "district_officer")
    attacker, desk = at(app, "198.51.100.7"), at(app, "192.0.2.10")
    assert [login(attacker, victim, "wrong password").status_code for _ in range(PAIR_LIMIT)] == [401] * PAIR_LIMIT
    assert login(attacker, victim).status_code == 429  # the guessing pair waits, right password or not
    assert login(desk, victim).status_code == 200  # the owner at their own desk does not


def test_each_further_failure_of_a_pair_doubles_its_wait_and_says_how_long(app: FastAPI, url: str) -> None:
    victim, address = person(url, "auditor"), "198.51.100.8"
    client = at(app, address)
    for _ in range(PAIR_LIMIT):
        assert login(client, victim, "wrong password").status_code == 401
    waits = []
    for wait in (30, 60, 120):
        refused = login(client, victim)
        assert refused.status_code == 429
        waits.append(int(refused.headers["Retry-After"]))
        assert login(client, victim).status_code == 429  # refused again within the same wait
        pass_time(url, wait + 1)  # the wait is over: one more wrong guess starts a wait twice as long
        assert login(client, victim, "wrong password").status_code == 401
    assert 25 <= waits[0] <= 30 and 55 <= waits[1] <= 60 and 115 <= waits[2] <= 120
    # One audit record per wait, not per refused request, carrying the pair and the delay.
    throttled = [d for d in audit(url, "auth.login_throttled") if d["name"] == victim]
    assert [(d["client"], d["scope"], d["delay_s"], d["failures"]) for d in throttled] == [
        (address, "pair", 30, 3), (address, "pair", 60, 4), (address, "pair", 120, 5)]


def test_a_school_behind_one_address_is_not_locked_out_by_its_mistyping_staff(app: FastAPI, url: str) -> None:
    nat = at(app, "203.0.113.50")
    staff = [person(url, "guard", i) for i in range(6)]
    for name in staff[:5]:  # five people mistype twice each: 10 failures from the one address
        assert [login(nat, name, "wrong password").status_code for _ in range(2)] == [401, 401]
    assert login(nat, staff[5]).status_code == 200
    assert login(nat, staff[0]).status_code == 200


def test_one_address_spraying_many_names_waits_and_others_do_not(app: FastAPI, url: str) -> None:
    sprayer, address = at(app, "203.0.113.66"), "203.0.113.66"
    for n in range(ADDRESS_LIMIT):
        assert login(sprayer, f"sprayed-{n}", "Winter2026!").status_code == 401
    target = person(url, "school_admin")
    refused = login(sprayer, target)
    assert refused.status_code == 429 and 600 < int(refused.headers["Retry-After"]) <= 900  # the oldest ages out
    assert login(sprayer, "sprayed-again", "Winter2026!").status_code == 429
    assert login(at(app, "203.0.113.67"), target).status_code == 200
    throttled = [d for d in audit(url, "auth.login_throttled") if d["client"] == address]
    assert [(d["scope"], d["name"]) for d in throttled] == [("address", target)]  # once for the address's wait


def test_http_basic_admin_is_throttled_and_audited(app: FastAPI, url: str) -> None:
    script, other = at(app, "198.51.100.20"), at(app, "198.51.100.21")
    wrong = [script.get("/api/v1/auth/me", auth=("admin", f"guess-{n}")).status_code for n in range(PAIR_LIMIT)]
    assert wrong == [401] * PAIR_LIMIT
    refused = script.get("/api/v1/auth/me", auth=("admin", ADMIN_PASSWORD))
    assert refused.status_code == 429 and 25 <= int(refused.headers["Retry-After"]) <= 30
    assert [other.get("/api/v1/auth/me", auth=("admin", ADMIN_PASSWORD)).status_code for _ in range(3)] == [200] * 3
    assert [d["client"] for d in audit(url, "auth.basic_failed")] == ["198.51.100.20"] * PAIR_LIMIT
    assert [(d["name"], d["client"], d["delay_s"]) for d in audit(url, "auth.basic_throttled")] == [
        ("admin", "198.51.100.20", 30)]
    # Successes: the first from an address in the hour, not one record per request of a polling script.
    assert [d["client"] for d in audit(url, "auth.basic")] == ["198.51.100.21"]


# --- sessions and the live socket, on a real server -----------------------------------------------------------

@dataclass(frozen=True)
class Served:
    host: str
    server: uvicorn.Server

    @property
    def base(self) -> str:
        return f"http://{self.host}"


@contextlib.contextmanager
def serving(config: Settings) -> Iterator[Served]:
    """Run the app as ``campusguard serve`` does (runtime.server_config) on a thread, over TCP."""
    server = uvicorn.Server(server_config(config))
    thread = threading.Thread(target=server.run, name="auth-test-server")
    thread.start()
    try:
        wait_for(lambda: server.started, 20, "uvicorn to start")
        yield Served(f"127.0.0.1:{config.http_port}", server)
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def sign_in(served: Served, user: str, password: str = PASSWORD) -> str:
    response = httpx.post(f"{served.base}/api/v1/auth/login", json={"username": user, "password": password})
    assert response.status_code == 200, response.text
    return response.cookies["campusguard_session"]


def me(served: Served, cookie: str) -> int:
    return httpx.get(f"{served.base}/api/v1/auth/me", cookies={"campusguard_session": cookie}).status_code


def live(served: Served, cookie: str | None) -> ClientConnection:
    headers = {"Cookie": f"campusguard_session={cookie}"} if cookie else None
    return connect(f"ws://{served.host}/api/v1/live", additional_headers=headers, open_timeout=10)


def close_code(ws: ClientConnection, within: float = CLOSE_WITHIN_S) -> int:
    """Read (and drop) what the socket sends until the server closes it; its close code."""
    deadline = time.monotonic() + within
    try:
        while True:
            ws.recv(timeout=max(0.01, deadline - time.monotonic()))
    except ConnectionClosed as closed:
        assert closed.rcvd is not None, "closed without a close frame"
        return closed.rcvd.code
    except TimeoutError:
        raise AssertionError(f"the socket was still open after {within} s") from None


def still_open(ws: ClientConnection, for_s: float = 1.0) -> bool:
    """Tell whether the socket stays open for ``for_s`` (reading and dropping what it sends meanwhile)."""
    deadline = time.monotonic() + for_s
    try:
        while time.monotonic() < deadline:
            ws.recv(timeout=max(0.01, deadline - time.monotonic()))
    except TimeoutError:
        return True
    except ConnectionClosed:
        return False
    return True


def cli_env(url: str, data_dir: Path) -> dict[str, str]:
    return {"CAMPUSGUARD_MODE": "production", "CAMPUSGUARD_DATABASE_URL": url, "CAMPUSGUARD_SECRET_KEY": SECRET_KEY,
            "CAMPUSGUARD_ADMIN_PASSWORD": ADMIN_PASSWORD, "CAMPUSGUARD_DATA_DIR": str(data_dir)}


def test_an_unauthenticated_socket_is_accepted_then_closed_with_4401(url: str, tmp_path: Path) -> None:
    with serving(settings(url, tmp_path)) as served, live(served, None) as ws:  # the handshake completes
        assert close_code(ws) == 4401  # so the page sees 4401 and goes to sign in, not a bare 1006


def test_a_password_change_ends_the_sessions_and_closes_the_live_socket(url: str, tmp_path: Path) -> None:
    forget_attempts(url)
    user = "daniel-schultz"  # a school admin no other test signs in as: their password changes here
    with serving(settings(url, tmp_path)) as served:
        cookie = sign_in(served, user)
        with live(served, cookie) as ws:
            changed = CliRunner().invoke(cli, ["users", "set-password", user, "--password-stdin"],
                                         input="a brand new password\n", env=cli_env(url, tmp_path))
            assert changed.exit_code == 0, changed.output
            assert close_code(ws) == 4401
        assert me(served, cookie) == 401  # the old cookie is worthless
        assert me(served, sign_in(served, user, "a brand new password")) == 200
    assert audit(url, "user.password_set", f"user:{user}") == [{"sessions_ended": 1}]


def test_logout_closes_the_live_socket_of_that_session_only(url: str, tmp_path: Path) -> None:
    forget_attempts(url)
    user = person(url, "district_officer", 1)
    with serving(settings(url, tmp_path)) as served:
        phone, desk = sign_in(served, user), sign_in(served, user)
        with live(served, phone) as on_phone, live(served, desk) as on_desk:
            out = httpx.post(f"{served.base}/api/v1/auth/logout", cookies={"campusguard_session": phone})
            assert out.status_code == 204
            assert close_code(on_phone) == 4401
            assert still_open(on_desk)  # the same person's other session, and its socket, carry on
            assert me(served, desk) == 200


def test_a_role_change_in_a_site_reload_ends_that_persons_sessions(url: str, tmp_path: Path) -> None:
    forget_attempts(url)
    changed, unchanged = "ruth-chen", "leah-wang"  # guards of Antelope Park in the example district
    as_guard = "            - id: ruth-chen\n              name: Ruth Chen\n              role: guard\n"
    text = EXAMPLE.read_text(encoding="utf-8")
    assert as_guard in text
    site = tmp_path / "district.yaml"
    site.write_text(text.replace(as_guard, as_guard.replace("role: guard", "role: school_admin")), encoding="utf-8")
    with serving(settings(url, tmp_path)) as served:
        cookie, other = sign_in(served, changed), sign_in(served, unchanged)
        with live(served, cookie) as ws:
            loaded = CliRunner().invoke(cli, ["site", "load", str(site)], env=cli_env(url, tmp_path))
            assert loaded.exit_code == 0, loaded.output
            assert close_code(ws) == 4401
        assert me(served, cookie) == 401
        assert me(served, other) == 200  # a reload ends the sessions of those it changed, nobody else's


def test_x_forwarded_for_counts_only_from_a_configured_proxy(url: str, tmp_path: Path) -> None:
    forget_attempts(url)
    forged = {"X-Forwarded-For": "203.0.113.9"}
    for name, trusted, seen in (("xff-untrusted", "", "127.0.0.1"), ("xff-trusted", "127.0.0.1", "203.0.113.9")):
        with serving(settings(url, tmp_path, trusted_proxies=trusted)) as served:
            response = httpx.post(f"{served.base}/api/v1/auth/login", headers=forged,
                                  json={"username": name, "password": "wrong password"})
            assert response.status_code == 401
        assert audit(url, "auth.login_failed", f"user:{name}") == [{"client": seen}], name


def test_a_screen_going_away_is_not_an_error(url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    forget_attempts(url)
    caplog.set_level(logging.INFO)
    uvicorn_log = logging.getLogger("uvicorn")
    with serving(settings(url, tmp_path)) as served:
        # After uvicorn configured its logging (which resets its loggers' handlers): they do not propagate.
        uvicorn_log.addHandler(caplog.handler)
        try:
            cookie = sign_in(served, "ray-fischer")
            with live(served, cookie) as ws:
                ws.send('{"type": "watch", "positions": true}')
                time.sleep(0.5)
            wait_for(lambda: not served.server.server_state.connections, 10, "the server to let the socket go")
            time.sleep(0.5)
        finally:
            uvicorn_log.removeHandler(caplog.handler)
    assert any("WebSocket /api/v1/live" in r.getMessage() for r in caplog.records)  # uvicorn's log was heard
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
