"""Incident history: filters, keyset pages with a total and a next link, CSV export; reports; the user's locale."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator

import psycopg
import pytest
from fastapi.testclient import TestClient

from command_ui.uptime import online_seconds
from store.queries import DeviceAvailability, IncidentFilter, MatchCount, incident_page
from tests.command_ui.district import PASSWORD, add_incident, api, cover_past, sign_in
from tests.support.ingest import prepare_database
from tests.support.postgres import scratch_database

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
# A Wednesday noon in Chicago two weeks back: its week (Monday first) is the same in UTC and locally.
WEEK_DAY = (NOW - dt.timedelta(days=14 + (NOW.weekday() - 2) % 7)).replace(hour=18, minute=0, second=0)
T0 = NOW - dt.timedelta(days=3)


@pytest.fixture(scope="module")
def url(service_urls: object) -> Iterator[str]:
    with scratch_database(service_urls.database_url) as db:  # type: ignore[attr-defined]
        prepare_database(db, PASSWORD)
        with psycopg.connect(db) as conn:
            cover_past(conn, 30)
            for i, (ack, done) in enumerate(((60, 600), (120, 1200), (300, 3000))):
                add_incident(conn, "antelope-park-es", WEEK_DAY + dt.timedelta(hours=i), ack_s=ack, resolve_s=done)
            add_incident(conn, "antelope-park-es", WEEK_DAY, kind="geo.route_deviated", severity="medium",
                         title="=HYPERLINK(\"x\")")
            add_incident(conn, "antelope-park-es", WEEK_DAY + dt.timedelta(days=1), ack_s=30, resolve_s=90,
                         outcome="false_alarm", severity="high")
            add_incident(conn, "holdrege-es", WEEK_DAY, ack_s=45)
            add_incident(conn, "walton-road-es", WEEK_DAY, ack_s=10, resolve_s=20)
            # A panic button that went quiet for an hour of a four-hour window; another never reported.
            conn.execute("INSERT INTO device_liveness (device_id, last_seen, online) VALUES"
                         " ('antelope-park-office-panic-1', %s, true)", (NOW,))
            conn.execute("INSERT INTO device_events (device_id, time, kind, received_at) VALUES"
                         " ('antelope-park-office-panic-1', %s, 'offline', %s),"
                         " ('antelope-park-office-panic-1', %s, 'online', %s)",
                         (T0 + dt.timedelta(hours=1), NOW, T0 + dt.timedelta(hours=2), NOW))
        yield db


@pytest.fixture(scope="module")
def client(url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with api(url, tmp_path_factory.mktemp("data")) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def admin(client: TestClient) -> dict[str, str]:
    return sign_in(client, "daniel-lindqvist")  # district administrator, city-wide


def test_pages_follow_the_next_link_to_the_end_with_the_total(client: TestClient, admin: dict[str, str]) -> None:
    first = client.get("/api/v1/incidents", params={"limit": 3}, headers=admin)
    assert first.status_code == 200 and first.headers["X-Total-Count"] == "7"
    seen = [i["id"] for i in first.json()]
    link = first.headers["Link"]
    while link:
        assert link.endswith('>; rel="next"')
        page = client.get(link[1:link.index(">")], headers=admin)
        assert "X-Total-Count" not in page.headers  # the first page's count holds: each count walks every match
        seen += [i["id"] for i in page.json()]
        link = page.headers.get("Link", "")
    assert len(seen) == len(set(seen)) == 7
    opened = [i["opened_at"] for i in client.get("/api/v1/incidents", headers=admin).json()]
    assert opened == sorted(opened, reverse=True)
    assert client.get("/api/v1/incidents", params={"cursor": "garbage"}, headers=admin).status_code == 422


@pytest.mark.parametrize(("params", "count"), [
    ({"school": "antelope-park-es"}, 5),
    ({"school": ["holdrege-es", "walton-road-es"]}, 2),
    ({"type": "geo.route_deviated"}, 1),
    ({"severity": ["high", "medium"]}, 2),
    ({"outcome": "false_alarm"}, 1),
    ({"status": "resolved"}, 5),
    ({"since": (WEEK_DAY + dt.timedelta(hours=1)).isoformat(), "until": (WEEK_DAY + dt.timedelta(hours=3)).isoformat()},
     2),
    ({"school": "antelope-park-es", "status": "resolved", "severity": "critical"}, 3),
])
def test_filters_combine(client: TestClient, admin: dict[str, str], params: dict[str, object], count: int) -> None:
    response = client.get("/api/v1/incidents", params=params, headers=admin)  # type: ignore[arg-type]
    assert response.status_code == 200 and len(response.json()) == count
    assert response.headers["X-Total-Count"] == str(count)


def test_the_count_stops_at_its_cap_and_says_so(url: str) -> None:
    """Past the cap the first page says "at least", exact up to it; the rows are the same either way."""
    everything = IncidentFilter()
    with psycopg.connect(url) as conn:
        scope = conn.execute("SELECT path FROM org_units WHERE parent_id IS NULL").fetchone()
        assert scope is not None
        rows, exact = incident_page(conn, scope[0], everything, 3, count_cap=7)
        capped_rows, capped = incident_page(conn, scope[0], everything, 3, count_cap=6)
    assert exact == MatchCount(7, exact=True) and capped == MatchCount(6, exact=False)
    assert [r["id"] for r in rows] == [r["id"] for r in capped_rows]


def test_bad_filters_are_refused(client: TestClient, admin: dict[str, str]) -> None:
    assert client.get("/api/v1/incidents", params={"severity": "dire"}, headers=admin).status_code == 422
    assert client.get("/api/v1/incidents", params={"since": "2026-01-01T00:00:00"}, headers=admin).status_code == 422


def test_the_filtered_list_exports_as_csv_with_local_times_and_no_formulas(client: TestClient,
                                                                          admin: dict[str, str]) -> None:
    response = client.get("/api/v1/incidents/export.csv", params={"school": "antelope-park-es"}, headers=admin)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text.removeprefix("\ufeff"))))
    assert len(rows) == 5 and {r["school_id"] for r in rows} == {"antelope-park-es"}
    assert {r["school"] for r in rows} == {"Antelope Park Elementary"}
    assert rows[0]["opened_local"].endswith(("-06:00", "-05:00"))
    assert next(r for r in rows if r["type"] == "geo.route_deviated")["title"].startswith("'=")


def test_response_times_per_school_and_week(client: TestClient, admin: dict[str, str]) -> None:
    body = client.get("/api/v1/reports/response-times", headers=admin).json()
    monday = (WEEK_DAY - dt.timedelta(days=WEEK_DAY.weekday())).date().isoformat()
    week = next(w for w in body["weeks"] if w["school_id"] == "antelope-park-es" and w["week"] == monday)
    assert week["incidents"] == 5 and week["acknowledged"] == 4 and week["resolved"] == 4
    assert week["ack_median_s"] == pytest.approx(90)  # 30, 60, 120, 300
    assert week["ack_p90_s"] == pytest.approx(120 + 0.7 * 180)
    assert week["resolve_median_s"] == pytest.approx(900)  # 90, 600, 1200, 3000
    holdrege = next(w for w in body["weeks"] if w["school_id"] == "holdrege-es")
    assert holdrege["resolved"] == 0 and holdrege["resolve_median_s"] is None
    only = client.get("/api/v1/reports/response-times", params={"school": "walton-road-es"}, headers=admin).json()
    assert {w["school_id"] for w in only["weeks"]} == {"walton-road-es"}
    assert client.get("/api/v1/reports/response-times", params={"since": NOW.isoformat(),
                                                                 "until": T0.isoformat()},
                      headers=admin).status_code == 422


def test_device_uptime_per_school(client: TestClient, admin: dict[str, str]) -> None:
    window = {"since": T0.isoformat(), "until": (T0 + dt.timedelta(hours=4)).isoformat(),
              "school": "antelope-park-es"}
    body = client.get("/api/v1/reports/device-uptime", params=window, headers=admin).json()
    (school,) = body["schools"]
    assert school["school_id"] == "antelope-park-es" and school["heard"] == 1 and school["online_now"] == 1
    assert school["devices"] > 1
    # Three of four hours from the one that reported; the rest never did and count as down (test_reports.py).
    assert school["uptime"] == pytest.approx(0.75 / school["devices"])


def test_uptime_reads_the_state_before_the_window() -> None:
    start, end = T0, T0 + dt.timedelta(hours=10)
    hour = dt.timedelta(hours=1)

    def device(before: bool | None, *changes: tuple[dt.datetime, bool], now: bool = True) -> DeviceAvailability:
        return DeviceAvailability("d", "s", "sensor", True, now, before, changes)

    assert online_seconds(device(None), start, end) == 36_000
    assert online_seconds(device(None, now=False), start, end) == 0
    assert online_seconds(device(False, (start + hour, True)), start, end) == 9 * 3600
    assert online_seconds(device(None, (start + 4 * hour, False)), start, end) == 4 * 3600  # it was online
    assert online_seconds(device(None, (start + 4 * hour, True)), start, end) == 6 * 3600  # it was offline


def test_reports_and_exports_are_not_for_guards(client: TestClient) -> None:
    guard = sign_in(client, "leah-wang")
    for path in ("/api/v1/reports/response-times", "/api/v1/reports/device-uptime", "/api/v1/incidents/export.csv"):
        assert client.get(path, headers=guard).status_code == 403
        assert client.get(path).status_code == 401


def test_me_says_the_persons_locale(client: TestClient) -> None:
    assert client.get("/api/v1/auth/me", headers=sign_in(client, "aisha-moreau")).json()["locale"] == "zh-CN"
    assert client.get("/api/v1/auth/me", headers=sign_in(client, "leah-wang")).json()["locale"] == "en"
    login = client.post("/api/v1/auth/login", json={"username": "aisha-moreau", "password": PASSWORD})
    client.cookies.clear()
    assert login.json()["locale"] == "zh-CN"
