"""The CSV exports stream: many rows leave in many chunks, and the server's memory does not grow with the count.

Both exports used to read every row and build the whole file before sending a byte; a city's year of audit
records is millions of rows. The app runs under uvicorn over real TCP in this process, so this process's
resident set is the server's: it is sampled while each export streams, and the peak during a large export is
compared, as a ratio, with the peak during a small one from the same database (never a wall-clock figure).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
import pytest
import uvicorn
from psycopg.types.json import Jsonb

from bench.year.incidents import chained
from campusguard.settings import Mode, Settings
from command_ui.app import create_app
from devtools.devservices import free_port
from domain.audit import GENESIS, AuditRecord
from tests.command_ui.conftest import PASSWORD
from tests.support.ingest import wait_for
from tests.support.secrets import TEST_ADMIN_PASSWORD, TEST_SECRET_KEY

MANY, FEW = 60_000, 2_000
AUDITOR = "ruth-nguyen"  # the city's auditor: reads the audit trail and the incident reports of the whole tree
GROWTH_LIMIT = 1.15
"""A large export's peak resident set over a small one's: built in memory, 60 000 rows add well over this."""


@pytest.fixture
def served(url: str, tmp_path: Path) -> Iterator[str]:
    """The app over TCP on the example district with many audit records and incidents added."""
    _add_rows(url)
    settings = Settings(mode=Mode.PRODUCTION, database_url=url, secret_key=TEST_SECRET_KEY,
                        admin_password=TEST_ADMIN_PASSWORD, data_dir=tmp_path, cookie_secure=False)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="export-test-server")
    thread.start()
    try:
        wait_for(lambda: server.started, 20, "uvicorn to start")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def _add_rows(url: str) -> None:
    start = datetime(2026, 1, 5, 8, tzinfo=UTC)
    with psycopg.connect(url) as conn:
        head = conn.execute("SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()
        city = conn.execute("SELECT path FROM org_units WHERE parent_id IS NULL").fetchone()
        assert city is not None
        records = ((AuditRecord(start + timedelta(seconds=n), "few" if n < FEW else "many", "incident.acknowledge",
                                f"incident:{n}", {"seq": n, "note": "checked the gate camera and the bus " * 3}),
                    str(city[0])) for n in range(MANY))
        with conn.cursor() as cur, cur.copy("COPY audit_log (at, actor, action, target, detail, prev_hash, hash,"
                                            " scope_path) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["timestamptz", "text", "text", "text", "jsonb", "bytea", "bytea", "text"])
            for row in chained(records, bytes(head[0]) if head else GENESIS):
                copy.write_row(row)
        school = conn.execute("SELECT min(id) FROM schools").fetchone()
        assert school is not None
        conn.execute(
            "INSERT INTO incidents (school_id, type, severity, status, title, opened_at, updated_at, evidence)"
            " SELECT %s, CASE WHEN n < %s THEN 'panic' ELSE 'overspeed' END, 'high', 'closed', 'Route ' || n,"
            " %s + n * interval '1 minute', %s + n * interval '1 minute', %s FROM generate_series(0, %s) n",
            (school[0], FEW, start, start, Jsonb([]), MANY - 1))


def _sign_in(client: httpx.Client) -> None:
    response = client.post("/api/v1/auth/login", json={"username": AUDITOR, "password": PASSWORD})
    assert response.status_code == 200, response.text


def _rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS in /proc/self/status")


def _stream(client: httpx.Client, path: str) -> tuple[int, int, int]:
    """Read an export as it arrives: (chunks, data lines, peak resident set in kB while it streamed)."""
    chunks, lines, peak = 0, 0, _rss_kb()
    with client.stream("GET", path) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/csv")
        # Sent as it is made: chunked, with no length known up front.
        assert response.headers.get("transfer-encoding") == "chunked"
        assert "content-length" not in response.headers
        for chunk in response.iter_raw():
            chunks += 1
            lines += chunk.count(b"\n")
            peak = max(peak, _rss_kb())
    return chunks, lines - 1, peak  # less the header line


@pytest.mark.parametrize(("path", "few", "many"), [
    ("/api/v1/audit/export.csv", "?actor=few", "?actor=many"),
    ("/api/v1/incidents/export.csv", "?type=panic", "?type=overspeed"),
])
def test_an_export_streams_in_chunks_and_memory_does_not_grow_with_its_rows(
        served: str, path: str, few: str, many: str) -> None:
    with httpx.Client(base_url=served, timeout=120) as client:
        _sign_in(client)
        _stream(client, path + few)  # the first request pays for imports, plans and pool connections
        small_chunks, small_rows, small_peak = _stream(client, path + few)
        large_chunks, large_rows, large_peak = _stream(client, path + many)
    assert small_rows == FEW
    assert large_rows == MANY - FEW
    assert large_chunks > small_chunks > 0
    assert large_peak / small_peak < GROWTH_LIMIT, (small_peak, large_peak)
