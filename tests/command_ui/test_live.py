"""The live websocket: signed-in only, scoped, replays what a reconnecting client missed, pushes new changes."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from alerts.escalation import EscalationPolicy
from alerts.lifecycle import Action
from alerts.rules import load_rules
from alerts.service import AlertService
from domain.incident import Outcome
from tests.command_ui.conftest import PASSWORD
from tests.support.live import next_fixes, watch

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "district.yaml"
OWN, OTHER = "antelope-park-es", "walton-road-es"


def press(url: str, device: str) -> AlertService:
    now = datetime.now(UTC)
    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO device_events (device_id, time, kind, received_at, detail)"
                     " VALUES (%s, %s, 'panic', %s, '{}')", (device, now, now))
    service = AlertService(url, load_rules(), EscalationPolicy(), [])
    service.decide_pending()
    return service


def guard_of(url: str, school: str) -> str:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT id FROM users WHERE role = 'guard' AND scope_id = %s ORDER BY id LIMIT 1",
                           (school,)).fetchone()
    assert row is not None
    return str(row[0])


def move(url: str, device: str, when: datetime, lon: float = -96.66, lat: float = 40.81) -> None:
    """Write a device's latest position, as ingest does (the table's trigger stamps it as a new write)."""
    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO latest_positions (device_id, time, lon, lat, source) VALUES (%s, %s, %s, %s,"
                     " 'test') ON CONFLICT (device_id) DO UPDATE SET time = excluded.time, lon = excluded.lon,"
                     " lat = excluded.lat", (device, when, lon, lat))


def incident_messages(ws: Any, count: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while len(out) < count:
        message = ws.receive_json()
        if message["type"] == "incident":
            out.append(message)
    return out


def test_the_live_feed_needs_a_session(client: TestClient) -> None:
    with pytest.raises(WebSocketDisconnect) as closed, client.websocket_connect("/api/v1/live") as ws:
        ws.receive_json()
    assert closed.value.code == 4401


def test_a_guard_gets_their_school_replayed_then_live_and_never_another_school(client: TestClient,
                                                                              url: str) -> None:
    press(url, "walton-road-office-panic-1")  # another school: must never reach this guard
    service = press(url, "antelope-park-office-panic-1")
    assert client.post("/api/v1/auth/login", json={"username": guard_of(url, OWN), "password": PASSWORD}
                       ).status_code == 200
    with client.websocket_connect("/api/v1/live?after=0") as ws:
        replayed = incident_messages(ws, 1)[0]
        assert replayed["incident"]["school_id"] == OWN and replayed["incident"]["status"] == "raised"
        incident_id = replayed["incident"]["id"]
        service.act(incident_id, Action.ACKNOWLEDGE, "someone")
        pushed = incident_messages(ws, 1)[0]
        assert pushed["incident"]["status"] == "acknowledged" and pushed["cursor"] > replayed["cursor"]
        last = pushed["cursor"]
    # Disconnected: a change happens. Reconnecting from the last cursor gets exactly what was missed.
    service.act(incident_id, Action.RESPOND, "someone")
    with client.websocket_connect(f"/api/v1/live?after={last}") as ws:
        missed = incident_messages(ws, 1)[0]
        assert missed["resume"] <= missed["cursor"]  # where to reconnect from: nothing below it is still open
        assert missed["incident"]["status"] == "responding" and missed["cursor"] > last
        press(url, "walton-road-office-panic-1")
        service.act(incident_id, Action.RESOLVE, "someone", "handled", outcome=Outcome.REAL)
        after = incident_messages(ws, 1)[0]
        assert after["incident"]["school_id"] == OWN and after["incident"]["status"] == "resolved"


def test_moving_buses_are_pushed(client: TestClient, url: str) -> None:
    assert client.post("/api/v1/auth/login", json={"username": guard_of(url, OWN), "password": PASSWORD}
                       ).status_code == 200
    with client.websocket_connect("/api/v1/live") as ws:
        watch(ws)
        with psycopg.connect(url) as conn:
            conn.execute("INSERT INTO latest_positions (device_id, time, lon, lat, speed_kmh, heading_deg, source)"
                         " VALUES ('bus-01-gps', %s, -96.66, 40.81, 35, 90, 'test'),"
                         " ('bus-20-gps', %s, -96.6, 40.8, 30, 0, 'test')",
                         (datetime.now(UTC), datetime.now(UTC)))
        moved = {p["device_id"]: p for p in next_fixes(ws)}
    assert "bus-01-gps" in moved and moved["bus-01-gps"]["bus_id"] == "bus-01"
    assert moved["bus-01-gps"]["speed_kmh"] == 35 and moved["bus-01-gps"]["heading_deg"] == 90
    assert datetime.fromisoformat(moved["bus-01-gps"]["time"]).tzinfo is not None
    assert "bus-20-gps" not in moved  # east-prairie's bus: not this guard's to see
    assert all(p["school_id"] == OWN for p in moved.values())


def test_a_late_fix_with_an_older_device_time_still_reaches_the_screen(client: TestClient, url: str) -> None:
    # Positions follow commit order: a tracker that reports an hour-old fix after another's fresh one (a
    # buffered tracker coming back online, a second ingest worker committing later) is not skipped.
    assert client.post("/api/v1/auth/login", json={"username": guard_of(url, OWN), "password": PASSWORD}
                       ).status_code == 200
    now = datetime.now(UTC)
    with client.websocket_connect("/api/v1/live") as ws:
        watch(ws)
        move(url, "bus-02-gps", now + timedelta(minutes=4), -96.65, 40.8)
        move(url, "bus-03-gps", now - timedelta(hours=1), -96.64, 40.8)
        seen: set[str] = set()
        while not {"bus-02-gps", "bus-03-gps"} <= seen:
            seen |= {p["device_id"] for p in next_fixes(ws)}


def test_a_screen_that_watches_nothing_gets_no_positions(client: TestClient, url: str) -> None:
    # A guard's phone page shows incidents, not the fleet: it never asks, and the fleet's moves cost it nothing.
    assert client.post("/api/v1/auth/login", json={"username": guard_of(url, OWN), "password": PASSWORD}
                       ).status_code == 200
    with client.websocket_connect("/api/v1/live") as ws:
        move(url, "bus-01-gps", datetime.now(UTC))
        time.sleep(1.0)  # four ticks of the hub: had positions been sent, they would be ahead of the incident
        press(url, "antelope-park-office-panic-1")
        skipped: list[dict[str, Any]] = []
        while not skipped or skipped[-1]["type"] != "incident" or skipped[-1]["incident"]["type"] != "panic":
            skipped.append(ws.receive_json())
    assert skipped and all(m["type"] == "incident" for m in skipped)


def test_a_map_gets_only_its_box_and_a_snapshot_when_it_moves(client: TestClient, url: str) -> None:
    assert client.post("/api/v1/auth/login", json={"username": guard_of(url, OWN), "password": PASSWORD}
                       ).status_code == 200
    now = datetime.now(UTC)
    with client.websocket_connect("/api/v1/live") as ws:
        watch(ws, [-96.665, 40.805, -96.655, 40.815])
        move(url, "bus-02-gps", now, -96.60, 40.70)
        move(url, "bus-01-gps", now)
        in_box = next_fixes(ws)
        assert {p["device_id"] for p in in_box} == {"bus-01-gps"}  # bus-02 is the guard's, but off the map
        watch(ws)  # zoomed out to the whole scope: both, at once, without waiting for them to move
        seen: set[str] = set()
        while not {"bus-01-gps", "bus-02-gps"} <= seen:
            seen |= {p["device_id"] for p in next_fixes(ws)}


def test_a_zoomed_out_map_is_sent_the_moves_it_can_show(client: TestClient, url: str) -> None:
    assert client.post("/api/v1/auth/login", json={"username": guard_of(url, OWN), "password": PASSWORD}
                       ).status_code == 200
    now = datetime.now(UTC)
    with client.websocket_connect("/api/v1/live") as ws:
        ws.send_json({"type": "watch", "zoom": 30})
        assert "zoom" in ws.receive_json()["detail"]
        watch(ws, zoom=12)  # 29 m a pixel here
        move(url, "bus-01-gps", now)
        move(url, "bus-02-gps", now, -96.65, 40.8)
        seen: set[str] = set()
        while not {"bus-01-gps", "bus-02-gps"} <= seen:
            seen |= {p["device_id"] for p in next_fixes(ws)}
        move(url, "bus-01-gps", now + timedelta(seconds=1), -96.66 + 0.0001)  # 8 m: not a pixel
        move(url, "bus-02-gps", now + timedelta(seconds=1), -96.64, 40.8)  # 840 m: 29 pixels
        assert {p["device_id"] for p in next_fixes(ws)} == {"bus-02-gps"}


def test_an_unreadable_message_is_answered_and_the_feed_goes_on(client: TestClient, url: str) -> None:
    assert client.post("/api/v1/auth/login", json={"username": guard_of(url, OWN), "password": PASSWORD}
                       ).status_code == 200
    with client.websocket_connect("/api/v1/live") as ws:
        ws.send_text("not json")
        assert ws.receive_json()["type"] == "error"
        ws.send_bytes(b'{"type": "ping"}')
        assert "text" in ws.receive_json()["detail"]  # a binary frame is refused, the connection kept
        ws.send_json({"type": "watch", "bbox": [-96.6, 40.9, -96.5, 40.8]})
        error = ws.receive_json()
        assert error["type"] == "error" and "south" in error["detail"]
        ws.send_json({"type": "watch", "bbox": [-200, 40, -96, 41]})
        assert "bbox" in ws.receive_json()["detail"]
        watch(ws)
        move(url, "bus-01-gps", datetime.now(UTC))
        assert "bus-01-gps" in {p["device_id"] for p in next_fixes(ws)}


def test_one_positions_message_in_flight_until_the_screen_acknowledges(client: TestClient, url: str) -> None:
    # A slow screen is not buried in old positions: until it acknowledges, what moves is held and conflated.
    assert client.post("/api/v1/auth/login", json={"username": guard_of(url, OWN), "password": PASSWORD}
                       ).status_code == 200

    with client.websocket_connect("/api/v1/live") as ws:
        watch(ws)
        move(url, "bus-01-gps", datetime.now(UTC))
        while "bus-01-gps" not in {p["device_id"] for p in next_fixes(ws, ack=False)}:
            ws.send_json({"type": "ack"})
        move(url, "bus-02-gps", datetime.now(UTC))
        time.sleep(0.8)  # several ticks of the hub: unacknowledged, bus-02 waits
        move(url, "bus-03-gps", datetime.now(UTC))
        time.sleep(0.8)
        ws.send_json({"type": "ack"})
        together = {p["device_id"] for p in next_fixes(ws, ack=False)}
    assert {"bus-02-gps", "bus-03-gps"} <= together
