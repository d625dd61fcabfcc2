"""Opening the officer's incident panel is a receipt: "who has seen it" in the case file, once per person, audited.

Before, only the guard's page recorded it; an officer could read an alarm in full on the map and the case file
still said nobody had seen it. A closed incident read from the history leaves no mark.
"""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest
from playwright.sync_api import Page, expect

from tests.command_ui.district import add_incident
from tests.ui.conftest import Site, person, sign_in

pytestmark = pytest.mark.slow

PANIC = "antelope-park-office-panic-1"


def test_the_officers_panel_marks_the_incident_seen_once_and_audited(site: Site, page: Page) -> None:
    site.raise_panic(PANIC)
    incident = site.one("SELECT id FROM incidents WHERE type = 'panic'")
    officer = person(site, "district_officer")
    name = str(site.one("SELECT display_name FROM users WHERE id = %s", officer))
    sign_in(page, site.base, officer)
    page.locator(f".incident-item[data-incident-id='{incident}']").click()
    case = page.locator("[data-testid=case-file][data-ready=true]")
    expect(case.locator("[data-testid=case-seen]")).to_contain_text(name)
    expect(page.locator("#panel-body li[data-kind=seen]")).to_have_count(1)  # the timeline says so too

    # Opened again, here and after a reload: still one receipt, one audit record.
    page.locator("#panel-close").click()
    page.locator(f".incident-item[data-incident-id='{incident}']").click()
    expect(page.locator("#panel-body [data-testid=case-file][data-ready=true]")).to_be_visible()
    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    page.locator(f".incident-item[data-incident-id='{incident}']").click()
    expect(page.locator("#panel-body li[data-kind=seen]")).to_have_count(1)
    assert site.one("SELECT seen_by FROM incidents WHERE id = %s", incident) == [officer]
    assert site.one("SELECT count(*) FROM audit_log WHERE action = 'incident.seen' AND actor = %s"
                    " AND target = %s", officer, f"incident:{incident}") == 1
    assert site.one("SELECT count(*) FROM incident_events WHERE incident_id = %s AND kind = 'seen'", incident) == 1


def test_a_closed_incident_read_from_the_history_leaves_no_mark(site: Site, page: Page) -> None:
    with psycopg.connect(site.db) as conn:
        closed = add_incident(conn, "antelope-park-es", dt.datetime.now(dt.UTC) - dt.timedelta(hours=1), ack_s=30,
                              resolve_s=60)
    sign_in(page, site.base, person(site, "district_officer"))
    page.goto(f"{site.base}/history?incident={closed}")
    page.wait_for_selector("body[data-ready=true]")
    expect(page.locator(".incident-title")).to_be_visible()
    assert site.one("SELECT count(*) FROM incident_events WHERE incident_id = %s AND kind = 'seen'", closed) == 0
    assert site.one("SELECT count(*) FROM audit_log WHERE action = 'incident.seen'") == 0



def test_an_auditor_opening_an_open_incident_leaves_no_receipt(site: Site, page: Page) -> None:
    """Only those who may act on an incident mark it seen: an auditor reads it and leaves no mark, nor may they."""
    site.raise_panic(PANIC)
    incident = site.one("SELECT id FROM incidents WHERE type = 'panic'")
    sign_in(page, site.base, person(site, "auditor"))
    page.goto(f"{site.base}/history?incident={incident}")
    page.wait_for_selector("body[data-ready=true]")
    expect(page.locator(".incident-title")).to_be_visible()
    expect(page.locator("[data-testid=case-file][data-ready=true]")).to_be_visible()
    assert site.one("SELECT count(*) FROM incident_events WHERE incident_id = %s AND kind = 'seen'", incident) == 0
    assert site.one("SELECT count(*) FROM audit_log WHERE action = 'incident.seen'") == 0
    # Nor can the API be asked directly: the route is for the incident's actors.
    answer = page.request.post(f"{site.base}/api/v1/incidents/{incident}/seen", headers={"Origin": site.base})
    assert answer.status == 403
    assert site.one("SELECT count(*) FROM incident_events WHERE incident_id = %s AND kind = 'seen'", incident) == 0
