"""The scorecard and the monthly bulletin on a real database with the example city, last month seeded.

One school (王庄镇中心小学) is kept well last month: every camera and alarm online, a drill, every patrol round
walked, its alarms acknowledged in half a minute. A school of another county has an alarm nobody acknowledged.
The rest have devices never heard from and no drill, so they fail the cameras and alarms and need rectification.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import psycopg
import pypdf
import pytest
from fastapi.testclient import TestClient

from command_ui.routers.auth import HASHER
from command_ui.uptime import counted_seconds, online_seconds
from domain.compliance import Scorecard, scorecard
from domain.site import Site, load_site
from store import compliance_repo, queries
from store.config import RetentionSettings, StorageBackend
from store.migrate import migrate
from store.patrol_repo import school_patrol
from store.site_repo import load_site as store_site
from tests.command_ui.district import PASSWORD, add_incident, api, cover_past, sign_in
from tests.command_ui.test_scope_matrix_city import CITY, person_at
from tests.support.postgres import scratch_database

SHANGHAI = ZoneInfo("Asia/Shanghai")
OWN, STRANGER = "wangzhuang-zxxx", "gaocun-zxxx"
OWN_NAME = "王庄镇中心小学"


@dataclass(frozen=True, slots=True)
class Seeded:
    site: Site
    url: str
    month: str


def last_month(now: dt.datetime) -> tuple[str, dt.date, dt.date]:
    first = now.astimezone(SHANGHAI).date().replace(day=1)
    start = (first - dt.timedelta(days=1)).replace(day=1)
    return f"{start:%Y-%m}", start, first


def walk_every_round(conn: psycopg.Connection, school: str, start: dt.date, end: dt.date) -> int:
    patrol = school_patrol(conn, school)
    assert patrol is not None
    points = patrol.plan.checkpoints or tuple(c.id for c in patrol.checkpoints)
    rows = []
    day = start
    while day < end:
        for at in patrol.plan.times():
            begin = dt.datetime.combine(day, at, tzinfo=SHANGHAI).astimezone(dt.UTC)
            rows += [(point, school, "guard", begin, begin + dt.timedelta(minutes=5 + n), True, "counted")
                     for n, point in enumerate(points)]
        day += dt.timedelta(days=1)
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO patrol_scans (checkpoint_id, school_id, user_id, round_start, scanned_at,"
                        " counted, reason) VALUES (%s, %s, %s, %s, %s, %s, %s)", rows)
    return len(patrol.plan.times())


@pytest.fixture(scope="module")
def seeded(service_urls: object) -> Iterator[Seeded]:
    site = load_site(CITY)
    now = dt.datetime.now(dt.UTC)
    month, start, end = last_month(now)
    middle = dt.datetime.combine(start + dt.timedelta(days=10), dt.time(10), tzinfo=SHANGHAI).astimezone(dt.UTC)
    with scratch_database(service_urls.database_url) as db:  # type: ignore[attr-defined]
        with psycopg.connect(db) as conn:
            migrate(conn, StorageBackend.AUTO, RetentionSettings())
            store_site(conn, site)
            conn.execute("UPDATE users SET password_hash = %s", (HASHER.hash(PASSWORD),))
            cover_past(conn, 70)
            conn.execute("INSERT INTO device_liveness (device_id, last_seen, online, first_seen)"
                         " SELECT id, %s, true, %s FROM devices WHERE school_id = %s"
                         " AND kind IN ('camera', 'panic_button')", (now, middle, OWN))
            conn.execute("INSERT INTO drills (school_id, device_id, started_at, ok) VALUES (%s, %s, %s, true)",
                         (OWN, f"{OWN}-guardroom-panic", middle))
            walk_every_round(conn, OWN, start, end)
            add_incident(conn, OWN, middle, ack_s=30, resolve_s=600, title="一键报警")
            add_incident(conn, OWN, middle + dt.timedelta(days=3), ack_s=40, resolve_s=900, title="一键报警")
            add_incident(conn, STRANGER, middle, title="一键报警")
        yield Seeded(site, db, month)


@pytest.fixture(scope="module")
def client(seeded: Seeded, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with api(seeded.url, tmp_path_factory.mktemp("data")) as test_client:
        yield test_client


def schools_under(site: Site, unit: str) -> set[str]:
    paths: dict[str, str] = {}
    for entry in site.iter_units():
        paths[entry.unit.id] = paths.get(entry.parent_id or "", "/") + entry.unit.id + "/"
    return {e.school.id for e in site.iter_schools() if paths[e.unit_id].startswith(paths[unit])}


def test_a_county_officer_sees_their_county_scored_weakest_first(client: TestClient, seeded: Seeded) -> None:
    officer = sign_in(client, person_at(seeded.site, "district_officer", "junchuan"))
    got = client.get("/api/v1/reports/scorecard", params={"unit": "junchuan", "month": seeded.month},
                     headers=officer)
    assert got.status_code == 200, got.text
    body = got.json()
    assert {s["school_id"] for s in body["schools"]} == schools_under(seeded.site, "junchuan")
    assert STRANGER not in {s["school_id"] for s in body["schools"]}
    scores = [s["score"] for s in body["schools"]]
    assert scores == sorted(scores) and body["timezone"] == "Asia/Shanghai"
    own = next(s for s in body["schools"] if s["school_id"] == OWN)
    judged = {c["criterion"]: c for c in own["criteria"]}
    assert [c["criterion"] for c in own["criteria"]] == body["criteria"]
    assert {k: judged[k]["status"] for k in ("patrols", "cameras", "alarms", "response", "retention")} == {
        "patrols": "pass", "cameras": "pass", "alarms": "pass", "response": "pass", "retention": "na"}
    assert (judged["cameras"]["measured"], judged["cameras"]["target"]) == (4, 4)  # boarding: the dormitory too
    guards = sum(1 for p in seeded.site.iter_people() if p.scope_id == OWN and p.person.role == "guard")
    assert judged["guards"]["measured"] == guards and judged["guards"]["target"] == 2  # 640 pupils
    assert own["rank"] == 1 and not own["rectify"]
    others = [s for s in body["schools"] if s["school_id"] != OWN]
    assert all(s["rectify"] and s["rank"] > 1 for s in others)
    # The county's townships rolled up, weakest first; the county itself among them.
    units = body["units"]
    assert "junchuan" in {u["unit_id"] for u in units}
    assert [u["score"] for u in units] == sorted(u["score"] for u in units)
    assert sum(u["schools"] for u in units if u["unit_id"] != "junchuan") == len(body["schools"])
    # Nothing above the county, and no other county.
    above = client.get("/api/v1/reports/scorecard", params={"unit": "hechuan"}, headers=officer)
    assert above.status_code == 404
    assert client.get("/api/v1/reports/bulletin", params={"unit": "qiyang"}, headers=officer).status_code == 404


def test_guards_and_head_teachers_are_refused(client: TestClient, seeded: Seeded) -> None:
    for role, at in (("guard", OWN), ("head_teacher", f"{OWN}-c1")):
        person = sign_in(client, person_at(seeded.site, role, at))
        for path in ("/api/v1/reports/scorecard", "/api/v1/reports/bulletin"):
            assert client.get(path, params={"unit": OWN}, headers=person).status_code == 403


def test_a_school_admin_reads_their_school_and_an_auditor_the_city(client: TestClient, seeded: Seeded) -> None:
    admin = sign_in(client, person_at(seeded.site, "school_admin", OWN))
    own = client.get("/api/v1/reports/scorecard", params={"month": seeded.month}, headers=admin).json()
    assert (own["unit_id"], [s["school_id"] for s in own["schools"]], own["units"]) == (OWN, [OWN], [])
    assert client.get("/api/v1/reports/scorecard", params={"unit": STRANGER}, headers=admin).status_code == 404
    auditor = sign_in(client, person_at(seeded.site, "auditor", "hechuan"))
    city = client.get("/api/v1/reports/scorecard", params={"month": seeded.month}, headers=auditor).json()
    assert {s["school_id"] for s in city["schools"]} == schools_under(seeded.site, "hechuan")
    assert city["units"][-1]["score"] >= city["units"][0]["score"]


def test_a_month_is_yyyy_mm(client: TestClient, seeded: Seeded) -> None:
    officer = sign_in(client, person_at(seeded.site, "district_admin", "hechuan"))
    for bad in ("2026-13", "2026-1", "last"):
        assert client.get("/api/v1/reports/scorecard", params={"month": bad}, headers=officer).status_code == 422


def test_the_city_bulletin_ranks_its_schools_and_is_audited(client: TestClient, seeded: Seeded) -> None:
    city_officer = person_at(seeded.site, "district_admin", "hechuan")
    officer = sign_in(client, city_officer)
    card = client.get("/api/v1/reports/scorecard", params={"month": seeded.month}, headers=officer).json()
    assert card["unit_id"] == "hechuan" and len(card["schools"]) == len(list(seeded.site.iter_schools()))
    got = client.get("/api/v1/reports/bulletin", params={"month": seeded.month}, headers=officer)
    assert got.status_code == 200, got.text
    assert got.headers["content-type"].startswith("text/html")
    html = got.text
    assert "平安校园月度通报" in html  # the officer's account speaks Chinese
    ranking = html[html.index('data-part="ranking"'):]
    listed = re.findall(r'data-school="([^"]+)"', ranking)
    by_rank = sorted(card["schools"], key=lambda s: (s["rank"], s["name"], s["school_id"]))
    assert listed == [s["school_id"] for s in by_rank] and listed[0] == OWN
    # Rectification comes first, and the well-kept school is not in it.
    rectify = html[html.index('data-part="rectify"'):html.index('data-part="ranking"')]
    assert OWN_NAME not in rectify and "高村" in rectify
    stranger = re.search(rf'data-school="{STRANGER}".*?</tr>', ranking, re.DOTALL)
    assert stranger is not None and "<td class=\"num\">1</td>" in stranger.group(0)  # its one real alarm
    english = client.get("/api/v1/reports/bulletin", params={"month": seeded.month, "lang": "en"}, headers=officer)
    assert "Monthly safe-campus bulletin" in english.text and "Since last month" in english.text
    with psycopg.connect(seeded.url) as conn:
        audited = conn.execute("SELECT actor, target, detail, scope_path FROM audit_log"
                               " WHERE action = 'report.bulletin' ORDER BY id").fetchall()
    assert [(a, t, d["format"], d["lang"], d["month"], s) for a, t, d, s in audited] == [
        (city_officer, "unit:hechuan", "html", "zh-CN", seeded.month, "/hechuan/"),
        (city_officer, "unit:hechuan", "html", "en", seeded.month, "/hechuan/")]
    assert OWN not in audited[0][2]["rectify"] and STRANGER in audited[0][2]["rectify"]


def test_the_bulletin_prints_as_a_pdf_with_chinese_names(client: TestClient, seeded: Seeded) -> None:
    officer = sign_in(client, person_at(seeded.site, "district_officer", "junchuan"))
    got = client.get("/api/v1/reports/bulletin", params={"unit": "junchuan", "month": seeded.month,
                                                         "format": "pdf"}, headers=officer)
    assert got.status_code == 200, got.text
    assert got.headers["content-type"] == "application/pdf" and got.content.startswith(b"%PDF")
    text = "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(got.content)).pages)
    assert OWN_NAME in text and "平安校园月度通报" in text


def test_a_retired_school_and_a_drill_resolved_as_such_are_read_right(seeded: Seeded) -> None:
    """A school gone from the site file keeps its history but leaves the scorecard; a drill is never an alarm."""
    _, start, end = last_month(dt.datetime.now(dt.UTC))
    since = dt.datetime.combine(start, dt.time(), tzinfo=SHANGHAI).astimezone(dt.UTC)
    until = dt.datetime.combine(end, dt.time(), tzinfo=SHANGHAI).astimezone(dt.UTC)
    with psycopg.connect(seeded.url) as conn:  # rolled back on leaving: the module's data stays as seeded
        before = {r.facts.school_id: r for r in compliance_repo.school_records(
            conn, "/", since, until, until, lambda camera: 30.0)}
        add_incident(conn, OWN, since + dt.timedelta(days=2), ack_s=20, resolve_s=60, outcome="drill")
        conn.execute("UPDATE schools SET active = false WHERE id = %s", (STRANGER,))
        after = {r.facts.school_id: r for r in compliance_repo.school_records(
            conn, "/", since, until, until, lambda camera: 30.0)}
        conn.rollback()
    assert STRANGER in before and STRANGER not in after  # its incident is in the month: no KeyError, just gone
    assert after[OWN].incidents == before[OWN].incidents == 2  # the drill is not a real alarm
    assert after[OWN].drills == before[OWN].drills + 1  # and it counts as the drill it was


def test_cameras_and_alarms_are_judged_on_the_months_history_not_on_today(seeded: Seeded) -> None:
    """A camera dark most of last month but back now fails last month; buttons up all month but quiet now pass."""
    now = dt.datetime.now(dt.UTC)
    _, start, end = last_month(now)
    since = dt.datetime.combine(start, dt.time(), tzinfo=SHANGHAI).astimezone(dt.UTC)
    until = dt.datetime.combine(end, dt.time(), tzinfo=SHANGHAI).astimezone(dt.UTC)
    with psycopg.connect(seeded.url) as conn:  # rolled back on leaving: the module's data stays as seeded
        devices = conn.execute("SELECT id, kind, subtype FROM devices WHERE school_id = %s AND active"
                               " AND kind IN ('camera', 'panic_button') ORDER BY id", (STRANGER,)).fetchall()
        buttons = [d for d, kind, _ in devices if kind == "panic_button"]
        gate = next(d for d, kind, place in devices if kind == "camera" and place == "gate")
        assert buttons and len([d for d, kind, place in devices if place == "gate"]) == 1

        def events(*rows: tuple[str, dt.datetime, str]) -> None:
            with conn.cursor() as cur:
                cur.executemany("INSERT INTO device_events (device_id, time, kind, received_at)"
                                " VALUES (%s, %s, %s, %s)", [(d, at, kind, at) for d, at, kind in rows])

        def judged(month_since: dt.datetime, month_until: dt.datetime) -> Scorecard:
            records = compliance_repo.school_records(conn, "/", month_since, month_until, now,
                                                     lambda camera: 30.0)
            return scorecard(next(r.facts for r in records if r.facts.school_id == STRANGER))

        # Heard since the day before the month and up throughout it; the buttons quiet since the month ended
        # (offline now), the cameras still up.
        heard = since - dt.timedelta(days=1)
        conn.execute("INSERT INTO device_liveness (device_id, last_seen, online, first_seen)"
                     " SELECT id, %s, kind = 'camera', %s FROM devices WHERE school_id = %s AND active"
                     " AND kind IN ('camera', 'panic_button')", (now, heard, STRANGER))
        events(*[(d, heard, "online") for d, _, _ in devices],
               *[(b, until + dt.timedelta(minutes=1), "offline") for b in buttons])
        whole = judged(since, until)
        cameras, alarms = whole.judgement("cameras"), whole.judgement("alarms")
        assert cameras.status == "pass" and cameras.measured == cameras.target
        assert alarms.measured == 1.0  # every button online over the month, though none is now

        # The gate camera dark from the month's second day to its last: online now, but not last month.
        events((gate, since + dt.timedelta(days=1), "offline"), (gate, until - dt.timedelta(days=1), "online"))
        dark = judged(since, until).judgement("cameras")
        assert cameras.measured is not None and dark.measured == cameras.measured - 1 and dark.status != "pass"
        # This month, up to now, it has been up since before the month began: it watches the gate again.
        following = dt.datetime.combine((end + dt.timedelta(days=31)).replace(day=1), dt.time(), tzinfo=SHANGHAI)
        this_month = judged(until, following.astimezone(dt.UTC))
        assert this_month.judgement("cameras").status == "pass"
        conn.rollback()


def test_the_stores_device_time_is_the_uptime_reports(seeded: Seeded) -> None:
    """The set-based seconds behind the cameras and alarms criteria equal command_ui/uptime.py's, case by case."""
    now = dt.datetime.now(dt.UTC)
    _, start, end = last_month(now)
    since = dt.datetime.combine(start, dt.time(), tzinfo=SHANGHAI).astimezone(dt.UTC)
    until = dt.datetime.combine(end, dt.time(), tzinfo=SHANGHAI).astimezone(dt.UTC)
    day = dt.timedelta(days=1)
    # (first_seen or None for never heard, online now, [(time, kind)]): every way the state at the start is read.
    cases: list[tuple[dt.datetime | None, bool, list[tuple[dt.datetime, str]]]] = [
        (since - day, False, [(since - day, "online"), (since + 3 * day, "offline"), (since + 9 * day, "online")]),
        (since + 10 * day, True, []),  # first heard mid-month, nothing since: its state now
        (since + 10 * day, False, []),
        (since - day, True, [(since + 5 * day, "offline"), (since + 6 * day, "online")]),  # up before its first change
        (since - day, False, [(until + dt.timedelta(hours=1), "offline")]),  # only a change after the month
        (since + 10 * day, True, [(since + 2 * day, "offline"), (since + 12 * day, "online")]),  # down when first heard
        (None, False, [(since + 2 * day, "online")]),  # never heard: down throughout, whatever its events say
        (until + day, True, []),  # first heard after the month: no time counted
        (since - day, True, [(since, "offline"), (since + 20 * day, "availability_offline")]),
        (since - 5 * day, True, [(since - 2 * day, "availability_offline"), (until - day, "online")]),
    ]
    with psycopg.connect(seeded.url) as conn:  # rolled back on leaving
        devices = [r[0] for r in conn.execute(
            "SELECT id FROM devices WHERE school_id IN (%s, 'gaocun-yey') AND active"
            " AND kind IN ('camera', 'panic_button') ORDER BY id", (STRANGER,))]
        assert len(devices) >= len(cases)
        with conn.cursor() as cur:
            for device, (first, online, history) in zip(devices, cases, strict=False):
                if first is not None:
                    cur.execute("INSERT INTO device_liveness (device_id, last_seen, online, first_seen)"
                                " VALUES (%s, %s, %s, %s)", (device, now, online, first))
                cur.executemany("INSERT INTO device_events (device_id, time, kind, received_at)"
                                " VALUES (%s, %s, %s, %s)", [(device, at, kind, at) for at, kind in history])
        for window_end in (until, until - 15 * day):  # a whole month, and one judged up to its middle
            stored = {d.device_id: d for d in compliance_repo.device_times(conn, "/", since, window_end)}
            report = [d for d in queries.device_availability(conn, "/", since, window_end)
                      if d.kind in ("camera", "panic_button")]
            assert {d.device_id for d in report} == set(stored) and set(devices) <= set(stored)
            for d in report:
                got = stored[d.device_id]
                assert (got.online_s, got.counted_s) == pytest.approx(
                    (online_seconds(d, since, window_end), counted_seconds(d, since, window_end))), d.device_id
        conn.rollback()
