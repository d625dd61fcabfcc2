"""A bulletin built from fixed facts, compared field by field, then rendered in both languages (no services)."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from command_ui.bulletin import build, render_html
from command_ui.bulletin_text import TEXT
from domain.compliance import CameraFact, Change, SchoolFacts
from store.compliance_repo import SchoolRecord, UnitRow

END = datetime(2026, 12, 1, tzinfo=UTC)
CITY = UnitRow("hc", "city", "鹤川市", "/hc/", 0)
EAST = UnitRow("east", "county", "东县", "/hc/east/", 1)
WEST = UnitRow("west", "county", "西县", "/hc/west/", 1)
WATCHED = (CameraFact("gate", True), CameraFact("perimeter", True), CameraFact("kitchen", True))


def record(school: str, name: str, county: str, *, incidents: int = 0, drills: int = 0,
           **facts: object) -> SchoolRecord:
    base = SchoolFacts(school_id=school, name=name, path=f"/hc/{county}/{school}/", pupils=300, boarding=False,
                       guards=2, rounds_per_day=5, rounds_done=150, days=30.0, cameras=WATCHED, retention_days=(),
                       buttons=1, buttons_online=1, last_drill=END - timedelta(days=3), period_end=END,
                       ack_seconds=(), unacknowledged=0)
    return SchoolRecord(replace(base, **facts), "Asia/Shanghai", incidents, drills)  # type: ignore[arg-type]


def test_a_bulletin_from_fixed_facts() -> None:
    now = [record("a", "甲小学", "east", incidents=2, drills=1, ack_seconds=(20.0, 100.0)),
           record("b", "<b>乙</b>中学", "east", guards=0, unacknowledged=1, incidents=1),
           record("c", "丙幼儿园", "west", rounds_done=75)]
    before = [record("a", "甲小学", "east", buttons=0), record("b", "<b>乙</b>中学", "east")]
    made = build(CITY, "2026-11", now, before, {"a": 0.99, "b": 0.5}, [CITY, EAST, WEST],
                 datetime(2026, 12, 1, 9, tzinfo=UTC), "li-guiying")
    rows = {r.card.school_id: r for r in made.rows}
    assert [r.card.school_id for r in made.rows] == ["a", "c", "b"]
    assert [(r.card.rank, r.card.score) for r in made.rows] == [(1, 100.0), (2, 87.5), (3, 60.0)]
    assert rows["a"].change == Change(1, 25.0) and rows["b"].change == Change(-2, -40.0)
    assert rows["c"].change == Change(None, None)
    assert (rows["a"].incidents, rows["a"].drills, rows["a"].uptime) == (2, 1, 0.99)
    assert rows["a"].ack_p90_s == 92.0 and rows["b"].ack_p90_s is None and rows["c"].uptime is None
    assert [r.card.school_id for r in made.rectify] == ["b"]
    assert [(u.rollup.unit_id, u.name, u.rollup.schools, u.rollup.score, u.rollup.rectify) for u in made.units] == [
        ("east", "东县", 2, 80.0, 1), ("hc", "鹤川市", 3, 82.5, 1), ("west", "西县", 1, 87.5, 0)]

    english = render_html(made, "en")
    ranking = english[english.index('data-part="ranking"'):english.index('data-part="units"')]
    assert re.findall(r'data-school="(\w)"', ranking) == ["a", "c", "b"]
    assert "&lt;b&gt;乙&lt;/b&gt;中学" in english and "<b>乙</b>" not in english  # a name is text
    assert "up 1 (+25.0)" in ranking and "down 2 (-40.0)" in ranking and ">new<" in ranking
    assert ">99.0%<" in ranking and ">92<" in ranking
    rectify = english[english.index('data-part="rectify"'):english.index('data-part="ranking"')]
    assert "Failed: Guards (GB/T 29315), Acknowledge within (s, p90)" in rectify
    chinese = render_html(made, "zh-CN")
    assert "平安校园月度通报" in chinese and "上升 1 位" in chinese and "未达标项：专职保安" in chinese  # noqa: RUF001


def test_both_languages_have_the_same_words() -> None:
    assert set(TEXT["en"]) == set(TEXT["zh-CN"])
    for key, text in TEXT["en"].items():
        assert set(re.findall(r"\{(\w+)\}", text)) == set(re.findall(r"\{(\w+)\}", TEXT["zh-CN"][key])), key
