"""Names and notes are shown as text, never run as markup, and the Content Security Policy stands behind that.

Every name a page shows (schools, buses, stops, devices and their places, people, geofences, incident titles,
timeline notes and actors, evidence) is seeded with markup that sets ``window.__xss``; each role opens each of
its pages, opens every map tooltip, the bus panel and the incident panel, and ``window.__xss`` must stay unset
while the markup is visible as text. The browser must also refuse inline script, handler attributes and style
attributes (the policy, not only our care), and a page on another port of the same host, which the browser
sends the officer's cookie from, must neither sign them out nor open their live feed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http.server
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest
from playwright.sync_api import Browser, Page, Response, expect

from devtools.devservices import free_port
from tests.ui.conftest import PASSWORD, Site, person, sign_in

pytestmark = pytest.mark.slow

IMG = '<img src=x onerror="window.__xss=1">'
SCRIPT = "<script>window.__xss=1</script>"
OWN = "antelope-park-es"
FENCE = f"Fence {IMG}"
PLACE = f"{SCRIPT} {IMG}"
TITLE = f"Panic: {PLACE}"  # said by its key (incident.title.panic) with the poisoned place, and stored so too

# Where each role goes (the pages its navigation offers); {incident} is the poisoned incident.
PAGES = {
    "district_officer": ["/", "/guard", "/history", "/history?incident={incident}"],
    "school_admin": ["/", "/guard", "/history", "/history?incident={incident}"],
    "guard": ["/guard", "/"],
    "auditor": ["/", "/history", "/history?incident={incident}"],
}

# Show every tooltip: a mouseover on each interactive map element, as a pointer passing over each would send.
HOVER_ALL = """() => {
  const targets = document.querySelectorAll("#map .leaflet-interactive, #mini-map .leaflet-interactive");
  for (const el of targets) el.dispatchEvent(new MouseEvent("mouseover", { bubbles: true }));
  return targets.length;
}"""

# What would prove markup ran or was parsed: the flag, or an element the payload would have made.
PARSED = """() => ({
  xss: window.__xss ?? null,
  imgs: document.querySelectorAll('img[src="x"]').length,
  inline: document.querySelectorAll("script:not([src])").length,
  handlers: [...document.querySelectorAll("*")].filter((el) =>
    [...el.attributes].some((a) => a.name.startsWith("on"))).length,
})"""


@dataclass(frozen=True, slots=True)
class Poisoned:
    """The site with markup in every name, and the incident whose title, notes and evidence carry it too."""

    site: Site
    incident: int


@pytest.fixture
def poisoned(site: Site, browser: Browser) -> Poisoned:
    now = dt.datetime.now(dt.UTC)
    site.raise_panic("antelope-park-office-panic-1")
    incident = site.one("SELECT id FROM incidents WHERE school_id = %s", OWN)
    assert isinstance(incident, int)
    with psycopg.connect(site.db) as conn:
        conn.execute("UPDATE schools SET name = name || ' ' || %s", (IMG,))
        conn.execute("UPDATE buses SET name = name || ' ' || %s", (SCRIPT,))
        conn.execute("UPDATE bus_stops SET name = name || ' ' || %s", (IMG,))
        conn.execute("UPDATE devices SET name = name || ' ' || %s, place = place || ' ' || %s", (IMG, SCRIPT))
        conn.execute("UPDATE users SET display_name = display_name || ' ' || %s", (IMG,))
        conn.execute("UPDATE geofences SET name = name || ' ' || %s", (SCRIPT,))
        conn.execute("UPDATE incidents SET title = %s, title_params = jsonb_build_object('place', %s::text),"
                     " evidence = (SELECT coalesce(jsonb_agg(e || jsonb_build_object("
                     "'summary', %s::text, 'kind', %s::text)), '[]') FROM jsonb_array_elements(evidence) e)"
                     " WHERE id = %s", (TITLE, PLACE, f"Evidence {IMG}", f"kind {SCRIPT}", incident))
        conn.execute("UPDATE incident_events SET note = %s, actor = %s WHERE incident_id = %s",
                     (f"Note {IMG}", f"Actor {SCRIPT}", incident))
        # A bus and a guard's phone on the map now: their markers carry names too.
        for device, lon, lat in (("bus-01-gps", -96.692, 40.8012), ("leah-wang-phone", -96.6900, 40.8010)):
            conn.execute("INSERT INTO latest_positions (device_id, time, lon, lat, source) VALUES (%s, %s, %s, %s,"
                         " 'test') ON CONFLICT (device_id) DO UPDATE SET time = excluded.time, lon = excluded.lon,"
                         " lat = excluded.lat", (device, now, lon, lat))
    # The geofence a school administrator draws, through the page's own same-origin fetch (which must pass
    # the Origin check): the finding's path, a school's name shown to the district.
    context = browser.new_context()
    try:
        admin = context.new_page()
        sign_in(admin, site.base, person(site, "school_admin", OWN))
        fence = {"name": FENCE, "school_id": OWN, "geometry": {"type": "Polygon", "coordinates": [
            [[-96.6905, 40.8004], [-96.6895, 40.8004], [-96.6895, 40.8010], [-96.6905, 40.8004]]]}}
        status = admin.evaluate("""async (fence) => (await fetch("/api/v1/geofences/xss-fence", {
            method: "PUT", headers: { "Content-Type": "application/json" }, body: JSON.stringify(fence),
        })).status""", fence)
        assert status == 201
    finally:
        context.close()
    return Poisoned(site, incident)


def check_page(page: Page, response: Response | None, shows_names: bool = True) -> None:
    """The policy arrived, nothing the payloads carry was parsed or ran, and the payloads read as text."""
    assert response is not None
    policy = response.headers.get("content-security-policy", "")
    assert "script-src 'self';" in policy and "style-src 'self';" in policy, policy
    found = page.evaluate(PARSED)
    assert found == {"xss": None, "imgs": 0, "inline": 0, "handlers": 0}, (page.url, found)
    if shows_names:
        text = page.evaluate("document.body.innerText")
        assert IMG in text and SCRIPT in text, (page.url, text[:2000])


def open_map(page: Page, incident: int) -> None:
    """Open every tooltip, the bus panel and the incident panel of the officer's map."""
    assert page.evaluate(HOVER_ALL) > 0
    tooltips = page.locator(".leaflet-tooltip")
    expect(tooltips.filter(has_text=FENCE)).to_have_count(1)  # the drawn geofence
    expect(tooltips.filter(has_text=f"Elementary {IMG}").first).to_be_visible()  # a school's label
    expect(tooltips.filter(has_text=SCRIPT).first).to_be_attached()  # a bus, a route, a device's place
    expect(tooltips.filter(has_text="Stop ").first).to_contain_text(IMG)
    page.locator(".bus[title='bus-01']").dispatch_event("click")  # wherever the map put it, under whatever
    expect(page.locator("#bus-panel .bus-title")).to_contain_text(SCRIPT)
    page.locator(f".incident-item[data-incident-id='{incident}']").click()
    expect(page.locator("#panel-body .incident-title")).to_have_text(TITLE)
    expect(page.locator("#panel-body")).to_contain_text(f"Note {IMG}")
    expect(page.locator("#panel-body")).to_contain_text(f"Evidence {IMG}")
    expect(page.locator("#panel-body [data-testid=responders] li[data-user-id]").first).to_contain_text(IMG)


@pytest.mark.parametrize("role", list(PAGES))
def test_no_name_runs_as_markup_on_any_page(poisoned: Poisoned, page: Page, role: str) -> None:
    site = poisoned.site
    user = person(site, role, OWN if role in ("guard", "school_admin") else None)
    check_page(page, page.goto(f"{site.base}/login"), shows_names=False)
    sign_in(page, site.base, user)
    for path in PAGES[role]:
        response = page.goto(site.base + path.format(incident=poisoned.incident))
        page.wait_for_selector("body[data-ready=true]")
        if path == "/":
            if role == "guard":
                assert page.evaluate(HOVER_ALL) > 0
                expect(page.locator(".leaflet-tooltip").filter(has_text=FENCE)).to_have_count(1)
            else:
                open_map(page, poisoned.incident)
        elif path == "/guard":
            expect(page.locator(f"article.card[data-incident-id='{poisoned.incident}'] h2")).to_have_text(TITLE)
            page.evaluate(HOVER_ALL)
        elif path.startswith("/history?"):
            expect(page.locator("#detail .incident-title")).to_have_text(TITLE)
            expect(page.locator("#detail")).to_contain_text(f"Actor {SCRIPT}")
        else:
            expect(page.locator(f"#incidents tr[data-incident-id='{poisoned.incident}']")).to_contain_text(TITLE)
        check_page(page, response)
    alarms = page.goto(f"{site.base}/alarms")
    if alarms is not None and alarms.status == 200:  # the alarm page, where this version has one
        page.wait_for_selector("body[data-ready=true]")
        check_page(page, alarms, shows_names=False)


def test_the_browser_refuses_inline_script_handlers_and_style_attributes(site: Site, browser: Browser) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        response = page.goto(f"{site.base}/login")
        assert response is not None and "content-security-policy" in response.headers
        # Injected from outside the page (page.evaluate is not subject to the policy), as a slipped payload would be.
        result = page.evaluate("""() => new Promise((resolve) => {
          const refused = [];
          document.addEventListener("securitypolicyviolation", (e) => refused.push(e.effectiveDirective));
          const script = document.createElement("script");
          script.textContent = "window.__xss = 1";
          document.head.append(script);
          const img = document.createElement("img");
          img.setAttribute("onerror", "window.__xss = 2");
          img.src = "/no-such-image";
          document.body.append(img);
          const box = document.createElement("div");
          box.setAttribute("style", "color: rgb(255, 0, 0)");
          document.body.append(box);
          setTimeout(() => resolve({ xss: window.__xss ?? null, refused, color: getComputedStyle(box).color }), 500);
        })""")
        assert result["xss"] is None
        assert {"script-src-elem", "script-src-attr", "style-src-attr"} <= set(result["refused"]), result
        assert result["color"] != "rgb(255, 0, 0)"
    finally:
        context.close()


def test_a_page_on_another_port_cannot_use_the_officers_session(site: Site, browser: Browser) -> None:
    """The finding: a page on another port of the same host signed the officer out and read their live feed."""
    context = browser.new_context()
    try:
        page = context.new_page()
        sign_in(page, site.base, person(site, "district_officer"))
        expect(page.locator("#live-status")).to_have_attribute("data-state", "live")  # 'self' covers the socket
        with another_port() as other:
            page.goto(f"{other}/attack.html")
            result = attack(page, site.base)
        assert result == {"socket": "refused"}
        me = page.request.get(f"{site.base}/api/v1/auth/me")
        assert me.status == 200, "the session must survive the foreign POST"
        assert json.loads(me.text())["role"] == "district_officer"
    finally:
        context.close()


@contextlib.contextmanager
def another_port() -> Iterator[str]:
    """Serve a plain page from another port of the same host, as another app there would.

    A real server, not a routed page: Chromium lets only a page itself on the loopback address reach one there.
    """

    class Plain(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"<!doctype html><title>another app on this host</title>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Plain)
    thread = threading.Thread(target=server.serve_forever, name="another-port")
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def attack(page: Page, base: str) -> dict[str, str]:
    """From the page open now: sign the officer out, then open their live feed."""
    ws_base = base.replace("http://", "ws://")
    result = page.evaluate("""async ([base, wsBase]) => {
      // A bodyless POST needs no preflight; no-cors sends it with the cookie, blind (the browser may then
      // withhold the opaque JSON answer with a network error: the request has reached the server anyway).
      await fetch(`${base}/api/v1/auth/logout`, { method: "POST", mode: "no-cors", credentials: "include" })
        .catch(() => null);
      const socket = await new Promise((resolve) => {
        const ws = new WebSocket(`${wsBase}/api/v1/live`);
        ws.onopen = () => resolve("opened");
        ws.onerror = () => resolve("refused");
      });
      return { socket };
    }""", [base, ws_base])
    assert isinstance(result, dict)
    return result


def test_the_sign_in_page_sends_nobody_elsewhere(site: Site, browser: Browser) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(site.base + "/login?next=" + "/%5Cevil.example/")  # /\evil.example/: another site
        page.fill("input[name=username]", person(site, "district_officer"))
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(lambda url: "/login" not in url)
        assert page.url == f"{site.base}/"
    finally:
        context.close()
