"""``campusguard demo``: its printed lines are about one school, and SIGTERM stops every child.

SIGTERM is what a service manager, ``docker stop`` or ``kill`` sends.

Before, SIGTERM ended the demo on the spot (uvicorn re-raises the signal after its own shutdown, with the
default handler) and left ingest, geo, alerts and the simulator running, holding their ports and raising
incidents. The test starts the real demo in a session of its own, waits for it to serve, sends SIGTERM to the
demo alone and checks that no process of that session is left.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from devtools.devservices import free_port
from tests.support.mqtt import PrivateBroker

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def session_members(sid: int) -> set[int]:
    """Every live process whose session is ``sid`` (field 6 of /proc/PID/stat), zombies excluded."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z" and int(fields[3]) == sid:
            found.add(int(entry.name))
    return found


def check_printed_lines(text: str, url: str) -> None:
    """The printed guard, button press and drill are of one school (before: a guard of another school)."""
    guard = re.search(r"login: (\S+) / \S+ +\(guard of (\S+)\)", text)
    press = re.search(r"mosquitto_pub -t zigbee2mqtt/(\S+) .*\(a panic at (\S+)\)", text)
    drill = re.search(r"drill --school (\S+)", text)
    assert guard and press and drill, text
    assert guard[2] == press[2] == drill[1]
    with psycopg.connect(url) as conn:
        scope = conn.execute("SELECT scope_id FROM users WHERE id = %s", (guard[1],)).fetchone()
        button = conn.execute("SELECT school_id FROM devices WHERE source = 'zigbee2mqtt' AND external_id = %s",
                              (press[1],)).fetchone()
    assert scope == (guard[2],) and button == (guard[2],)


@pytest.fixture
def broker() -> Iterator[PrivateBroker]:
    private = PrivateBroker()
    yield private
    private.close()


def test_sigterm_stops_every_child(fresh_database_url: str, broker: PrivateBroker, tmp_path: Path) -> None:
    port = free_port()
    env = dict(os.environ, CAMPUSGUARD_DATABASE_URL=fresh_database_url, CAMPUSGUARD_MQTT_URL=broker.url,
               CAMPUSGUARD_DATA_DIR=str(tmp_path), CAMPUSGUARD_HTTP_PORT=str(port),
               CAMPUSGUARD_INGEST__HTTP_PORT=str(free_port()), CAMPUSGUARD_INGEST__METRICS_PORT="0")
    printed = tmp_path / "demo.out"
    with printed.open("w") as out:
        demo = subprocess.Popen([sys.executable, "-m", "campusguard", "demo", "--no-cameras"], cwd=REPO,
                                env=env | {"PYTHONUNBUFFERED": "1"}, stdout=out, stderr=subprocess.DEVNULL,
                                start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            assert demo.poll() is None, "the demo exited before serving"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code < 500:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        else:
            pytest.fail("the demo did not serve within 180 s")
        check_printed_lines(printed.read_text(), fresh_database_url)
        children = session_members(demo.pid) - {demo.pid}
        assert len(children) >= 4  # ingest (and its receiver and writer), geo, alerts, the simulator
        demo.send_signal(signal.SIGTERM)
        demo.wait(timeout=120)
        deadline = time.monotonic() + 60
        while session_members(demo.pid) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert session_members(demo.pid) == set()
    finally:
        if demo.poll() is None:
            demo.kill()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(demo.pid, signal.SIGKILL)  # whatever a failure left behind
