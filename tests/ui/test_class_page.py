"""A head teacher of the example city signs in and lands on their class: its bus, where it last was, in Chinese.

The app serves the example city (zh-CN people, Asia/Shanghai schools); the head teacher of one class of a rural
boarding school signs in through the login page as a person would, is taken to ``/class``, and reads their class,
the bus their pupils ride and its last position in Beijing time, and nothing of the school's other class or of any
other school. A county officer reads every class of their county's schools on the same page, names as text,
and the header calls them by their level's title (县(区)教育局). Once the bus is back at its depot, the head
teacher reads the class's riders on it and confirms that all of them got off (下车清点), once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest
from playwright.sync_api import Page

from domain.site import load_site
from tests.command_ui.test_class_child_check import trip_ended
from tests.ui.conftest import CITY, Site, sign_in

pytestmark = pytest.mark.slow


SCHOOL = "wangzhuang-zxxx"
BEIJING = ZoneInfo("Asia/Shanghai")


def test_a_head_teacher_reads_their_class_bus_in_beijing_time(city: Site, page: Page) -> None:
    site = load_site(CITY)
    school = next(e.school for e in site.iter_schools() if e.school.id == SCHOOL)
    mine, other = school.classes[0], school.classes[1]
    bus = next(b for b in school.buses if b.id == mine.buses[0])
    fixed = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=7)
    with psycopg.connect(city.db) as conn:
        conn.execute("INSERT INTO latest_positions (device_id, time, lon, lat, source)"
                     " VALUES (%s, %s, %s, %s, 'jt808')", (bus.trackers[0].id, fixed, *bus.route.stops[0].location))
    sign_in(page, city.base, mine.head_teacher.id)
    assert page.url.endswith("/class")
    page.wait_for_selector(f"[data-bus='{bus.id}']")
    assert page.title() == "我的班级校车"
    card = page.locator(".class-card")
    assert card.count() == 1
    text = card.inner_text()
    assert f"{school.name} {mine.name}" in text
    assert f"班主任：{mine.head_teacher.name}" in text  # noqa: RUF001 - Chinese punctuation
    assert f"{bus.name}（{bus.plate}）" in text  # noqa: RUF001 - Chinese punctuation
    # Beijing time, named as Chinese readers know it (never a bare "GMT+8").
    assert "最后定位" in text and fixed.astimezone(BEIJING).strftime("%H:%M") in text and "中国标准时间" in text
    body = page.locator("body").inner_text()
    assert other.name not in body and other.head_teacher.name not in body
    assert page.locator("nav a[href='/class']").inner_text() == "我的班级"


def test_a_county_officer_reads_every_class_of_the_county(city: Site, page: Page) -> None:
    site = load_site(CITY)
    county = next(u for u in site.organisation.units if u.id == "junchuan")
    officer = county.people[0]
    expected = {c.id for t in county.units for s in t.schools for c in s.classes}
    # A name is text, whatever it holds: markup in one must be shown, never parsed.
    poisoned = '<img src=x onerror="window.__xss=1">'
    with psycopg.connect(city.db) as conn:
        conn.execute("UPDATE org_units SET name = %s WHERE id = %s", (poisoned, f"{SCHOOL}-c2"))
    sign_in(page, city.base, officer.id)
    page.goto(f"{city.base}/class")
    page.wait_for_selector("body[data-ready=true]")
    shown = set(page.locator(".class-card").evaluate_all("cards => cards.map((c) => c.dataset.class)"))
    assert shown == expected
    assert poisoned in page.locator(f"[data-class='{SCHOOL}-c2'] h2").inner_text()
    assert page.evaluate("() => [window.__xss ?? null, document.querySelectorAll('img[src=\"x\"]').length]") == [
        None, 0]
    # Called by the level they sit at, in the reader's language: a county officer, not a bare role name.
    assert page.locator("[data-testid=who-title]").inner_text() == "县（区）教育局"  # noqa: RUF001 - Chinese punctuation


def test_a_head_teacher_counts_the_class_off_the_bus_once(city: Site, page: Page) -> None:
    site = load_site(CITY)
    school = next(e.school for e in site.iter_schools() if e.school.id == SCHOOL)
    mine = school.classes[0]
    bus = next(b for b in school.buses if b.id == mine.buses[0])
    poisoned = '<img src=x onerror="window.__xss=1">'
    with psycopg.connect(city.db) as conn:
        conn.execute("DELETE FROM class_riders WHERE class_id = %s", (mine.id,))  # the test's own riders only
        for pupil in ("王小明", "李小红", poisoned):
            conn.execute("INSERT INTO class_riders (class_id, bus_id, pupil, stop_id) VALUES (%s, %s, %s, %s)",
                         (mine.id, bus.id, pupil, bus.route.stops[0].id))
    trip_ended(city.db, bus.id, datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=2))
    sign_in(page, city.base, mine.head_teacher.id)
    assert page.locator("[data-testid=who-title]").inner_text() == "班主任"
    card = page.locator(f"[data-bus='{bus.id}']")
    card.locator(".confirm-check").wait_for()
    names = card.locator(".rider .pupil").all_inner_texts()
    assert sorted(names) == sorted(["王小明", "李小红", poisoned])  # each child once, the markup shown as text
    assert poisoned in card.inner_text() and page.evaluate("() => window.__xss ?? null") is None
    assert "回到停车场" in card.inner_text()
    button = card.locator(".confirm-check")
    assert button.inner_text() == "本班 3 名学生已全部下车"
    button.click()
    confirmed = card.locator(".confirmed")
    confirmed.wait_for()
    assert confirmed.inner_text().startswith(f"{mine.head_teacher.name} 于")
    assert confirmed.inner_text().endswith("确认本班 3 名学生已全部下车")
    assert card.locator(".confirm-check").count() == 0  # given once: nothing left to press
    # Another class rides this bus too: its teacher's confirmation is owed before the bus's check is done.
    others = sum(1 for c in school.classes if bus.id in c.buses) - 1
    if others:
        assert card.locator(".check-waiting").inner_text() == f"还需另外 {others} 个班确认后，本车清点才算完成"  # noqa: RUF001
    with psycopg.connect(city.db) as conn:
        assert conn.execute("SELECT class_id, person_id, pupils FROM child_check_confirmations").fetchall() == [
            (mine.id, mine.head_teacher.id, 3)]
