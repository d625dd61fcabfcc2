"""Geofence and alarm-management errors do not tell whether another school's ids exist (issue 16, finding 13).

Before, a school admin drawing a fence for another district's school got 403 "outside your scope" and for a
school that does not exist 422 "no school": one request told them which school ids exist elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.command_ui.district import PASSWORD, api, sign_in
from tests.support.ingest import prepare_database
from tests.support.postgres import scratch_database

SCHOOL_ADMIN = "hannah-larsen"  # Antelope Park's school admin
CITY_ADMIN = "daniel-lindqvist"
SQUARE = {"type": "Polygon", "coordinates": [[[-96.6895, 40.8005], [-96.6890, 40.8005], [-96.6890, 40.8009],
                                              [-96.6895, 40.8005]]]}


@pytest.fixture(scope="module")
def client(service_urls: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with scratch_database(service_urls.database_url) as db:  # type: ignore[attr-defined]
        prepare_database(db, PASSWORD)
        with api(db, tmp_path_factory.mktemp("data")) as test_client:
            yield test_client


def fence(school: str) -> dict[str, Any]:
    return {"name": "Pond", "school_id": school, "geometry": SQUARE}


def same_words(one: str, one_id: str, other: str, other_id: str) -> bool:
    """Tell whether two answers say the same once each repeats the id it was asked about."""
    return one.replace(one_id, "X") == other.replace(other_id, "X")


def test_another_schools_id_reads_like_one_that_does_not_exist(client: TestClient) -> None:
    admin = sign_in(client, SCHOOL_ADMIN)
    foreign = client.put("/api/v1/geofences/pond-a", json=fence("walton-road-es"), headers=admin)
    missing = client.put("/api/v1/geofences/pond-a", json=fence("no-such-es"), headers=admin)
    assert foreign.status_code == missing.status_code == 403
    assert same_words(foreign.json()["detail"], "walton-road-es", missing.json()["detail"], "no-such-es")


def test_another_schools_fence_reads_like_none_on_delete(client: TestClient) -> None:
    city = sign_in(client, CITY_ADMIN)
    assert client.put("/api/v1/geofences/walton-pond", json=fence("walton-road-es"), headers=city).status_code == 201
    admin = sign_in(client, SCHOOL_ADMIN)
    theirs = client.delete("/api/v1/geofences/walton-pond", headers=admin)
    nobodys = client.delete("/api/v1/geofences/no-such-pond", headers=admin)
    assert theirs.status_code == nobodys.status_code == 404
    assert same_words(theirs.json()["detail"], "walton-pond", nobodys.json()["detail"], "no-such-pond")
    # Redrawing it is refused as a taken id: nothing about whose it is or where.
    taken = client.put("/api/v1/geofences/walton-pond", json=fence("antelope-park-es"), headers=admin)
    assert taken.status_code == 409 and "walton-road" not in taken.text
    assert client.delete("/api/v1/geofences/walton-pond", headers=city).status_code == 204


def test_alarm_management_answers_alike_for_foreign_and_missing_schools(client: TestClient) -> None:
    admin = sign_in(client, SCHOOL_ADMIN)
    body = {"source_id": "x", "minutes": 30, "reason": "probe"}
    foreign = client.post("/api/v1/alarms/shelves", json=body | {"school_id": "walton-road-es"}, headers=admin)
    missing = client.post("/api/v1/alarms/shelves", json=body | {"school_id": "no-such-es"}, headers=admin)
    assert foreign.status_code == missing.status_code == 403
    assert same_words(foreign.json()["detail"], "walton-road-es", missing.json()["detail"], "no-such-es")
    drill = {"minutes": 30, "reason": "probe"}
    foreign = client.put("/api/v1/alarms/drill-mode/walton-road-es", json=drill, headers=admin)
    missing = client.put("/api/v1/alarms/drill-mode/no-such-es", json=drill, headers=admin)
    assert foreign.status_code == missing.status_code == 403
