"""The reports' charts in Chromium, drawn by ECharts under our Content-Security-Policy.

An empty period is said in words, in the reader's language, and the uptime bar tells the same story as the
device count beside it.

The ``page`` fixture fails a test on any console error, so a style or script the policy refused (Chromium
logs each refusal as an error) fails these tests too.
"""

from __future__ import annotations

import datetime as dt
import re

import psycopg
import pytest
from playwright.sync_api import Page, expect

from tests.command_ui.district import add_incident, cover_past
from tests.ui.conftest import Site, person, sign_in

pytestmark = pytest.mark.slow


def _uptime(page: Page) -> dict[str, float | None]:
    shares: dict[str, float | None] = page.evaluate(
        "JSON.parse(document.getElementById('chart-uptime').dataset.values)")
    return shares


def test_charts_draw_under_the_policy_and_agree_with_the_device_counts(site: Site, page: Page) -> None:
    now = dt.datetime.now(dt.UTC)
    with psycopg.connect(site.db) as conn:
        cover_past(conn, 30)
        for days in (3, 10, 17):
            add_incident(conn, "antelope-park-es", now - dt.timedelta(days=days), ack_s=120, resolve_s=900)
        # Of antelope-park's devices one reports, online throughout: the bar says 1/N, never 100 %.
        conn.execute("INSERT INTO device_liveness (device_id, last_seen, first_seen, online) VALUES"
                     " ('antelope-park-office-panic-1', now(), now() - interval '60 days', true)")
    sign_in(page, site.base, person(site, "district_admin"))
    page.goto(f"{site.base}/history?school=antelope-park-es")
    page.wait_for_selector("body[data-ready=true]")
    for chart in ("#chart-ack", "#chart-resolve"):
        expect(page.locator(chart)).to_have_attribute("data-state", "drawn")
        expect(page.locator(f"{chart} canvas").first).to_be_visible()
        expect(page.locator(chart)).to_have_attribute("data-series", "2")
        expect(page.locator(chart)).to_have_attribute("data-weeks", "3")
    expect(page.locator("#chart-uptime")).to_have_attribute("data-bars", "1")
    note = page.locator("#uptime-notes li[data-school-id='antelope-park-es']").inner_text()
    heard, devices = (int(n) for n in re.findall(r"(\d+) of (\d+)", note)[0])
    assert heard == 1 and devices > 1
    share = _uptime(page)["antelope-park-es"]
    assert share is not None and share == pytest.approx(heard / devices, abs=1e-3)
    label = page.locator("#chart-uptime").get_attribute("aria-label")
    assert label is not None and "100.0 %" not in label and f"{share * 100:.1f} %" in label
    # ECharts is really running: its instance holds the options the page gave it.
    series = page.evaluate("""async () => {
        const echarts = await import('/vendor/echarts/echarts.esm.min.js');
        return echarts.getInstanceByDom(document.getElementById('chart-ack')).getOption().series.length;
    }""")
    assert series == 2


def test_an_empty_period_says_so_in_the_readers_language(site: Site, page: Page) -> None:
    sign_in(page, site.base, person(site, "district_admin"))
    page.goto(f"{site.base}/history?school=holdrege-es")
    page.wait_for_selector("body[data-ready=true]")
    for chart in ("#chart-ack", "#chart-resolve"):
        expect(page.locator(chart)).to_have_attribute("data-state", "empty")
        expect(page.locator(f"{chart} .empty-state")).to_have_text("No incidents in this period.")
        expect(page.locator(f"{chart} canvas")).to_have_count(0)
    expect(page.locator(".chart-key")).to_be_hidden()
    assert _uptime(page) == {"holdrege-es": 0}  # nobody reported: 0 %, drawn, not a blank frame

    with psycopg.connect(site.db) as conn:
        conn.execute("UPDATE users SET locale = 'zh-CN'")
    page.context.clear_cookies()
    sign_in(page, site.base, person(site, "district_admin"))
    page.goto(f"{site.base}/history?school=holdrege-es")
    page.wait_for_selector("body[data-ready=true]")
    expect(page.locator("#chart-ack .empty-state")).to_have_text("此期间没有事件。")
    label = page.locator("#chart-uptime").get_attribute("aria-label")
    assert label is not None and label.startswith("设备在线率")


_HOVER = """async ([id, series, index]) => {
    // Where ECharts drew one data point, in page pixels, so the mouse can go there as a person's would.
    const echarts = await import('/vendor/echarts/echarts.esm.min.js');
    const holder = document.getElementById(id);
    const chart = echarts.getInstanceByDom(holder);
    const option = chart.getOption();
    const value = option.series[series].data[index];
    const category = option.xAxis[0].type === 'category' ? option.xAxis[0].data[index] : option.yAxis[0].data[index];
    const at = option.xAxis[0].type === 'category' ? [category, value] : [value, category];
    const [x, y] = chart.convertToPixel({seriesIndex: series}, at);
    const box = holder.getBoundingClientRect();
    return [box.left + x, box.top + y];
}"""

_TOOLTIP_TEXTS = """async (id) => {
    // The texts ECharts drew on the chart's canvas (a richText tooltip is one of them).
    const echarts = await import('/vendor/echarts/echarts.esm.min.js');
    const chart = echarts.getInstanceByDom(document.getElementById(id));
    const texts = [];
    chart.getZr().storage.getDisplayList(true).forEach((el) => {
        if (el.style && typeof el.style.text === 'string') texts.push(el.style.text);
        (el.getTextContent?.() && typeof el.getTextContent().style.text === 'string')
            && texts.push(el.getTextContent().style.text);
    });
    return texts;
}"""


def test_tooltips_are_drawn_text_under_the_policy(site: Site, page: Page) -> None:
    """Hovering a bar and a line point shows a school's name as text: no markup, no style attribute refused."""
    marked = "<img src=x>Antelope <b>Park</b>"
    now = dt.datetime.now(dt.UTC)
    with psycopg.connect(site.db) as conn:
        cover_past(conn, 30)
        conn.execute("UPDATE schools SET name = %s WHERE id = 'antelope-park-es'", (marked,))
        for days in (3, 10):
            add_incident(conn, "antelope-park-es", now - dt.timedelta(days=days), ack_s=120, resolve_s=900)
        conn.execute("INSERT INTO device_liveness (device_id, last_seen, first_seen, online) VALUES"
                     " ('antelope-park-office-panic-1', now(), now() - interval '60 days', true)")
    sign_in(page, site.base, person(site, "district_admin"))
    page.goto(f"{site.base}/history?school=antelope-park-es")
    page.wait_for_selector("body[data-ready=true]")
    expect(page.locator("#chart-uptime")).to_have_attribute("data-state", "drawn")
    expect(page.locator("#chart-ack")).to_have_attribute("data-state", "drawn")
    for chart, series, index in (("chart-uptime", 0, 0), ("chart-ack", 0, 1)):
        page.locator(f"#{chart}").scroll_into_view_if_needed()
        x, y = page.evaluate(_HOVER, [chart, series, index])
        page.mouse.move(x, y)
        # The tooltip is drawn on the canvas, holding the name exactly as stored, "<" and all.
        page.wait_for_function(f"""async () => ({_TOOLTIP_TEXTS})('{chart}')
            .then((texts) => texts.some((t) => t.includes({marked!r})))""")
    # Nothing of the name became markup anywhere on the page, and no tooltip was built as HTML.
    assert page.locator("#reports img, #reports b").count() == 0
    assert page.evaluate("[...document.querySelectorAll('#reports [style*=\"background-color\"] span')].length") == 0
