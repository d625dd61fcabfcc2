"""The schemathesis sweep: every operation of ``/api/v1/openapi.json`` as every caller, against a real PostgreSQL.

The app is served by uvicorn on a loopback port, on a database of this module's own (the example district with an
open incident, a moving bus and a shelf in each of three schools, and a camera's learned scene object), since the
sweep really acknowledges incidents, draws fences and shelves sources. Each operation gets valid and invalid
requests (schemathesis's explicit examples, coverage cases and fuzzing, derandomised so a run is repeatable), each
sent as a guard, a school admin, a district officer, an auditor (each with a signed-in session cookie) and the
built-in admin (HTTP Basic). Every answer must be no server error, a status the schema documents for the operation,
and a body and headers of the documented schema (error bodies included: ``command_ui/errors.py``).

The operations are collected from the app's schema document, built without a database; the first test checks that
the document the running app serves at ``/api/v1/openapi.json`` (behind sign-in) is that very one.

Path parameters (and a body's school) are drawn half the time from the seeded district's real ids, so the sweep
reaches the 200s of one bus, one incident or one camera, not only their 404s. Each caller sends from an address of
its own and the login's fuzzing from another, so the sign-in throttle that the login's fuzzing rightly trips (429,
documented) holds up no caller's sweep; signing out gets a fresh session each time.
"""

from __future__ import annotations

import base64
import datetime as dt
import secrets
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from schemathesis import Case
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.types import ASGIApp, Receive, Scope, Send

from campusguard.settings import Mode, Settings
from command_ui.app import create_app
from command_ui.deps import SESSION_COOKIE
from devtools.devservices import free_port
from store import alarm_repo, vision_repo
from tests.command_ui.district import PASSWORD, add_incident, cover_past
from tests.support.ingest import prepare_database
from tests.support.postgres import scratch_database

EXAMPLES = 50
"""Generated requests per operation (each sent as every caller), beyond the explicit and coverage cases."""
SECRET_KEY = secrets.token_hex(32)
ADMIN_PASSWORD = secrets.token_urlsafe(16)
PEOPLE = {"guard": "leah-wang", "school_admin": "hannah-larsen", "district_officer": "ahmed-wang",
          "auditor": "ruth-nguyen"}
CALLERS = [*PEOPLE, "admin"]
ADDRESSES = {caller: f"10.9.0.{n}" for n, caller in enumerate(CALLERS, start=1)}
SIGN_IN_ADDRESS = "10.9.1.1"
LOGIN_FUZZ_ADDRESS = "10.9.2.1"
ADDRESS_HEADER = "x-test-client"
SCHOOLS = {"antelope-park-es": "bus-01", "holdrege-es": "bus-04", "walton-road-es": "bus-16"}
CAMERA = "antelope-park-cam-gate"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]
LOGIN, LOGOUT = "POST /api/v1/auth/login", "POST /api/v1/auth/logout"
KNOWN: dict[str, list[Any]] = {"bus_id": list(SCHOOLS.values()), "school_id": list(SCHOOLS),
                               "camera_id": [CAMERA], "fence_id": ["fuzz-fence"]}
"""Real ids per path parameter; the seeded rows' ids are added when the database is seeded."""


def _settings(database_url: str, data_dir: Path) -> Settings:
    return Settings(mode=Mode.PRODUCTION, database_url=database_url, secret_key=SECRET_KEY,
                    admin_password=ADMIN_PASSWORD, data_dir=data_dir, cookie_secure=False)


def _document() -> dict[str, Any]:
    # Building the app connects to nothing: the pool opens with the app's lifespan.
    with tempfile.TemporaryDirectory() as data:
        return create_app(_settings("postgresql://nobody@127.0.0.1:1/none", Path(data))).openapi()


DOCUMENT = _document()
schema = schemathesis.openapi.from_dict(DOCUMENT)
# The callers' credentials are given with each call; the schema's security schemes would add random ones.
schema.config.generation.update(max_examples=EXAMPLES, deterministic=True, with_security_parameters=False,
                                database="none")


@schema.hook
def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any]) -> Any:
    """Half the time, a real id in place of a generated one."""
    choices = {name: st.sampled_from([value, *KNOWN[name]]) for name, value in (path_parameters or {}).items()
               if name in KNOWN}
    if not choices:
        return st.just(path_parameters)
    return st.fixed_dictionaries(choices).map(lambda chosen: path_parameters | chosen)


@schema.hook
def flatmap_body(context: Any, body: Any) -> Any:
    """Half the time, a real school in a body that names one (a shelf), so it gets past the scope check."""
    if not isinstance(body, dict) or not isinstance(body.get("school_id"), str):
        return st.just(body)
    return st.sampled_from([body["school_id"], *SCHOOLS]).map(lambda school: body | {"school_id": school})


@pytest.fixture(scope="module")
def database(service_urls: object) -> Iterator[str]:
    with scratch_database(service_urls.database_url, prefix="cg_fuzz_") as db:  # type: ignore[attr-defined]
        prepare_database(db, PASSWORD)
        now = dt.datetime.now(dt.UTC)
        with psycopg.connect(db, autocommit=True) as conn:
            cover_past(conn, 3)
            KNOWN["incident_id"] = [add_incident(conn, school, now - dt.timedelta(minutes=5)) for school in SCHOOLS]
            KNOWN["shelf_id"] = []
            for school, bus in SCHOOLS.items():
                conn.execute("INSERT INTO positions (device_id, time, received_at, lon, lat, speed_kmh, heading_deg,"
                             " source) VALUES (%s, %s, %s, -96.66, 40.80, 30, 90, 'test')", (f"{bus}-gps", now, now))
                KNOWN["shelf_id"].append(alarm_repo.add_shelf(conn, school, f"{bus}-gps", None, "seeded", "admin",
                                                              now, now + dt.timedelta(hours=1)).id)
            KNOWN["object_id"] = [vision_repo.store_scene_object(conn, CAMERA, "person", (0.1, 0.1, 0.2, 0.3), now)]
        yield db


def addressed(app: ASGIApp) -> ASGIApp:
    """The app, seeing each request come from the address its ``X-Test-Client`` header names (the test's own)."""
    async def call(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            named = dict(scope["headers"]).get(ADDRESS_HEADER.encode())
            if named:
                scope = {**scope, "client": (named.decode(), 50000)}
        await app(scope, receive, send)
    return call


@pytest.fixture(scope="module")
def base_url(database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Serve the app with uvicorn on a thread until the module's tests are done."""
    port = free_port()
    app = addressed(create_app(_settings(database, tmp_path_factory.mktemp("fuzz"))))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="fuzz-api")
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "the API did not start"
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def sign_in(base_url: str, person: str) -> dict[str, str]:
    """Sign ``person`` in through the API; the header of a request in their session."""
    answer = httpx.post(f"{base_url}/api/v1/auth/login", json={"username": person, "password": PASSWORD},
                        headers={ADDRESS_HEADER: SIGN_IN_ADDRESS})
    assert answer.status_code == 200, answer.text
    return {"Cookie": f"{SESSION_COOKIE}={answer.cookies[SESSION_COOKIE]}"}


@pytest.fixture(scope="module")
def credentials(base_url: str) -> dict[str, dict[str, str]]:
    basic = base64.b64encode(f"admin:{ADMIN_PASSWORD}".encode()).decode()
    return {role: sign_in(base_url, person) for role, person in PEOPLE.items()} | {
        "admin": {"Authorization": f"Basic {basic}"}}


def test_the_sweep_covers_the_schema_the_app_serves(base_url: str, credentials: dict[str, dict[str, str]]) -> None:
    assert httpx.get(f"{base_url}/api/v1/openapi.json").status_code == 401
    served = httpx.get(f"{base_url}/api/v1/openapi.json", headers=credentials["guard"])
    assert served.status_code == 200
    assert served.json() == DOCUMENT
    assert len(DOCUMENT["paths"]) >= 30


@pytest.mark.slow
@schema.parametrize()
# schemathesis draws some values with the `random` module inside its own strategies; Hypothesis warns about that
# (warnings are errors here) only when the global random state happens to move during a draw, so the sweep failed
# now and then as "flaky" without any server error or schema violation behind it. The warning is about the
# library's internals, not about our API.
@pytest.mark.filterwarnings("ignore:Do not use the `random` module inside strategies")
@settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
          phases=[Phase.explicit, Phase.generate],  # no shrinking: a failure is reported as found
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
def test_every_operation_as_every_caller(case: Case[Any], base_url: str,
                                         credentials: dict[str, dict[str, str]]) -> None:
    if case.operation.label == LOGIN:  # nobody is signed in to sign in: once, from its own address
        case.call_and_validate(base_url, headers={ADDRESS_HEADER: LOGIN_FUZZ_ADDRESS}, checks=CHECKS)
        return
    for caller in CALLERS:
        headers = credentials[caller] | {ADDRESS_HEADER: ADDRESSES[caller]}
        if case.operation.label == LOGOUT and caller != "admin":
            # Signing out ends the session it is sent with: each one gets a session of its own.
            headers |= sign_in(base_url, PEOPLE[caller])
        try:
            case.call_and_validate(base_url, headers=headers, checks=CHECKS)
        except Exception as failure:
            failure.add_note(f"as the {caller}")
            raise
