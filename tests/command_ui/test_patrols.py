"""The patrol API on a real database: signed codes, who may scan, replays, the day's rounds, codes and rotation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from alerts import patrol_codes
from store.site_repo import load_site as store_site
from tests.command_ui.district import api, sign_in
from tests.site.test_patrol_site import GATE, SCHOOL, district_with_patrols
from tests.support.secrets import TEST_SECRET_KEY

GUARD, OTHER_GUARD, ADMIN, OFFICER, CITY = "leah-wang", "ahmed-schultz", "hannah-larsen", "ahmed-wang", \
    "daniel-lindqvist"
KEY = TEST_SECRET_KEY.encode()
NEAR = {"lon": GATE[0] + 0.0001, "lat": GATE[1] + 0.0001, "accuracy_m": 8.0}


@pytest.fixture
def app(url: str, tmp_path: Path) -> Iterator[TestClient]:
    with psycopg.connect(url) as conn:
        store_site(conn, district_with_patrols())
    with api(url, tmp_path) as client:
        yield client


def code(checkpoint: str = "ap-gate", version: int = 1, key: bytes = KEY) -> dict[str, object]:
    return {"checkpoint": checkpoint, "version": version,
            "signature": patrol_codes.sign(key, checkpoint, version)}


def audited(url: str, action: str) -> list[dict[str, object]]:
    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute("SELECT detail FROM audit_log WHERE action = %s ORDER BY id", (action,))]


def test_a_guard_scans_once_and_a_replay_is_kept_but_not_counted(app: TestClient, url: str) -> None:
    guard = sign_in(app, GUARD)
    signature = patrol_codes.sign(KEY, "ap-gate", 1)
    shown = app.get("/api/v1/patrols/checkpoint", params={"c": "ap-gate", "v": 1, "s": signature}, headers=guard)
    assert shown.status_code == 200, shown.text
    assert shown.json() == {"id": "ap-gate", "name": "Main gate", "school_id": SCHOOL, "needs_position": True}
    first = app.post("/api/v1/patrols/scans", json=code() | NEAR, headers=guard)
    assert first.status_code == 201, first.text
    assert (first.json()["counted"], first.json()["reason"], first.json()["visited"], first.json()["planned"]) == (
        True, "counted", 1, 2)
    replay = app.post("/api/v1/patrols/scans", json=code() | NEAR, headers=guard)
    assert (replay.json()["counted"], replay.json()["reason"], replay.json()["visited"]) == (False, "repeat", 1)
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT counted, reason, user_id FROM patrol_scans ORDER BY id").fetchall() == [
            (True, "counted", GUARD), (False, "repeat", GUARD)]
    assert [d["reason"] for d in audited(url, "patrol.scan")] == ["counted", "repeat"]


def test_a_scan_away_from_the_checkpoint_or_without_a_position_does_not_count(app: TestClient) -> None:
    guard = sign_in(app, GUARD)
    far = app.post("/api/v1/patrols/scans", json=code() | {"lon": GATE[0] + 0.01, "lat": GATE[1]}, headers=guard)
    assert (far.status_code, far.json()["reason"], far.json()["counted"]) == (201, "too_far", False)
    blind = app.post("/api/v1/patrols/scans", json=code(), headers=guard)
    assert blind.json()["reason"] == "no_position"
    # A checkpoint with no radius counts without a position.
    boiler = app.post("/api/v1/patrols/scans", json=code("ap-boiler"), headers=guard)
    assert (boiler.json()["reason"], boiler.json()["visited"]) == ("counted", 1)


@pytest.mark.parametrize(("body", "why"), [
    (code() | {"signature": "A" * 27}, "forged"),
    ({**code("ap-boiler"), "checkpoint": "ap-gate"}, "forged"),  # another checkpoint's signature
    (code(key=b"not the server's secret key at all"), "forged"),
    (code(version=2), "forged"),  # a version the server never issued
    (code("no-such-checkpoint"), "forged"),
])
def test_forged_codes_are_refused_and_audited(app: TestClient, url: str, body: dict[str, object],
                                              why: str) -> None:
    refused = app.post("/api/v1/patrols/scans", json=body | NEAR, headers=sign_in(app, GUARD))
    assert (refused.status_code, refused.json()["detail"]) == (403, f"patrol.refused.{why}")
    assert [d["why"] for d in audited(url, "patrol.scan_refused")] == [why]
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM patrol_scans").fetchone() == (0,)


def test_only_guards_and_admins_of_the_school_may_scan(app: TestClient) -> None:
    for person in (OTHER_GUARD, OFFICER, CITY):
        refused = app.post("/api/v1/patrols/scans", json=code() | NEAR, headers=sign_in(app, person))
        assert (refused.status_code, refused.json()["detail"]) == (403, "patrol.refused.other_school"), person
    assert app.post("/api/v1/patrols/scans", json=code() | NEAR, headers=sign_in(app, ADMIN)).status_code == 201
    assert app.post("/api/v1/patrols/scans", json=code() | NEAR).status_code == 401


def test_rotating_a_checkpoint_voids_its_printed_code(app: TestClient, url: str) -> None:
    admin = sign_in(app, ADMIN)
    assert app.post("/api/v1/patrols/checkpoints/ap-gate/rotate", headers=sign_in(app, GUARD)).status_code == 403
    assert app.post("/api/v1/patrols/checkpoints/ap-gate/rotate",
                    headers=sign_in(app, OTHER_GUARD)).status_code == 404
    rotated = app.post("/api/v1/patrols/checkpoints/ap-gate/rotate", headers=admin)
    assert rotated.json() == {"id": "ap-gate", "version": 2}
    assert audited(url, "patrol.rotate") == [{"school_id": SCHOOL, "version": 2}]
    guard = sign_in(app, GUARD)
    old = app.post("/api/v1/patrols/scans", json=code() | NEAR, headers=guard)
    assert (old.status_code, old.json()["detail"]) == (403, "patrol.refused.rotated")
    new = app.post("/api/v1/patrols/scans", json=code(version=2) | NEAR, headers=guard)
    assert new.status_code == 201
    codes = app.get(f"/api/v1/schools/{SCHOOL}/patrols/codes", headers=admin).json()
    gate = next(c for c in codes if c["id"] == "ap-gate")
    assert gate["version"] == 2 and gate["url"].endswith(patrol_codes.scan_path(KEY, "ap-gate", 2))


def test_a_printable_code_is_a_qr_svg_for_the_school_admin_only(app: TestClient) -> None:
    svg = app.get("/api/v1/patrols/checkpoints/ap-gate/qr.svg", headers=sign_in(app, ADMIN))
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert svg.text.startswith("<svg") and "<path" in svg.text
    assert app.get(f"/api/v1/schools/{SCHOOL}/patrols/codes", headers=sign_in(app, GUARD)).status_code == 403
    assert app.get("/api/v1/patrols/checkpoints/ap-gate/qr.svg", headers=sign_in(app, OFFICER)).status_code == 403


def test_the_rounds_of_a_day_for_the_scorecard(app: TestClient) -> None:
    guard = sign_in(app, GUARD)
    for body in (code() | NEAR, code("ap-boiler")):
        assert app.post("/api/v1/patrols/scans", json=body, headers=guard).status_code == 201
    day = app.get(f"/api/v1/schools/{SCHOOL}/patrols", headers=sign_in(app, CITY)).json()
    assert day["planned"] == 6 and day["timezone"] == "America/Chicago"
    assert day["done"] + day["late"] + day["missed"] + day["open"] == 6
    assert [r["round"] for r in day["rounds"]] == ["00:00", "04:00", "08:00", "12:00", "16:00", "20:00"]
    # Today's rounds cover the whole local day from 00:00, so the round under way now (the server's clock picks
    # it) holds both scans: done on time within its first hour, late after it.
    complete = [r for r in day["rounds"] if r["visited"] == ["ap-boiler", "ap-gate"]]
    assert len(complete) == 1 and complete[0]["status"] in ("done", "late")
    assert day["done"] + day["late"] == 1
    assert app.get(f"/api/v1/schools/{SCHOOL}/patrols", headers=sign_in(app, OTHER_GUARD)).status_code == 404
    assert app.get("/api/v1/schools/holdrege-es/patrols", headers=sign_in(app, CITY)).status_code == 404
