"""A head teacher confirms the end-of-route child check (下车清点) for their class, and the geo stage takes it.

The example city in a scratch database. Bus 1 of a township school carries two classes (c1, c3), bus 2 a third
(c2). A trip's end is what the geo stage stores when the bus is back at its depot (``geo.child_check_due``); the
class page lists it with the class's riders, and the head teacher confirms once per bus, trip and class, audited.
Who may: the class's own head teacher and the school's admin; nobody of another class or school, and no guard or
officer. End to end: the geo service, fed a trip over the internal feed, reads the confirmation from the store
and completes the same check a driver's button completes, naming the teacher.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg.types.json import Jsonb

from command_ui.routers.auth import HASHER
from domain.messages import Position
from domain.site import Site, load_site
from geo.engine import GeoEngine
from geo.events import ChildCheckDue
from geo.service import GeoService, stored
from store import child_check_repo
from store.config import RetentionSettings, StorageBackend
from store.feed import ChildCheckPressed, FeedItem, decode, encode, feed_topic, shard_of
from store.migrate import migrate
from store.site_repo import load_site as store_site
from tests.command_ui.district import PASSWORD, api, sign_in
from tests.support.ingest import ingest_settings, publish, wait_for
from tests.support.mqtt import PrivateBroker
from tests.support.postgres import scratch_database

CITY = Path(__file__).resolve().parents[2] / "examples" / "city.yaml"
SCHOOL = "wangzhuang-zxxx"
C1, C2, C3 = f"{SCHOOL}-c1", f"{SCHOOL}-c2", f"{SCHOOL}-c3"
BUS1, BUS2 = f"{SCHOOL}-bus1", f"{SCHOOL}-bus2"
RIDERS = [("王小明", "morning", True, True), ("李小红", None, True, False), ("<b>赵</b>小刚", None, False, True)]


@dataclass(frozen=True, slots=True)
class City:
    """The loaded city and who is who in it."""

    site: Site
    url: str
    teacher: dict[str, str]  # class id -> its head teacher
    school_admin: str
    guard: str
    county_officer: str
    other_school_admin: str


def loaded(url: str) -> City:
    """Migrate ``url``, load the city (every password PASSWORD) and the riders of class 1 on bus 1."""
    site = load_site(CITY)
    school = next(e.school for e in site.iter_schools() if e.school.id == SCHOOL)
    with psycopg.connect(url) as conn:
        migrate(conn, StorageBackend.AUTO, RetentionSettings())
        store_site(conn, site)
        conn.execute("UPDATE users SET password_hash = %s", (HASHER.hash(PASSWORD),))
        first_stop = school.buses[0].route.stops[0].id
        # Class 1's riders are the test's own; class 3 has no list on file (the file's are taken off for both).
        conn.execute("DELETE FROM class_riders WHERE class_id = ANY(%s)", ([C1, C3],))
        for pupil, stop, morning, afternoon in RIDERS:
            conn.execute("INSERT INTO class_riders (class_id, bus_id, pupil, stop_id, morning, afternoon)"
                         " VALUES (%s, %s, %s, %s, %s, %s)",
                         (C1, BUS1, pupil, first_stop if stop else None, morning, afternoon))
    people = list(site.iter_people())
    return City(site, url, {c.id: c.head_teacher.id for c in school.classes},
                next(p.id for p, at in people if at == SCHOOL and p.role == "school_admin"),
                next(p.id for p, at in people if at == SCHOOL and p.role == "guard"),
                next(p.id for p, at in people if at == "junchuan" and p.role == "district_officer"),
                next(p.id for p, at in people if at == "tunzi-zxxx" and p.role == "school_admin"))


def trip_ended(url: str, bus: str, arrived: dt.datetime) -> None:
    """Store the geo stage's ``child_check_due`` for ``bus`` back at its depot at ``arrived``, as geo writes it."""
    device = f"{bus}-jt808"
    fix = Position(device, arrived, arrived, 114.626779, 35.59388, "jt808")
    event = stored(ChildCheckDue(bus, arrived, fix, arrived + dt.timedelta(minutes=10)), device, arrived)
    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO device_events (device_id, time, kind, received_at, detail) VALUES (%s, %s, %s,"
                     " %s, %s)", (event.device_id, event.time, event.kind, event.received_at, Jsonb(event.detail)))


@pytest.fixture(scope="module")
def city(service_urls: object) -> Iterator[City]:
    with scratch_database(service_urls.database_url) as db:  # type: ignore[attr-defined]
        yield loaded(db)


@pytest.fixture(scope="module")
def client(city: City, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with api(city.url, tmp_path_factory.mktemp("data")) as test_client:
        yield test_client


def check(client: TestClient, who: str, class_id: str, bus: str, arrived: dt.datetime | str) -> tuple[int, dict]:
    """POST a child-check confirmation as ``who``; (status, body)."""
    when = arrived if isinstance(arrived, str) else arrived.isoformat()
    response = client.post(f"/api/v1/classes/{class_id}/buses/{bus}/child-check", json={"arrived_at": when},
                           headers=sign_in(client, who))
    return response.status_code, response.json()


def audits(url: str) -> list[tuple[str, str, dict, str | None]]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT actor, target, detail, scope_path FROM audit_log WHERE action = 'class.child_check'"
                            " ORDER BY id").fetchall()


def test_a_head_teacher_confirms_their_class_once_and_it_is_audited(city: City, client: TestClient) -> None:
    arrived = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=3)
    trip_ended(city.url, BUS1, arrived)
    teacher = city.teacher[C1]
    classes = client.get("/api/v1/classes", headers=sign_in(client, teacher)).json()
    assert [c["id"] for c in classes] == [C1]
    bus = classes[0]["buses"][0]
    assert bus["id"] == BUS1 and bus["confirmation"] is None
    assert dt.datetime.fromisoformat(bus["trip"]["arrived_at"]) == arrived and bus["trip"]["done_at"] is None
    # The class's riders, those with a stop first, names as given (markup is the page's to show as text), with
    # the runs each rides.
    riders = [(r["pupil"], r["morning"], r["afternoon"]) for r in bus["riders"]]
    assert riders[0] == ("王小明", True, True) and bus["riders"][0]["stop_name"] is not None
    assert set(riders[1:]) == {("<b>赵</b>小刚", False, True), ("李小红", True, False)}

    status, given = check(client, teacher, C1, BUS1, bus["trip"]["arrived_at"])
    assert status == 200 and given["created"] is True
    assert (given["person_id"], given["pupils"], given["class_id"], given["bus_id"]) == (teacher, 3, C1, BUS1)
    status, again = check(client, teacher, C1, BUS1, arrived)
    assert status == 200 and again["created"] is False and again["confirmed_at"] == given["confirmed_at"]

    # Once, audited once, scoped to the bus's school (its tracker's), with what was vouched for.
    [(actor, target, detail, scope)] = audits(city.url)
    assert (actor, target) == (teacher, f"device:{BUS1}-jt808")
    assert detail == {"bus_id": BUS1, "class_id": C1, "school_id": SCHOOL, "arrived_at": arrived.isoformat(),
                      "pupils": 3}
    assert scope is not None and scope.endswith(f"/{SCHOOL}/")
    with psycopg.connect(city.url) as conn:
        rows = conn.execute("SELECT class_id, person_id, pupils FROM child_check_confirmations").fetchall()
    assert rows == [(C1, teacher, 3)]
    shown = client.get("/api/v1/classes", headers=sign_in(client, teacher)).json()[0]["buses"][0]["confirmation"]
    assert shown["person_id"] == teacher and shown["person_name"] == next(
        c.head_teacher.name for e in city.site.iter_schools() for c in e.school.classes if c.id == C1)


def test_only_the_class_and_its_school_may_confirm_and_only_the_newest_trip(city: City, client: TestClient) -> None:
    arrived = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=1)
    trip_ended(city.url, BUS1, arrived)
    before = len(audits(city.url))
    # Another class's teacher, even of a class on the same bus, is told nothing of class 1 (404, as for no class).
    assert check(client, city.teacher[C3], C1, BUS1, arrived)[0] == 404
    assert check(client, city.teacher[C2], C1, BUS1, arrived)[0] == 404
    assert check(client, city.other_school_admin, C1, BUS1, arrived)[0] == 404
    # A guard or an officer reads the outcome but was not at the bus.
    assert check(client, city.guard, C1, BUS1, arrived)[0] == 403
    assert check(client, city.county_officer, C1, BUS1, arrived)[0] == 403
    # A bus not on the class's roster, a bus with no ended trip, a trip that is not the newest.
    assert check(client, city.teacher[C1], C1, BUS2, arrived)[0] == 404
    assert check(client, city.teacher[C2], C2, BUS2, arrived) == (409, {"detail": "class.child_check.no_trip"})
    stale = arrived - dt.timedelta(hours=1)
    assert check(client, city.teacher[C1], C1, BUS1, stale) == (409, {"detail": "class.child_check.stale_trip"})
    assert len(audits(city.url)) == before  # refusals change nothing
    # The class on the same bus confirms for itself; the school's admin may for a class without its teacher.
    status, own = check(client, city.teacher[C3], C3, BUS1, arrived)
    assert status == 200 and own["created"] and own["pupils"] is None  # no list of class 3's riders on file
    status, admin = check(client, city.school_admin, C1, BUS1, arrived)
    assert status == 200 and admin["created"] and admin["person_id"] == city.school_admin
    assert [a[0] for a in audits(city.url)[before:]] == [city.teacher[C3], city.school_admin]


def test_a_confirmation_keeps_its_person_on_the_feed_and_a_button_press_has_none() -> None:
    at = dt.datetime(2026, 12, 7, 8, 5, tzinfo=dt.UTC)
    entries = [ChildCheckPressed(BUS1, f"{BUS1}-jt808", at, "he-juan", at - dt.timedelta(minutes=2)),
               ChildCheckPressed(BUS1, f"{BUS1}-jt808", at)]
    [payload] = encode([FeedItem(0, e) for e in entries]).values()
    assert decode(payload) == entries
    # A payload from before the person was carried reads as a button press.
    old = b'[{"kind": "child_check", "bus_id": "b", "device_id": "d", "time": "2026-12-07T08:05:00+00:00"}]'
    assert decode(old) == [ChildCheckPressed("b", "d", at)]


def test_a_trip_is_handed_to_geo_once_every_class_on_the_bus_confirmed_whatever_the_commit_order(
        city: City) -> None:
    """The outbox: rows committed in any order are read until applied; a trip waits for every rostered class."""
    arrived = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)
    at = arrived + dt.timedelta(minutes=4)

    def confirm(conn: psycopg.Connection, class_id: str, minutes: int) -> None:
        conn.execute("INSERT INTO child_check_confirmations (bus_id, arrived_at, class_id, device_id, person_id,"
                     " confirmed_at) VALUES (%s, %s, %s, %s, %s, %s)",
                     (BUS1, arrived, class_id, f"{BUS1}-jt808", city.teacher[class_id],
                      arrived + dt.timedelta(minutes=minutes)))

    def this_trip(conn: psycopg.Connection) -> list[child_check_repo.TripConfirmed]:
        return [t for t in child_check_repo.trips_confirmed(conn) if t.arrived_at == arrived]

    with psycopg.connect(city.url) as first, psycopg.connect(city.url) as second, psycopg.connect(city.url) as geo:
        confirm(first, C1, 3)  # inserted first (the lower seq), committed last
        confirm(second, C3, 4)
        second.commit()
        assert this_trip(geo) == []  # class 1's row is not visible yet: the trip waits
        first.commit()
        [trip] = this_trip(geo)
        assert (trip.bus_id, trip.arrived_at, trip.time, trip.person_id) == (BUS1, arrived, at, city.teacher[C3])
        child_check_repo.mark_applied(geo, [trip], at)
        geo.commit()
        assert this_trip(geo) == []
        geo.execute("DELETE FROM child_check_confirmations WHERE arrived_at = %s", (arrived,))
        geo.commit()


@pytest.mark.slow
def test_the_geo_stage_completes_the_check_a_teacher_confirms(fresh_database_url: str, private_mqtt: PrivateBroker,
                                                              tmp_path: Path) -> None:
    here = loaded(fresh_database_url)
    engine = GeoEngine.from_site(here.site)
    bus = next(b for e in here.site.iter_schools() for b in e.school.buses if b.id == BUS1)
    assert bus.route.depot is not None
    device = bus.trackers[0].id
    settings = ingest_settings(fresh_database_url, private_mqtt.url, tmp_path)
    shards = settings.ingest.geo_shards
    service = GeoService(settings, engine, list(range(shards)), "cg-test-geo-check", tick_s=1e9)
    thread = threading.Thread(target=service.run)
    thread.start()
    try:
        wait_for(service.connected.is_set, 20, "the geo service's connection")
        # At the depot, out to the first village stop, back at the depot: the check falls due.
        # Back a minute ago: the teacher confirms well inside the deadline, so the check is done on time.
        start = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=17)
        route = [(0, bus.route.depot), (8, bus.route.stops[0].location), (16, bus.route.depot), (17, bus.route.depot)]
        fixes = [Position(device, start + dt.timedelta(minutes=m), start + dt.timedelta(minutes=m), lon, lat,
                          "jt808", 0.0) for m, (lon, lat) in route]
        payloads = encode([FeedItem(shard_of(BUS1, shards), f) for f in fixes])
        publish(private_mqtt.url, [(feed_topic(shard), body) for shard, body in payloads.items()])
        with api(fresh_database_url, tmp_path / "data") as client:
            teacher = sign_in(client, here.teacher[C1])

            def trip() -> dict | None:
                classes = client.get("/api/v1/classes", headers=teacher).json()
                found: dict | None = classes[0]["buses"][0]["trip"]
                return found
            wait_for(lambda: trip() is not None, 60, "the geo stage's child_check_due")
            ended = trip()
            assert ended is not None and ended["done_at"] is None
            assert check(client, here.teacher[C1], C1, BUS1, ended["arrived_at"])[0] == 200
            # Class 1's teacher vouches for class 1 only: class 3 rides the same bus, so the bus's check waits.
            with psycopg.connect(fresh_database_url) as conn:
                assert child_check_repo.trips_confirmed(conn) == []
            assert (trip() or {}).get("waiting_for") == 1
            assert check(client, here.teacher[C3], C3, BUS1, ended["arrived_at"])[0] == 200
            wait_for(lambda: (trip() or {}).get("done_at") is not None, 60, "the geo stage's child_check_completed")
            done = trip()
        assert done is not None and done["done_by"] == here.teacher[C3] and not done["missed"]
        assert done["waiting_for"] == 0
        with psycopg.connect(fresh_database_url) as conn:
            completed = conn.execute("SELECT device_id, detail FROM device_events"
                                     " WHERE kind = 'geo.child_check_completed'").fetchall()
        assert [(d, detail["person_id"], detail["subject_id"], detail["late"]) for d, detail in completed] == [
            (device, here.teacher[C3], BUS1, False)]
        with psycopg.connect(fresh_database_url) as conn:  # the outbox drained: both classes' rows applied
            assert conn.execute("SELECT class_id FROM child_check_confirmations WHERE applied_at IS NOT NULL"
                                " ORDER BY class_id").fetchall() == [(C1,), (C3,)]
    finally:
        service.stop()
        thread.join(timeout=60)
