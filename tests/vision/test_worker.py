"""End to end: clips through a real RTSP server into the vision worker, the store, alerts and the API.

The clips are generated, served by a GStreamer RTSP server, read by the vision worker, stored in a real
PostgreSQL, decided into incidents by the alert stage, and shown through the API with faces blurred.

Two cameras of the example district are pointed at the test server: the gate camera watches someone walk
in after hours, the kitchen camera someone lying on the floor. Then the server is frozen (SIGSTOP, the TCP
connection stays open and nothing flows) and thawed: both cameras go offline and come back.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import psycopg
import pytest
from fastapi.testclient import TestClient

from alerts.escalation import EscalationPolicy
from alerts.rules import load_rules
from alerts.service import AlertService
from campusguard.settings import Mode, Settings
from campusguard.simulate.clips import SCENES, write_frames
from command_ui.app import create_app
from domain.site import CameraZone
from domain.site.common import SchoolHours
from domain.site.validate import load_site as read_site
from tests.support.ingest import EXAMPLE, prepare_database, wait_for
from tests.support.rtsp import RtspServer, unavailable_reason
from tests.support.secrets import TEST_ADMIN_PASSWORD, TEST_SECRET_KEY
from vision.config import VisionSettings
from vision.rules import RuleParams
from vision.worker import CameraAssignment, VisionWorker

pytestmark = pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason()))

PASSWORD = "a long enough password"
SCHOOL = "antelope-park-es"
GATE, KITCHEN = "antelope-park-cam-gate", "antelope-park-cam-kitchen"
WHOLE = ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0))


def stored(url: str, since: dt.datetime | None = None) -> list[tuple[str, str, dict[str, Any]]]:
    with psycopg.connect(url) as conn:
        return [(r[0], r[1], r[2]) for r in conn.execute(
            "SELECT device_id, kind, detail FROM device_events WHERE device_id = ANY(%s) AND received_at >= %s"
            " ORDER BY received_at", ([GATE, KITCHEN], since or dt.datetime.min.replace(tzinfo=dt.UTC))).fetchall()]


def has(url: str, *wanted: tuple[str, str], since: dt.datetime | None = None) -> bool:
    found = {(device, kind) for device, kind, _ in stored(url, since)}
    return all(w in found for w in wanted)


def cameras(server: RtspServer) -> list[CameraAssignment]:
    """The example school's gate and kitchen cameras, pointed at the test server, with hours that exclude now."""
    entry = next(e for e in read_site(EXAMPLE).iter_schools() if e.school.id == SCHOOL)
    today = dt.datetime.now(entry.school.zone()).weekday()
    # Open only on a day that is not today (local), so the whole test runs after hours.
    other_day = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[(today + 3) % 7]
    school = entry.school.model_copy(update={"hours": (SchoolHours.model_validate(
        {"days": [other_day], "start": "08:00", "end": "15:00"}),)})
    by_id = {c.id: c for c in school.cameras}
    gate = by_id[GATE].model_copy(update={"rtsp_url": server.url("gate"),
                                          "zones": (CameraZone(name="Gate", kind="gate", polygon=WHOLE),)})
    kitchen = by_id[KITCHEN].model_copy(update={"rtsp_url": server.url("kitchen")})
    return [CameraAssignment(gate, school), CameraAssignment(kitchen, school)]


@pytest.fixture
def url(fresh_database_url: str) -> str:
    prepare_database(fresh_database_url, PASSWORD)
    return fresh_database_url


@pytest.fixture
def settings(url: str, tmp_path: Path) -> Settings:
    rules = RuleParams(intrusion_min_s=1.0, fallen_s=2.0, cooldown_s=600.0, loiter_s=600.0)
    return Settings(mode=Mode.PRODUCTION, database_url=url,
                    secret_key=TEST_SECRET_KEY, admin_password=TEST_ADMIN_PASSWORD,
                    data_dir=tmp_path, cookie_secure=False,
                    vision=VisionSettings(stall_s=8.0, read_timeout_s=1.0, rules=rules, sighting_every_s=1.0))


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RtspServer]:
    root = tmp_path / "rtsp"
    write_frames(SCENES["person_enters_zone"], root / "gate")
    write_frames(SCENES["person_lying"], root / "kitchen")
    with RtspServer(root) as running:
        yield running


def test_rtsp_cameras_raise_incidents_with_blurred_snapshots_and_report_stalls(
        url: str, settings: Settings, server: RtspServer) -> None:
    worker = VisionWorker(settings, cameras(server)).start()
    try:
        wait_for(lambda: has(url, (GATE, "intrusion"), (KITCHEN, "person_down")), 120, "the two camera events")
        paused = dt.datetime.now(dt.UTC)
        server.pause()
        wait_for(lambda: has(url, (GATE, "offline"), (KITCHEN, "offline"), since=paused), 60, "both cameras offline")
        resumed = dt.datetime.now(dt.UTC)
        server.resume()
        wait_for(lambda: has(url, (GATE, "online"), (KITCHEN, "online"), since=resumed), 90, "both back online")
    finally:
        worker.stop()

    events = stored(url)
    intrusions = [d for device, kind, d in events if kind == "intrusion" and device == GATE]
    assert len(intrusions) == 1, "one situation, one event (the clip loops; the cooldown holds)"
    assert intrusions[0]["after_hours"] is True and intrusions[0]["zone"] == "Gate"
    for camera in (GATE, KITCHEN):
        # Edges only, alternating, ending back online (a slow first open may add an early offline/online pair).
        health = [k for d, k, _ in events if d == camera and k in ("offline", "online")]
        assert health[-2:] == ["offline", "online"] and all(a != b for a, b in itertools.pairwise(health)), health

    # The snapshot is a real JPEG of the scene; the evidence box is drawn on it.
    snapshot_id = int(intrusions[0]["snapshot_id"])
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT faces, jpeg_blurred, jpeg_original FROM snapshots WHERE id = %s",
                           (snapshot_id,)).fetchone()
        sightings = conn.execute("SELECT count(*) FROM detections WHERE camera_id = %s AND label = 'person'"
                                 " AND zone = 'Gate'", (GATE,)).fetchone()
    assert row is not None and sightings is not None and sightings[0] > 0
    faces, blurred, original = row
    picture = cv2.imdecode(np.frombuffer(bytes(original), np.uint8), cv2.IMREAD_COLOR)
    assert picture.shape[:2] == (480, 640)
    if faces:
        assert bytes(blurred) != bytes(original)

    # The alert stage turns them into incidents at the school, located at the cameras.
    AlertService(url, load_rules(), EscalationPolicy(), []).decide_pending()
    with psycopg.connect(url) as conn:
        types = {r[0] for r in conn.execute("SELECT type FROM incidents WHERE school_id = %s", (SCHOOL,))}
    assert {"intrusion", "person_down"} <= types

    # A guard of the school sees the blurred picture, may not ask for faces; another school's guard sees nothing;
    # an officer sees faces. Every view is audited.
    with TestClient(create_app(settings)) as client, psycopg.connect(url) as conn:
        guard = conn.execute("SELECT id FROM users WHERE role = 'guard' AND scope_id = %s ORDER BY id LIMIT 1",
                             (SCHOOL,)).fetchone()
        stranger = conn.execute("SELECT id FROM users WHERE role = 'guard' AND scope_id <> %s ORDER BY id LIMIT 1",
                                (SCHOOL,)).fetchone()
        officer = conn.execute("SELECT id FROM users WHERE role = 'district_officer' ORDER BY id LIMIT 1").fetchone()
        assert guard and stranger and officer
        path = f"/api/v1/snapshots/{snapshot_id}.jpg"
        assert client.get(path).status_code == 401
        client.post("/api/v1/auth/login", json={"username": guard[0], "password": PASSWORD})
        seen = client.get(path)
        assert seen.status_code == 200 and seen.content == bytes(blurred)
        assert seen.headers["cache-control"] == "private, no-store"
        assert client.get(path, params={"faces": "true"}).status_code == 403
        client.post("/api/v1/auth/login", json={"username": stranger[0], "password": PASSWORD})
        assert client.get(path).status_code == 404
        client.post("/api/v1/auth/login", json={"username": officer[0], "password": PASSWORD})
        assert client.get(path, params={"faces": "true"}).content == bytes(original)
        views = conn.execute("SELECT actor, detail->>'faces' FROM audit_log WHERE action = 'snapshot.view'"
                             " ORDER BY id").fetchall()
    assert views == [(guard[0], "false"), (officer[0], "true")]
