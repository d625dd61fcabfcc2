"""A camera's learned scene kept in a real PostgreSQL, through the sink, the worker's reader and the API.

Stored by the sink, read back by a worker starting afresh, listed and un-learned through the API with scope and
audit, and gone from the worker's mask at its next reread.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import psycopg
from fastapi.testclient import TestClient

from campusguard.settings import Mode, Settings
from command_ui.app import create_app
from tests.support.ingest import prepare_database
from tests.support.secrets import TEST_ADMIN_PASSWORD, TEST_SECRET_KEY
from vision.config import SceneParams
from vision.scene import SceneLearner, SceneObject
from vision.sink import EventSink, SceneReader

PASSWORD = "a long enough password"
SCHOOL = "antelope-park-es"
GATE = "antelope-park-cam-gate"
LEARNED = dt.datetime(2026, 3, 12, 4, 5, tzinfo=dt.UTC)


def person_of(conn: psycopg.Connection, role: str, own: bool) -> str:
    row = conn.execute(f"SELECT id FROM users WHERE role = %s AND scope_id {'=' if own else '<>'} %s"
                       " ORDER BY id LIMIT 1", (role, SCHOOL)).fetchone()
    assert row is not None
    return str(row[0])


def test_learned_scene_survives_a_restart_and_an_un_learn_reaches_the_worker(fresh_database_url: str,
                                                                              tmp_path: Path) -> None:
    url = fresh_database_url
    prepare_database(url, PASSWORD)
    cone = SceneObject(GATE, "person", (0.21, 0.32, 0.23, 0.36), LEARNED)
    board = SceneObject(GATE, "person", (0.97, 0.23, 1.0, 0.36), LEARNED + dt.timedelta(seconds=4))
    sink = EventSink(url, None)
    sink.start()
    sink.put_learned((cone, board))
    sink.stop()
    assert sink.scene_written == 2

    # A worker starting afresh reads what was learned before it, with the store's ids.
    reader = SceneReader(url, (GATE,), reload_s=10)
    with psycopg.connect(url, autocommit=True) as conn:
        reader.read(conn)
    stored = reader.scene[GATE]
    assert [(o.label, o.box, o.learned_at) for o in stored] == [(cone.label, cone.box, cone.learned_at),
                                                                 (board.label, board.box, board.learned_at)]
    assert all(o.id is not None for o in stored)
    learner = SceneLearner(GATE, SceneParams(), ())
    learner.replace(stored)
    assert len(learner.objects) == 2

    settings = Settings(mode=Mode.PRODUCTION, database_url=url,
                        secret_key=TEST_SECRET_KEY, admin_password=TEST_ADMIN_PASSWORD,
                        data_dir=tmp_path, cookie_secure=False)
    path = f"/api/v1/cameras/{GATE}/scene"
    with TestClient(create_app(settings)) as client, psycopg.connect(url) as conn:
        guard, stranger = person_of(conn, "guard", True), person_of(conn, "guard", False)
        admin = person_of(conn, "school_admin", True)
        assert client.get(path).status_code == 401
        client.post("/api/v1/auth/login", json={"username": guard, "password": PASSWORD})
        listed = client.get(path)
        assert listed.status_code == 200
        assert [(o["id"], o["box"]) for o in listed.json()] == [(o.id, list(o.box)) for o in stored]
        assert client.post(f"{path}/{stored[0].id}/forget").status_code == 403, "a guard may only look"
        client.post("/api/v1/auth/login", json={"username": stranger, "password": PASSWORD})
        assert client.get(path).status_code == 404, "another school's camera is as good as none"
        assert client.get("/api/v1/cameras/no-such-camera/scene").status_code == 404
        client.post("/api/v1/auth/login", json={"username": admin, "password": PASSWORD})
        forgot = client.post(f"{path}/{stored[0].id}/forget")
        assert forgot.status_code == 200 and forgot.json() == {"camera_id": GATE, "forgotten": [stored[0].id]}
        assert client.post(f"{path}/{stored[0].id}/forget").status_code == 404, "already forgotten"
        assert [o["id"] for o in client.get(path).json()] == [stored[1].id]
        everything = client.get(path, params={"forgotten": "true"}).json()
        assert [(o["id"], o["forgotten_by"]) for o in everything] == [(stored[0].id, admin), (stored[1].id, None)]
        cleared = client.post(f"{path}/clear")
        assert cleared.json()["forgotten"] == [stored[1].id]
        audit = conn.execute("SELECT actor, target, detail->'ids' FROM audit_log WHERE action = 'vision_scene.forget'"
                             " ORDER BY id").fetchall()
    assert audit == [(admin, f"camera:{GATE}", [stored[0].id]), (admin, f"camera:{GATE}", [stored[1].id])]

    # The worker's next reread sees the camera's scene empty: nothing is masked any more.
    version = reader.version
    with psycopg.connect(url, autocommit=True) as conn:
        reader.read(conn)
    assert reader.version == version + 1 and reader.scene[GATE] == ()
    learner.replace(reader.scene[GATE])
    assert not learner.objects
