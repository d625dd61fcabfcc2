"""Push delivery health on the operations page (issue 17), in Chromium.

A guard's phone whose push service refuses our pushes stays silent when it is locked at the next alarm: the
operations page lists the subscriptions of the people in the reader's scope, failing ones first with the error
and since when, named by the push service's host only (the endpoint is a capability URL). Another school's
administrator sees none of them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from playwright.sync_api import Page, expect

from store import push_repo
from tests.ui.conftest import Site, person, sign_in

pytestmark = pytest.mark.slow

SCHOOL = "antelope-park-es"
KEY = "B" + "x" * 86  # the columns take the browser's text as is; the page never shows keys


def _subscribe(site: Site, user: str, endpoint: str, error: str | None) -> None:
    now = datetime.now(UTC)
    with psycopg.connect(site.db) as conn:
        row = conn.execute("INSERT INTO push_subscriptions (user_id, endpoint, p256dh, auth) VALUES"
                           " (%s, %s, %s, 'a-sixteen-byte-secret') RETURNING id", (user, endpoint, KEY)).fetchone()
        assert row is not None
        if error is None:
            conn.execute("UPDATE push_subscriptions SET last_push_at = %s WHERE id = %s", (now, row[0]))
        else:
            # The notifier's own bookkeeping (store/push_repo.py failed): the error and, since 0040, its time.
            push_repo.failed(conn, row[0], error)


def test_an_administrator_sees_which_phones_fail_to_ring(site: Site, page: Page) -> None:
    guard = person(site, "guard", SCHOOL)
    _subscribe(site, guard, "https://push.example.net/wpush/v2/secret-token-ok", None)
    _subscribe(site, guard, "https://fcm.example.com/fcm/send/secret-token-bad",
               "413 Payload Too Large from fcm.example.com")
    assert site.one("SELECT last_error_at FROM push_subscriptions WHERE last_error IS NOT NULL") is not None

    page.set_viewport_size({"width": 1366, "height": 900})
    sign_in(page, site.base, person(site, "school_admin", SCHOOL))
    page.goto(f"{site.base}/ops")
    page.wait_for_selector("body[data-ready=true]")
    section = page.locator("#push")
    expect(section.locator("[data-testid=push-summary]")).to_have_text("2 subscribed phones or browsers, 1 failing.")
    rows = section.locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_have_attribute("data-state", "failing")  # the failing one first
    expect(rows.nth(0)).to_contain_text("413 Payload Too Large")
    expect(rows.nth(0)).to_contain_text("fcm.example.com")
    expect(rows.nth(1)).to_have_attribute("data-state", "ok")
    expect(section).not_to_contain_text("secret-token")  # the endpoint's capability part is never shown

    # Another school's administrator: that guard's phones are not theirs to see.
    other = site.one("SELECT id FROM users WHERE role = 'school_admin' AND scope_id <> %s ORDER BY id LIMIT 1",
                     SCHOOL)
    assert isinstance(other, str)
    page.context.clear_cookies()
    sign_in(page, site.base, other)
    page.goto(f"{site.base}/ops")
    page.wait_for_selector("body[data-ready=true]")
    expect(page.locator("#push .empty")).to_be_visible()
    expect(page.locator("#push tbody tr")).to_have_count(0)


def test_a_delivery_clears_the_error_and_its_time(site: Site) -> None:
    guard = person(site, "guard", SCHOOL)
    _subscribe(site, guard, "https://push.example.net/wpush/v2/one", "timeout")
    with psycopg.connect(site.db) as conn:
        [health] = push_repo.health(conn, str(site.one("SELECT path FROM org_units WHERE id = %s", SCHOOL)))
        push_repo.delivered(conn, health.id, datetime.now(UTC) + timedelta(seconds=1))
        [after] = [h for h in push_repo.health(conn, "/") if h.id == health.id]
    assert health.last_error == "timeout" and health.last_error_at is not None
    assert after.last_error is None and after.last_error_at is None and after.last_push_at is not None
