"""The bulletin archive on a real database holding the example city and a simulated last month.

The repository keeps a scheduled bulletin once and any other as a new version; the monthly job, run with a fixed
"now" on the 1st (Beijing time), archives last month's bulletin of the city and each county-level unit, audited
as the scheduler, and a later run after missed 1sts catches up; the API lists and hands back only bulletins of
units inside the reader's subtree, audits each reading, and refuses guards.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import psycopg
import pytest
from fastapi.testclient import TestClient

from campusguard.simulate.last_month import generate
from command_ui.bulletin_archive import PASS_LOCK, SCHEDULER, due_units, languages, months_due, scheduled_pass
from command_ui.routers.auth import HASHER
from domain.site import Site, load_site
from store import bulletin_repo, compliance_repo
from store.config import RetentionSettings, StorageBackend
from store.migrate import migrate
from store.site_repo import load_site as store_site
from tests.command_ui.district import PASSWORD, api, sign_in
from tests.command_ui.test_scope_matrix_city import CITY, OWN, person_at
from tests.support.postgres import scratch_database
from vision.config import VideoSettings

SHANGHAI = ZoneInfo("Asia/Shanghai")
FIRST = dt.datetime(2026, 12, 1, 6, 20, tzinfo=SHANGHAI).astimezone(dt.UTC)  # the first pass past DUE_AFTER
COUNTY_LEVEL = {"qiyuan", "shanyang", "heling", "junchuan", "qiyang", "jingkai", "baoquan"}


@dataclass(frozen=True, slots=True)
class City:
    site: Site
    url: str


@pytest.fixture(scope="module")
def city(service_urls: object) -> Iterator[City]:
    with scratch_database(service_urls.database_url) as db:  # type: ignore[attr-defined]
        with psycopg.connect(db, autocommit=True) as conn:
            migrate(conn, StorageBackend.AUTO, RetentionSettings())
            site = load_site(CITY)
            store_site(conn, site)
            conn.execute("UPDATE users SET password_hash = %s", (HASHER.hash(PASSWORD),))
            assert generate(conn, FIRST) is not None
        yield City(site, db)


@pytest.fixture(scope="module")
def archived(city: City) -> list[int]:
    with psycopg.connect(city.url, autocommit=True) as conn:
        # Twenty past midnight on the 1st is too soon for November: an alarm of 23:58 may still be acknowledged.
        city_unit = next(u for u in due_units(conn) if u.id == "hechuan")
        assert months_due(conn, city_unit, FIRST - dt.timedelta(hours=6)) == ["2026-10"]
        assert months_due(conn, city_unit, FIRST) == ["2026-11"]
        return scheduled_pass(conn, VideoSettings(), FIRST)


@pytest.fixture(scope="module")
def client(city: City, archived: list[int], tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with api(city.url, tmp_path_factory.mktemp("data")) as test_client:
        yield test_client


def test_a_scheduled_bulletin_is_kept_once_and_one_made_again_is_a_new_version(city: City) -> None:
    with psycopg.connect(city.url, autocommit=True) as conn:
        unit = compliance_repo.unit(conn, "junchuan")
        assert unit is not None
        at = dt.datetime(2026, 2, 1, tzinfo=dt.UTC)
        first = bulletin_repo.add(conn, "junchuan", "2026-01", "zh-CN", "html", b"<p>1</p>", at, SCHEDULER,
                                  scheduled=True)
        assert first is not None
        assert bulletin_repo.add(conn, "junchuan", "2026-01", "zh-CN", "html", b"<p>other</p>", at, SCHEDULER,
                                 scheduled=True) is None
        again = [bulletin_repo.add(conn, "junchuan", "2026-01", "zh-CN", "html", f"<p>{n}</p>".encode(), at,
                                   "li-guiying", scheduled=False) for n in (2, 3)]
        english = bulletin_repo.add(conn, "junchuan", "2026-01", "en", "html", b"<p>en</p>", at, SCHEDULER,
                                    scheduled=True)
        kept = {b.id: b for b in bulletin_repo.listed(conn, unit.path) if b.month == "2026-01"}
        assert None not in again and english is not None
        assert {(kept[i].version, kept[i].scheduled, kept[i].generated_by) for i in (first, *again) if i} == {
            (1, True, SCHEDULER), (2, False, "li-guiying"), (3, False, "li-guiying")}
        assert kept[english].version == 1
        stored = bulletin_repo.fetch(conn, first)
        assert stored is not None and stored.body == b"<p>1</p>" and stored.path == unit.path
        assert stored.meta.sha256 == hashlib.sha256(b"<p>1</p>").hexdigest() and stored.meta.size == 8
        conn.execute("DELETE FROM bulletins WHERE month = '2026-01'")  # the rest of the module reads the job's


def test_the_job_on_the_1st_archives_last_months_bulletins_once(city: City, archived: list[int]) -> None:
    with psycopg.connect(city.url, autocommit=True) as conn:
        assert {u.id for u in due_units(conn)} == {"hechuan", *COUNTY_LEVEL}
        rows = conn.execute("SELECT unit_id, month, lang, format, version, scheduled, generated_by, generated_at,"
                            " sha256 = sha256(body) FROM bulletins WHERE id = ANY(%s)", (archived,)).fetchall()
        # Every reader of the city reads Chinese: one language, both formats, for the city and each county.
        assert sorted((r[0], r[3]) for r in rows) == sorted(
            (unit, fmt) for unit in ("hechuan", *COUNTY_LEVEL) for fmt in ("html", "pdf"))
        assert {(r[1], r[2], r[4], r[5], r[6], r[7], r[8]) for r in rows} == {
            ("2026-11", "zh-CN", 1, True, SCHEDULER, FIRST, True)}
        city_pdf = next(i for i, r in zip(archived, rows, strict=True) if r[:4] == ("hechuan", "2026-11", "zh-CN",
                                                                                     "pdf"))
        stored = bulletin_repo.fetch(conn, city_pdf)
        assert stored is not None and stored.body.startswith(b"%PDF")
        audited = conn.execute("SELECT actor, target, detail FROM audit_log WHERE action = 'report.bulletin'"
                               " ORDER BY id").fetchall()
        assert sorted(d["archive_id"] for _, _, d in audited) == sorted(archived)
        assert {(a, d["month"]) for a, _, d in audited} == {(SCHEDULER, "2026-11")}
        assert ("unit:hechuan", True) in {(t, len(d["rectify"]) > 0) for _, t, d in audited}
        # The hourly runs of the same day find it made.
        assert scheduled_pass(conn, VideoSettings(), FIRST + dt.timedelta(hours=5)) == []


def test_a_server_down_on_the_1st_catches_up_when_it_starts(city: City, archived: list[int]) -> None:
    down_since = dt.datetime(2027, 2, 3, 9, tzinfo=SHANGHAI).astimezone(dt.UTC)  # Jan 1 and Feb 1 missed
    with psycopg.connect(city.url, autocommit=True) as conn:
        made = scheduled_pass(conn, VideoSettings(), down_since)
        months = conn.execute("SELECT month, count(*) FROM bulletins WHERE scheduled AND unit_id = 'hechuan'"
                              " GROUP BY month ORDER BY month").fetchall()
        assert months == [("2026-11", 2), ("2026-12", 2), ("2027-01", 2)]
        assert len(made) == 2 * 2 * (1 + len(COUNTY_LEVEL))
        conn.execute("DELETE FROM bulletins WHERE month > '2026-11'")  # the API's tests read November's


def test_a_county_officer_sees_their_county_archive_only(client: TestClient, city: City) -> None:
    officer_id = person_at(city.site, "district_officer", "junchuan")
    officer = sign_in(client, officer_id)
    listed = client.get("/api/v1/reports/bulletins", headers=officer)
    assert listed.status_code == 200, listed.text
    own = listed.json()
    assert own and {b["unit_id"] for b in own} == {"junchuan"}
    assert client.get("/api/v1/reports/bulletins", params={"unit": "hechuan"}, headers=officer).status_code == 404
    city_officer = sign_in(client, person_at(city.site, "district_admin", "hechuan"))
    everything = client.get("/api/v1/reports/bulletins", headers=city_officer).json()
    assert {b["unit_id"] for b in everything} == {"hechuan", *COUNTY_LEVEL}
    city_pdf = next(b for b in everything if b["unit_id"] == "hechuan" and b["format"] == "pdf")
    assert client.get(city_pdf["url"], headers=officer).status_code == 404  # ranks other counties' schools

    pdf = next(b for b in own if b["format"] == "pdf")
    got = client.get(pdf["url"], headers=officer)
    assert got.status_code == 200 and got.headers["content-type"] == "application/pdf"
    assert hashlib.sha256(got.content).hexdigest() == pdf["sha256"] == got.headers["x-content-sha256"]
    with psycopg.connect(city.url) as conn:
        read = conn.execute("SELECT actor, target, detail FROM audit_log WHERE action = 'report.bulletin.read'"
                            " ORDER BY id").fetchall()
    assert [(a, t, d["archive_id"], d["sha256"]) for a, t, d in read] == [
        (officer_id, "unit:junchuan", pdf["id"], pdf["sha256"])]


def test_a_bulletin_made_on_demand_is_audited_and_changes_the_archive_not(client: TestClient, city: City) -> None:
    officer_id = person_at(city.site, "district_officer", "junchuan")
    officer = sign_in(client, officer_id)
    before = client.get("/api/v1/reports/bulletins", headers=officer).json()
    made = client.get("/api/v1/reports/bulletin", params={"unit": "junchuan", "month": "2026-11", "lang": "zh-CN"},
                      headers=officer)
    assert made.status_code == 200, made.text
    assert made.headers["content-type"].startswith("text/html")
    assert client.get("/api/v1/reports/bulletins", headers=officer).json() == before  # a GET stores nothing
    with psycopg.connect(city.url) as conn:
        audited = conn.execute("SELECT actor, target, detail FROM audit_log WHERE action = 'report.bulletin'"
                               " AND actor = %s", (officer_id,)).fetchall()
    assert [(t, d["month"], d["archive_id"]) for _, t, d in audited] == [("unit:junchuan", "2026-11", None)]


def test_a_month_that_failed_is_made_at_a_later_pass_and_one_pass_runs_at_a_time(city: City) -> None:
    """A failed month is retried even after a later one was made; a second replica's pass waits its turn."""
    later = dt.datetime(2027, 2, 1, 7, tzinfo=SHANGHAI).astimezone(dt.UTC)
    with psycopg.connect(city.url, autocommit=True) as conn, psycopg.connect(city.url, autocommit=True) as other:
        scheduled_pass(conn, VideoSettings(), later)  # December's and January's
        conn.execute("DELETE FROM bulletins WHERE month = '2026-12' AND unit_id = 'junchuan'")  # as if it failed
        again = scheduled_pass(conn, VideoSettings(), later + dt.timedelta(hours=1))
        assert conn.execute("SELECT unit_id, month, count(*) FROM bulletins WHERE id = ANY(%s)"
                            " GROUP BY unit_id, month", (again,)).fetchall() == [("junchuan", "2026-12", 2)]
        assert bulletin_repo.try_pass_lock(conn, PASS_LOCK) and not bulletin_repo.try_pass_lock(other, PASS_LOCK)
        conn.execute("DELETE FROM bulletins WHERE month > '2026-11'")  # the API's tests read November's


def test_guards_are_refused_and_the_anonymous_asked_to_sign_in(client: TestClient, city: City) -> None:
    for path in ("/api/v1/reports/bulletins", "/api/v1/reports/bulletins/1", "/api/v1/reports/bulletins/{bulletin_id}"):
        assert client.get(path).status_code == 401, path
    guard = sign_in(client, person_at(city.site, "guard", OWN))
    assert client.get("/api/v1/reports/bulletins", headers=guard).status_code == 403
    assert client.get("/api/v1/reports/bulletins/1", headers=guard).status_code == 403


def test_english_is_made_too_where_a_reader_of_the_unit_reads_english(city: City) -> None:
    officer = person_at(city.site, "district_officer", "junchuan")
    with psycopg.connect(city.url, autocommit=True) as conn:
        units = {u.id: u for u in due_units(conn)}
        assert languages(conn, units["junchuan"]) == ("zh-CN",)
        conn.execute("UPDATE users SET chosen_locale = 'en' WHERE id = %s", (officer,))
        try:
            # The county's officer reads English; the city's bulletin is not theirs to read.
            assert languages(conn, units["junchuan"]) == ("zh-CN", "en")
            assert languages(conn, units["hechuan"]) == ("zh-CN",)
        finally:
            conn.execute("UPDATE users SET chosen_locale = NULL WHERE id = %s", (officer,))
