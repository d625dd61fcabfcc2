"""Every page, as the role it is for, at a phone's, a desk's and a video wall's size: usable and accessible.

For each page (issue 17): signed in as a person of that page's role in the example city, with an open panic so
the lists hold something, at 390x844 (a phone), 1440x900 (a desk) and 1920x1080 at device scale 2 (the wall's
3840x2160 panel), the document never scrolls sideways, the page's main controls are on the screen, and an
axe-core scan (npm, tools/ui) with the WCAG 2.0/2.1 A and AA rules finds nothing serious or critical.

axe is injected from tools/ui/node_modules by the test alone (the context bypasses the CSP for that one
script); nothing of it is served by the app.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize

from tests.ui.conftest import REPO, Site, sign_in

pytestmark = pytest.mark.slow

AXE = REPO / "tools" / "ui" / "node_modules" / "axe-core" / "axe.min.js"
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING = ("serious", "critical")


@dataclass(frozen=True, slots=True)
class Size:
    """A screen: its CSS viewport and how many device pixels each CSS pixel takes."""

    name: str
    viewport: ViewportSize
    scale: float
    mobile: bool = False


PHONE = Size("phone", {"width": 390, "height": 844}, 3, mobile=True)
DESK = Size("desktop", {"width": 1440, "height": 900}, 1)
WALL = Size("wall", {"width": 1920, "height": 1080}, 2)
SIZES = (PHONE, DESK, WALL)


@dataclass(frozen=True, slots=True)
class Screen:
    """A page, whom it is for, and the controls that must be on the screen at every size."""

    path: str
    role: str | None
    controls: tuple[str, ...]
    sizes: tuple[Size, ...] = SIZES


PAGES = {
    "login": Screen("/login", None, ("input[name=username]", "input[name=password]", "button[type=submit]")),
    "map": Screen("/", "district_officer", ("#map", "#nav", "#incident-list", ".leaflet-control-zoom-in")),
    # The wall is a screen on a wall; on a phone it is not meant to be read.
    "wall": Screen("/wall", "district_admin", ("#map", "#counters", "#wall-incidents", "#clock"), (DESK, WALL)),
    "guard": Screen("/guard", "guard", ("#cards .card", "#sound", "#nav")),
    "history": Screen("/history", "district_officer", ("#filters button[type=submit]", "#filter-school", "#nav")),
    "alarms": Screen("/alarms", "school_admin", ("#board", "#health-period", "#nav")),
    "audit": Screen("/audit", "auditor", ("#filters button[type=submit]", "#csv", "#nav")),
    "ops": Screen("/ops", "school_admin", ("#devices h2", "#reason", "#push h2", "#nav")),
    "class": Screen("/class", "head_teacher", ("#classes .class-card", "#nav")),
    "patrol": Screen("/patrol", "guard", ("#rounds", "#nav")),
}

# Violations excused on exactly their rule and nodes, (page, rule, selector): none today; each would say why.
KNOWN: set[tuple[str, str, str]] = set()
RUN_AXE = """async ([tags, known]) => {
  const result = await axe.run(document, { runOnly: { type: "tag", values: tags }, resultTypes: ["violations"] });
  // A known violation (KNOWN) is excused on exactly its rule and its nodes, nothing else.
  const excused = (rule, node) => known.some(([r, selector]) => r === rule
    && node.target.some((t) => [...document.querySelectorAll(t)].some((e) => e.matches(selector))));
  return result.violations.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => ({
    rule: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.filter((n) => !excused(v.id, n)).slice(0, 4)
      .map((n) => `${n.target.join(" ")}: ${n.failureSummary}`) })).filter((v) => v.nodes.length);
}"""
OFF_SCREEN = """(selectors) => selectors.filter((s) => {
  const el = document.querySelector(s);
  if (!el) return true;
  const r = el.getBoundingClientRect();
  const style = getComputedStyle(el);
  return r.width === 0 || r.height === 0 || style.visibility !== "visible" || r.left < -1 || r.right > innerWidth + 1;
})"""


@pytest.fixture
def signed_in(city: Site, browser: Browser) -> Iterator[Any]:
    """Open a page of the city as a person of a role at a size: a fresh context each time, signed in once per role."""
    sessions: dict[str, Any] = {}
    contexts: list[BrowserContext] = []
    school = str(city.one("SELECT school_id FROM devices WHERE kind = 'panic_button' AND school_id IN"
                          " (SELECT scope_id FROM users WHERE role = 'guard') ORDER BY id LIMIT 1"))
    panic = str(city.one("SELECT id FROM devices WHERE kind = 'panic_button' AND school_id = %s ORDER BY id LIMIT 1",
                         school))
    city.raise_panic(panic)

    def person(role: str) -> str:
        # One whose scope holds the panic's school (their lists show it), else the first of the role.
        found = city.one("SELECT u.id FROM users u JOIN org_units mine ON mine.id = u.scope_id"
                         " JOIN org_units s ON s.id = %s WHERE u.role = %s AND campusguard_within(s.path, mine.path)"
                         " ORDER BY u.id LIMIT 1", school, role)
        found = found or city.one("SELECT id FROM users WHERE role = %s ORDER BY id LIMIT 1", role)
        assert isinstance(found, str), role
        return found

    def open_page(screen: Screen, size: Size) -> Page:
        state = sessions.get(screen.role or "")
        context = browser.new_context(viewport=size.viewport, device_scale_factor=size.scale, is_mobile=size.mobile,
                                      has_touch=size.mobile, bypass_csp=True, storage_state=state)
        contexts.append(context)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        if screen.role is not None and state is None:
            sign_in(page, city.base, person(screen.role))
            sessions[screen.role] = context.storage_state()
        page.goto(f"{city.base}{screen.path}")
        page.wait_for_selector("body[data-ready=true]" if screen.role else "#login")
        page.wait_for_load_state("networkidle")
        assert not errors, errors
        return page

    yield open_page
    for context in contexts:
        context.close()


def _check(signed_in: Any, name: str, sizes: tuple[Size, ...]) -> None:
    screen = PAGES[name]
    problems: dict[str, object] = {}
    for size in sizes:
        page: Page = signed_in(screen, size)
        width = page.evaluate("() => [document.scrollingElement.scrollWidth, innerWidth]")
        if width[0] > width[1]:
            problems[f"{size.name}: scrolls sideways"] = width
        hidden = page.evaluate(OFF_SCREEN, list(screen.controls))
        if hidden:
            problems[f"{size.name}: controls off the screen"] = hidden
        if name == "wall" and page.evaluate("() => document.scrollingElement.scrollHeight > innerHeight"):
            problems[f"{size.name}: the wall scrolls"] = True
        page.add_script_tag(path=str(AXE))
        violations = page.evaluate(RUN_AXE, [WCAG, [[rule, where] for page_, rule, where in KNOWN if page_ == name]])
        if violations:
            problems[f"{size.name}: axe"] = violations
    assert not problems, json.dumps(problems, indent=1, ensure_ascii=False)




@pytest.mark.parametrize("name", list(PAGES))
def test_every_page_fits_each_screen_and_passes_axe(signed_in: Any, name: str) -> None:
    """In Chinese, the city's own language, at each of the page's sizes."""
    _check(signed_in, name, PAGES[name].sizes)


@pytest.mark.parametrize("name", list(PAGES))
def test_every_page_fits_a_phone_in_english(city: Site, signed_in: Any, name: str) -> None:
    """English words run longer than Chinese ones: the narrowest screen again, with every account in English."""
    with psycopg.connect(city.db) as conn:
        conn.execute("UPDATE users SET locale = 'en'")
    _check(signed_in, name, tuple(s for s in PAGES[name].sizes if s is not WALL)[:1])


def test_the_guard_mini_maps_marker_is_no_nameless_button(signed_in: Any) -> None:
    page: Page = signed_in(PAGES["guard"], PHONE)
    marker = page.locator("#mini-map .incident-marker").first
    marker.wait_for(state="attached")
    assert marker.get_attribute("role") != "button" or marker.get_attribute("aria-label") or marker.get_attribute(
        "title")
    assert marker.get_attribute("tabindex") in (None, "-1")  # not a keyboard stop
