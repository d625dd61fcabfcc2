"""A bus's live ETAs and its day's track: the geo stage's own projections, the school's local day, scoped."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import psycopg
import pytest
from fastapi.testclient import TestClient

from domain.messages import Position
from domain.site.validate import load_site as read_site
from geo.engine import GeoEngine
from tests.command_ui.district import CHICAGO, PASSWORD, api, cover_past, drive_bus_01, last_weekday, sign_in
from tests.support.ingest import EXAMPLE, prepare_database
from tests.support.postgres import scratch_database

DAY = last_weekday()


@pytest.fixture(scope="module")
def trip(service_urls: object) -> Iterator[tuple[str, list[tuple[dt.datetime, float, float]]]]:
    with scratch_database(service_urls.database_url) as db:  # type: ignore[attr-defined]
        prepare_database(db, PASSWORD)
        with psycopg.connect(db) as conn:
            cover_past(conn, 7)
            # Five minutes behind: at the first stop (07:21) at 07:26, 40% along the route by 07:33.
            fixes = drive_bus_01(conn, DAY, dt.time(7, 26), dt.time(7, 33), 0.4)
            # A fix late the evening before (local): another day's, never in this day's track.
            evening = dt.datetime.combine(DAY - dt.timedelta(days=1), dt.time(23, 59), tzinfo=CHICAGO)
            conn.execute("INSERT INTO positions (device_id, time, received_at, lon, lat, source)"
                         " VALUES ('bus-01-gps', %s, %s, -96.65, 40.81, 'test')", (evening, evening))
        yield db, fixes


@pytest.fixture(scope="module")
def client(trip: tuple[str, object], tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with api(trip[0], tmp_path_factory.mktemp("data")) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def officer(client: TestClient) -> dict[str, str]:
    return sign_in(client, "ahmed-wang")  # Salt Creek's district officer


def test_etas_are_the_geo_engines_own_as_of_the_newest_fix(client: TestClient, officer: dict[str, str],
                                                            trip: tuple[str, list[tuple[dt.datetime, float, float]]]
                                                            ) -> None:
    body = client.get("/api/v1/buses/bus-01/eta", headers=officer).json()
    fixes = trip[1]
    assert body["bus_id"] == "bus-01" and body["timezone"] == "America/Chicago"
    assert dt.datetime.fromisoformat(body["as_of"]) == fixes[-1][0]
    assert body["position"]["coordinates"] == pytest.approx([fixes[-1][1], fixes[-1][2]])
    assert body["trip_date"] == DAY.isoformat()
    stops = body["stops"]
    assert [s["stop_id"] for s in stops] == [f"bus-01-s{i}" for i in range(1, 11)]
    reached = [s for s in stops if s["reached"]]
    ahead = [s for s in stops if s["eta"]]
    assert reached and ahead and len(reached) + len(ahead) == 10
    assert all(dt.datetime.fromisoformat(s["eta"]) >= fixes[-1][0] for s in ahead)
    assert reached[0]["delay_s"] == pytest.approx(300, abs=15)  # five minutes late at the first stop

    # The geo service, fed the same fixes, projects the same arrivals.
    engine = GeoEngine.from_site(read_site(EXAMPLE))
    state = engine.new_state("bus-01-gps")
    for at, lon, lat in fixes:
        state, _ = engine.evaluate(state, Position("bus-01-gps", at, at, lon, lat, "test", 30.0, 270.0))
    expected = engine.etas(state)
    assert [s.stop_id for s in expected] == [s["stop_id"] for s in stops]
    for mine, theirs in zip(stops, expected, strict=True):
        assert (mine["reached"] is None) == (theirs.reached is None)
        assert mine["delay_s"] == pytest.approx(theirs.delay_s, abs=2.0)


def test_the_days_track_is_a_timed_linestring_of_the_local_day(client: TestClient, officer: dict[str, str],
                                                               trip: tuple[str, list[tuple[dt.datetime, float,
                                                                                           float]]]) -> None:
    body = client.get("/api/v1/buses/bus-01/track", params={"date": DAY.isoformat()}, headers=officer).json()
    assert body["type"] == "FeatureCollection"
    track = body["features"][0]
    assert track["id"] == f"bus-01:{DAY.isoformat()}" and track["geometry"]["type"] == "LineString"
    fixes = trip[1]
    assert len(track["geometry"]["coordinates"]) == len(fixes) == track["properties"]["fixes"]
    assert track["geometry"]["coordinates"][0] == pytest.approx([fixes[0][1], fixes[0][2]])  # lon, lat
    times = [dt.datetime.fromisoformat(t) for t in track["properties"]["times"]]
    assert times == [f[0] for f in fixes]
    start = dt.datetime.fromisoformat(track["properties"]["start"])
    assert start == dt.datetime.combine(DAY, dt.time(0), tzinfo=CHICAGO)

    previous = client.get("/api/v1/buses/bus-01/track", params={"date": (DAY - dt.timedelta(days=1)).isoformat()},
                          headers=officer).json()["features"][0]
    assert previous["geometry"]["type"] == "Point" and previous["properties"]["fixes"] == 1
    empty = client.get("/api/v1/buses/bus-02/track", params={"date": DAY.isoformat()}, headers=officer).json()
    assert empty["features"][0]["geometry"] is None
    assert client.get("/api/v1/buses/bus-01/track", params={"date": "yesterday"}, headers=officer).status_code == 422


def test_a_bus_that_never_reported_has_no_trip(client: TestClient, officer: dict[str, str]) -> None:
    body = client.get("/api/v1/buses/bus-02/eta", headers=officer).json()
    assert body["as_of"] is None and body["position"] is None and body["stops"] == []


def test_buses_of_other_districts_and_unknown_buses_are_not_found(client: TestClient,
                                                                  officer: dict[str, str]) -> None:
    for path in ("/api/v1/buses/bus-16/eta", "/api/v1/buses/bus-16/track", "/api/v1/buses/nope/eta"):
        assert client.get(path, headers=officer).status_code == 404
    assert client.get("/api/v1/buses/bus-01/eta").status_code == 401
