"""Reports that agree with themselves, and the wall's counters.

Device uptime is read from the liveness history (golden cases by hand, then through the API on a real
database); the wall's counters are scoped, leave drills out and are refused to guards.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import psycopg
import pytest
from fastapi.testclient import TestClient

from command_ui.uptime import online_at_start, online_seconds, school_uptime
from store import ingest_repo
from store.queries import DeviceAvailability
from tests.command_ui.district import CHICAGO, PASSWORD, add_incident, api, cover_past, sign_in
from tests.support.ingest import prepare_database
from tests.support.postgres import scratch_database

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
T0 = NOW - dt.timedelta(days=3)
HOUR = dt.timedelta(hours=1)
START, END = T0, T0 + 10 * HOUR


def device(before: bool | None, *changes: tuple[dt.datetime, bool], now: bool = True, after: bool | None = None,
           heard: bool = True, name: str = "d", first_seen: dt.datetime | None = None) -> DeviceAvailability:
    return DeviceAvailability(name, "s", "sensor", heard, now, before, changes, after, first_seen)


# --- Golden cases, by hand -----------------------------------------------------------------------------------

GOLDEN = [
    # (device, online seconds of the ten-hour window, why)
    (device(False, (START + HOUR, True)), 9 * 3600, "offline before the window, back after an hour"),
    (device(None, heard=False, now=False), 0, "never reported: down the whole window"),
    (device(None, now=False, after=False), 36_000, "went offline only after the window: online in it"),
    (device(None, now=True, after=True), 0, "came back only after the window: offline in it"),
    (device(None, now=False), 0, "no change on record at all: its present state (offline)"),
    (device(None, now=True), 36_000, "no change on record at all: its present state (online)"),
    (device(True, (START + 2 * HOUR, False), (START + 5 * HOUR, True), (START + 7 * HOUR, False), now=False),
     4 * 3600, "two outages, the second still going at the end"),
    (device(None, (START + 4 * HOUR, False)), 4 * 3600, "first change inside: it was online before"),
    (device(None, (START + 4 * HOUR, True)), 6 * 3600, "first change inside: it was offline before"),
    (device(False, (START - HOUR, True)), 36_000, "a change stamped before the start counts from the start"),
    (device(None, first_seen=START - 30 * HOUR), 36_000, "first heard long before the window: all of it"),
    (device(None, first_seen=START + 6 * HOUR), 4 * 3600, "first heard inside the window: online from then"),
    (device(None, (START + 8 * HOUR, False), first_seen=START + 6 * HOUR), 2 * 3600,
     "first heard inside the window, then offline"),
    (device(None, first_seen=END + HOUR), 0, "first heard after the window: no part of it"),
]
# Of each golden device, the seconds of the window it is judged over: from its first message on.
COUNTED = [max(0.0, (END - max(START, g[0].first_seen or START)).total_seconds()) for g in GOLDEN]


@pytest.mark.parametrize(("availability", "seconds", "why"), GOLDEN, ids=[g[2] for g in GOLDEN])
def test_online_seconds_from_the_history(availability: DeviceAvailability, seconds: float, why: str) -> None:
    assert online_seconds(availability, START, END) == seconds, why


def test_state_at_the_start_prefers_the_nearest_evidence_over_the_present() -> None:
    assert online_at_start(device(True, (START + HOUR, False), now=False, after=True)) is True
    assert online_at_start(device(None, (START + HOUR, True), now=True, after=False)) is False
    assert online_at_start(device(None, now=False, after=False)) is True
    assert online_at_start(device(True, heard=False)) is False  # no liveness record: nothing to believe


def test_a_school_with_silent_devices_is_not_at_a_hundred_percent() -> None:
    """The report that started this: 3 of 13 devices reporting, each online throughout, is 3/13 uptime."""
    reporting = [device(None, name=f"r{i}") for i in range(3)]
    silent = [device(None, heard=False, now=False, name=f"s{i}") for i in range(10)]
    (school,) = school_uptime([*reporting, *silent], START, END)
    assert (school.devices, school.heard, school.online_now) == (13, 3, 3)
    assert school.uptime == pytest.approx(3 / 13)


def test_school_uptime_sums_the_golden_devices_per_school() -> None:
    devices = [g[0] for g in GOLDEN]
    (school,) = school_uptime(devices, START, END)
    assert school.devices == len(GOLDEN) and school.heard == len(GOLDEN) - 1
    assert school.uptime == pytest.approx(sum(g[1] for g in GOLDEN) / sum(COUNTED))
    # The bar can never claim more than the devices that ever reported could give it.
    assert school.uptime is not None and school.uptime * school.devices <= school.heard
    assert school_uptime(devices, START, START)[0].uptime is None  # an empty window has no share


def test_a_camera_installed_yesterday_is_not_up_all_last_month() -> None:
    """The reviewer's case: a camera first heard yesterday, online since, in last month's and this week's reports."""
    yesterday = NOW - dt.timedelta(days=1)
    camera = device(None, first_seen=yesterday, name="new-camera")
    month_start, month_end = NOW - dt.timedelta(days=40), NOW - dt.timedelta(days=10)
    (alone,) = school_uptime([camera], month_start, month_end)
    assert alone.uptime is None  # it did not exist then: no share at all, certainly not 100 %
    # Beside an old camera that was offline all month, the school is at 0 %, not at half.
    old = device(False, now=False, first_seen=month_start - dt.timedelta(days=100), name="old-camera")
    (both,) = school_uptime([camera, old], month_start, month_end)
    assert both.uptime == 0
    # Over the last week both count, the new one only from yesterday: 1 day online of 7 + 1 days in all.
    week_start = NOW - dt.timedelta(days=7)
    (week,) = school_uptime([camera, old], week_start, NOW)
    assert week.uptime == pytest.approx(1 / 8)


# --- Through the API, on a real database -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def url(service_urls: object) -> Iterator[str]:
    with scratch_database(service_urls.database_url) as db:  # type: ignore[attr-defined]
        prepare_database(db, PASSWORD)
        with psycopg.connect(db) as conn:
            cover_past(conn, 10)
            # The nurse's button was installed (first heard) two hours into the test window.
            liveness = [("antelope-park-office-panic-1", True, T0 - 30 * HOUR),
                        ("antelope-park-gym-panic", False, T0 - 30 * HOUR),
                        ("antelope-park-nurse-panic", True, T0 + 2 * HOUR)]
            for device_id, online, first in liveness:
                conn.execute("INSERT INTO device_liveness (device_id, last_seen, first_seen, online)"
                             " VALUES (%s, %s, %s, %s)", (device_id, NOW, first, online))
            events = [  # office: an hour's outage in the window; gym: offline only after the window
                ("antelope-park-office-panic-1", T0 + HOUR, "offline"),
                ("antelope-park-office-panic-1", T0 + 2 * HOUR, "online"),
                ("antelope-park-gym-panic", T0 + 5 * HOUR, "offline"),
            ]
            for device_id, at, kind in events:
                conn.execute("INSERT INTO device_events (device_id, time, kind, received_at) VALUES (%s, %s, %s, %s)",
                             (device_id, at, kind, NOW))
        yield db


@pytest.fixture(scope="module")
def client(url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with api(url, tmp_path_factory.mktemp("data")) as test_client:
        yield test_client


def test_device_uptime_counts_every_device_of_the_school(client: TestClient) -> None:
    admin = sign_in(client, "daniel-lindqvist")
    window = {"since": T0.isoformat(), "until": (T0 + 4 * HOUR).isoformat(), "school": "antelope-park-es"}
    body = client.get("/api/v1/reports/device-uptime", params=window, headers=admin).json()
    (school,) = body["schools"]
    assert school["school_id"] == "antelope-park-es"
    assert (school["heard"], school["online_now"]) == (3, 2)
    # office 3 h + gym 4 h (offline only since after the window) + nurse 2 h (online since it was first heard,
    # two hours in: judged over those 2 h only), the never-heard rest 0 of their 4 h each.
    assert school["devices"] > 3
    assert school["uptime"] == pytest.approx(9 / (4 * (school["devices"] - 1) + 2))


def test_a_school_nobody_heard_from_is_at_zero_not_blank(client: TestClient) -> None:
    admin = sign_in(client, "daniel-lindqvist")
    body = client.get("/api/v1/reports/device-uptime", params={"school": "holdrege-es"}, headers=admin).json()
    (school,) = body["schools"]
    assert school["heard"] == 0 and school["devices"] > 0 and school["uptime"] == 0


# --- The wall's counters -----------------------------------------------------------------------------------------

def test_wall_counts_are_scoped_leave_drills_out_and_are_refused_to_guards(url: str, client: TestClient) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        add_incident(conn, "antelope-park-es", NOW - dt.timedelta(minutes=5))  # critical, raised
        add_incident(conn, "antelope-park-es", NOW - dt.timedelta(minutes=9), severity="high", ack_s=60)
        late = add_incident(conn, "antelope-park-es", NOW - dt.timedelta(minutes=3), kind="late_arrival",
                            severity="low")
        conn.execute("UPDATE incidents SET title_params = '{\"source_id\": \"bus-01-gps\"}' WHERE id = %s", (late,))
        drill = add_incident(conn, "antelope-park-es", NOW - dt.timedelta(minutes=1))
        conn.execute("UPDATE incidents SET drill = true WHERE id = %s", (drill,))
        add_incident(conn, "antelope-park-es", T0, ack_s=30, resolve_s=60)  # closed out long ago
        conn.execute("INSERT INTO device_liveness (device_id, last_seen, online) VALUES ('bus-01-gps', now(), true)")
    officer = client.get("/api/v1/wall/counts", headers=sign_in(client, "hannah-larsen")).json()
    assert (officer["open_critical"], officer["open_high"], officer["open_other"]) == (1, 1, 1)
    assert officer["unacknowledged"] == 2  # the critical and the late bus; the drill is not on the wall
    # "Today" is the school's day (Chicago) as the server judged it: just after its midnight, some of these
    # were yesterday. Read from the answer's as_of, not from when this module was imported.
    today = dt.datetime.fromisoformat(officer["as_of"]).astimezone(CHICAGO).date()
    assert officer["alarms_today"] == sum((NOW - dt.timedelta(minutes=m)).astimezone(CHICAGO).date() == today
                                          for m in (5, 9, 3))
    assert (officer["buses_out"], officer["buses_late"], officer["buses_silent"]) == (1, 1, 0)
    assert officer["devices_online"] == 3 and officer["devices_offline"] == 1
    assert officer["devices"] > officer["devices_online"] + officer["devices_offline"]
    other = client.get("/api/v1/wall/counts", headers=sign_in(client, "daniel-schultz")).json()
    assert other["open_critical"] == 0 and other["buses_out"] == 0 and other["devices_online"] == 0
    assert client.get("/api/v1/wall/counts", headers=sign_in(client, "leah-wang")).status_code == 403
    assert client.get("/api/v1/wall/counts").status_code == 401


def test_ingest_records_when_a_device_was_first_heard_and_keeps_it(url: str, client: TestClient) -> None:
    """The liveness upsert writes first_seen on a device's first message only; later ones move last_seen alone."""
    first, later = NOW - dt.timedelta(hours=6), NOW - dt.timedelta(hours=1)
    with psycopg.connect(url, autocommit=True) as conn:
        for at in (first, later):
            ingest_repo.touch_liveness(conn, [ingest_repo.Touch("holdrege-office-panic-1", at, None)], 20, 30)
        row = conn.execute("SELECT first_seen, last_seen FROM device_liveness"
                           " WHERE device_id = 'holdrege-office-panic-1'").fetchone()
    assert row == (first, later)
    # And the report judges it from then: online for the 6 h since its first message, over those 6 h.
    admin = sign_in(client, "daniel-lindqvist")
    window = {"since": (NOW - dt.timedelta(days=2)).isoformat(), "until": NOW.isoformat(), "school": "holdrege-es"}
    (school,) = client.get("/api/v1/reports/device-uptime", params=window, headers=admin).json()["schools"]
    assert school["heard"] == 1
    assert school["uptime"] == pytest.approx(6 / (48 * (school["devices"] - 1) + 6), rel=1e-3)
