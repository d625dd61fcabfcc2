"""The alarm-management page and the incident badges in a real browser against the real app.

A district officer's district holds a flood at one school (more than 10 alarms in 10 minutes, one of them
critical, one cleared and unacknowledged, one chattering), a stale alarm, a shelved source, a school in drill
mode with a drill alarm, and a thing a camera learned as scene. Every name and reason the server sends carries
markup that would run if a page parsed it as HTML.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from playwright.sync_api import Page, expect
from psycopg.types.json import Jsonb

from store import alarm_repo, vision_repo
from tests.ui.conftest import Site, person, sign_in

pytestmark = pytest.mark.slow

FLOODED = "antelope-park-es"
DRILLING = "salt-creek-ms"
QUIET = "holdrege-es"  # no alarms; its camera learned a cone
CAMERA = "holdrege-cam-gate"
XSS = "<img src=x onerror=\"window.__xss = 1\">"


def incident(conn: psycopg.Connection, school: str, raised: datetime, *, title: str = "door contact offline",
             severity: str = "medium", type_: str = "device_offline", source: str = "contact-1",
             cleared: datetime | None = None, drill: bool = False, toggles: int = 0,
             recent_toggles: tuple[datetime, ...] = ()) -> int:
    evidence = Jsonb([{"kind": "offline", "source_id": source, "signal_id": "s", "summary": "x",
                       "time": raised.isoformat()}])
    row = conn.execute(
        "INSERT INTO incidents (school_id, type, severity, status, title, lon, lat, opened_at, updated_at, raised_at,"
        " last_signal_at, evidence, cleared_at, drill, toggles, recent_toggles)"
        " VALUES (%s, %s, %s, 'raised', %s, -96.69, 40.80, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
        (school, type_, severity, title, raised, raised, raised, raised, evidence, cleared, drill, toggles,
         list(recent_toggles))).fetchone()
    assert row is not None
    conn.execute("INSERT INTO incident_events (incident_id, seq, time, school_id, kind) VALUES (%s, 1, %s, %s,"
                 " 'raised')", (row[0], raised, school))
    return int(row[0])


def seed(site: Site) -> dict[str, int]:
    """The district's alarms, shelf, drill mode and learned scene; returns the ids the test looks for."""
    now = datetime.now(UTC)
    second, minute = timedelta(seconds=1), timedelta(minutes=1)
    guard = person(site, "guard", FLOODED)
    with psycopg.connect(site.db) as conn:
        flood = [incident(conn, FLOODED, now - (n + 1) * 20 * second, title=f"{XSS} contact {n}",
                          source=f"contact-{n}") for n in range(11)]
        ids = {"flood": flood[0]}
        ids["critical"] = incident(conn, FLOODED, now - 30 * second, severity="critical", type_="smoke",
                                   title="smoke in the kitchen")
        ids["cleared"] = incident(conn, FLOODED, now - 2 * minute, title="gate sensor offline", type_="bus_late",
                                  cleared=now - minute)
        ids["chattering"] = incident(conn, FLOODED, now - 3 * minute, title="flaky contact", type_="geo.overspeed",
                                     toggles=4, recent_toggles=(now - 50 * second, now - 30 * second,
                                                                now - 10 * second))
        ids["stale"] = incident(conn, FLOODED, now - timedelta(hours=30), title="tracker silent", type_="tracker")
        ids["drill"] = incident(conn, DRILLING, now - 5 * minute, title="drill press", severity="critical",
                                type_="panic", drill=True)
        # One of the flood acknowledged by a guard after 2 minutes: the health report's time to acknowledge.
        conn.execute("INSERT INTO incident_events (incident_id, seq, time, school_id, kind, actor)"
                     " VALUES (%s, 2, %s, %s, 'acknowledge', %s)", (ids["stale"], now - timedelta(hours=30)
                                                                   + 2 * minute, FLOODED, guard))
        ids["shelf"] = alarm_repo.add_shelf(conn, FLOODED, "antelope-park-gate-contact", None, f"{XSS} loose",
                                            "hannah-larsen", now, now + timedelta(hours=2)).id
        alarm_repo.start_drill_mode(conn, DRILLING, f"{XSS} fire drill", "hannah-larsen", now, now + timedelta(hours=1))
        ids["scene"] = vision_repo.store_scene_object(conn, CAMERA, f"{XSS} cone", (0.1, 0.6, 0.2, 0.8),
                                                      now - timedelta(days=1))
    return ids


def no_markup_ran(page: Page) -> None:
    assert page.evaluate("window.__xss") is None
    assert page.locator("img").count() == 0


def test_the_officer_manages_alarms_on_the_alarm_page(site: Site, page: Page) -> None:
    ids = seed(site)
    officer = person(site, "district_officer")
    sign_in(page, site.base, officer)

    # The map's incident list carries the badges.
    item = page.locator(f".incident-item[data-incident-id='{ids['cleared']}']")
    expect(item.locator("[data-badge=cleared]")).to_have_text(
        re.compile(r"^cleared at \d\d:\d\d, not yet acknowledged$"))
    expect(page.locator(f".incident-item[data-incident-id='{ids['chattering']}'] [data-badge=chattering]"))\
        .to_have_text("chattering \u00d74")
    expect(page.locator(f".incident-item[data-incident-id='{ids['stale']}'] [data-badge=stale]")).to_have_text("stale")
    expect(page.locator(f".incident-item[data-incident-id='{ids['drill']}'] [data-badge=drill]")).to_have_text("drill")
    expect(page.locator(f".incident-item[data-incident-id='{ids['flood']}'] [data-badge]")).to_have_count(0)
    # Drills sort last in the list.
    expect(page.locator(".incident-item").last).to_have_attribute("data-incident-id", str(ids["drill"]))

    page.locator("nav a[href='/alarms']").click()
    page.wait_for_url(f"{site.base}/alarms")
    page.wait_for_selector("body[data-ready=true]")

    # The board: one flood banner, groups critical first and drills last, the stale alarm.
    banner = page.locator("[data-testid=flood-banner]")
    expect(banner).to_be_visible()
    expect(banner.locator(f"li[data-school-id='{FLOODED}']")).to_contain_text("Antelope Park Elementary")
    groups = page.locator("#groups tbody tr")
    expect(groups.first.locator(".badge")).to_have_class(re.compile(r"sev-critical"))
    expect(groups.last).to_have_attribute("data-drill", "true")
    expect(groups.last).to_have_attribute("data-school-id", DRILLING)
    expect(page.locator(f"#groups tr[data-school-id='{FLOODED}'][data-type='device_offline'] td.count"))\
        .to_have_text("11")
    expect(page.locator(f"#stale li[data-incident-id='{ids['stale']}'] [data-badge=stale]")).to_be_visible()
    expect(page.locator("#stale li")).to_have_count(1)
    expect(page.locator(f"#board-incidents li[data-incident-id='{ids['flood']}'] .title"))\
        .to_have_text(f"{XSS} contact 0")

    # The health report: the flooded school's row, its load as a badge, time to acknowledge in words.
    school_row = page.locator(f"#health-body tr[data-school-id='{FLOODED}']")
    expect(school_row.locator("[data-load]")).to_have_attribute("data-load", "manageable")
    expect(school_row.locator("[data-testid=ack-p50]")).to_have_text("2 min")
    expect(page.locator(f"#health-body tr[data-actor='{person(site, 'guard', FLOODED)}']")).to_be_visible()
    expect(page.locator(f"#health-body tr[data-school-id='{DRILLING}']")).to_have_count(0)  # drills left out
    page.screenshot(path="/tmp/campusguard-alarms.png", full_page=True)

    # Shelves: the seeded one with who, why and until; shelve another and unshelve the first through the page.
    seeded = page.locator(f"#shelf-list tr[data-shelf-id='{ids['shelf']}']")
    expect(seeded.locator(".reason")).to_have_text(f"{XSS} loose")
    expect(seeded.locator(".by")).to_have_text("hannah-larsen")
    form = page.locator("#shelve-form")
    expect(form).to_be_visible()
    form.locator("select[name=school_id]").select_option(FLOODED)
    form.locator("input[name=source_id]").fill("antelope-park-cam-gate")
    form.locator("select[name=minutes]").select_option("120")
    form.locator("input[name=reason]").fill("lens being cleaned")
    form.locator("button[type=submit]").click()
    expect(page.locator("#shelf-list tr[data-source-id='antelope-park-cam-gate']")).to_be_visible()
    seeded.locator("button.unshelve").click()
    expect(seeded).to_have_count(0)
    shelves = {s["source_id"]: s for s in page.request.get(f"{site.base}/api/v1/alarms/shelves").json()}
    new = shelves["antelope-park-cam-gate"]
    assert new["active"] and new["shelved_by"] == officer and new["reason"] == "lens being cleaned"
    assert datetime.fromisoformat(new["until"]) - datetime.fromisoformat(new["shelved_at"]) == timedelta(hours=2)
    old = shelves["antelope-park-gate-contact"]
    assert not old["active"] and old["ended_by"] == officer

    # Drill mode: the seeded school ends it; another starts it.
    drilling = page.locator(f"#drill-list tr[data-school-id='{DRILLING}']")
    expect(drilling).to_have_attribute("data-drill", "on")
    expect(drilling.locator(".reason")).to_have_text(f"{XSS} fire drill")
    drilling.locator("button.end-drill").click()
    expect(drilling).to_have_attribute("data-drill", "off")
    flooded = page.locator(f"#drill-list tr[data-school-id='{FLOODED}']")
    flooded.locator("input[name=reason]").fill("evacuation drill")
    flooded.locator("button[type=submit]").click()
    expect(flooded).to_have_attribute("data-drill", "on")
    modes = page.request.get(f"{site.base}/api/v1/alarms/drill-mode").json()
    assert [(m["school_id"], m["started_by"]) for m in modes] == [(FLOODED, officer)]

    # The camera's learned scene is listed; an officer may not un-learn it (school and district admins do).
    camera = page.locator(f"#scene-body [data-camera-id='{CAMERA}']")
    expect(camera.locator(f"li[data-object-id='{ids['scene']}'] .label")).to_have_text(f"{XSS} cone")
    expect(camera.locator("button.forget")).to_have_count(0)
    no_markup_ran(page)


def test_a_school_admin_forgets_a_learned_object_and_sees_an_empty_health_report(site: Site, page: Page) -> None:
    ids = seed(site)
    admin = person(site, "school_admin", QUIET)
    sign_in(page, site.base, admin)
    page.goto(f"{site.base}/alarms")
    page.wait_for_selector("body[data-ready=true]")
    expect(page.locator("[data-testid=health-empty]")).to_have_text("No alarms in this period.")
    expect(page.locator("#health-body table")).to_have_count(0)
    camera = page.locator(f"#scene-body [data-camera-id='{CAMERA}']")
    camera.locator(f"li[data-object-id='{ids['scene']}'] button.forget").click()
    expect(camera.locator("li")).to_have_count(0)
    expect(camera).to_contain_text("Nothing learned")
    scene = page.request.get(f"{site.base}/api/v1/cameras/{CAMERA}/scene?forgotten=true").json()
    assert [(o["id"], o["forgotten_by"]) for o in scene] == [(ids["scene"], admin)]
    no_markup_ran(page)


def test_a_guard_sees_the_board_but_no_forms(site: Site, page: Page) -> None:
    ids = seed(site)
    sign_in(page, site.base, person(site, "guard", FLOODED))
    page.goto(f"{site.base}/alarms")
    page.wait_for_selector("body[data-ready=true]")
    expect(page.locator("[data-testid=flood-banner]")).to_be_visible()
    expect(page.locator(f"#shelf-list tr[data-shelf-id='{ids['shelf']}']")).to_be_visible()
    expect(page.locator("#shelve-form")).to_have_count(0)
    expect(page.locator("button.unshelve, button.end-drill, form.start-drill, button.forget")).to_have_count(0)
    expect(page.locator("#health")).to_be_hidden()
    no_markup_ran(page)


def test_the_alarm_page_speaks_chinese(site: Site, page: Page) -> None:
    seed(site)
    sign_in(page, site.base, person(site, "district_officer"))
    page.goto(f"{site.base}/alarms?lang=zh-CN")
    page.wait_for_selector("body[data-ready=true]")
    expect(page.locator("h1")).to_have_text("报警管理")
    expect(page.locator("[data-testid=flood-banner]")).to_contain_text("报警泛滥")
    expect(page.locator("#shelve-form legend")).to_have_text("搁置一个来源")
    expect(page.locator("#stale [data-badge=stale]")).to_have_text("滞留")
