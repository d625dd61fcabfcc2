"""A person is called by their role and the level they sit at: the city bureau's, a county's or a township's."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from domain.site import load_site
from domain.titles import ROLES, all_title_keys, title_key, unit_level

REPO = Path(__file__).resolve().parents[2]
I18N = REPO / "command_ui" / "static" / "js" / "i18n.js"
KEY = re.compile(r'^\s{4}"(title\.[a-z_.]+)":\s*"([^"]*)"', re.MULTILINE)


@pytest.mark.parametrize(("role", "kind", "key"), [
    ("district_admin", "city", "title.city.district_admin"),
    ("district_officer", "city", "title.city.district_officer"),
    ("district_officer", "county", "title.county.district_officer"),
    ("district_officer", "district", "title.county.district_officer"),  # a county-level district (区)
    ("district_officer", "functional zone", "title.county.district_officer"),
    ("district_admin", "County", "title.county.district_admin"),  # kinds are words, read without case
    ("district_officer", "township", "title.township.district_officer"),
    ("district_officer", "subdistrict", "title.township.district_officer"),  # an urban 街道
    ("district_officer", "galaxy", "title.district_officer"),  # a kind nobody knows: the role's own title
    ("district_officer", None, "title.district_officer"),
    ("school_admin", "school", "title.school_admin"),
    ("head_teacher", "class", "title.head_teacher"),
    ("auditor", "city", "title.auditor"),  # an auditor reads wherever they sit: one title
    ("admin", None, "title.admin"),
    ("pilot", "city", "title.unknown"),
])
def test_a_role_at_a_level_has_its_title(role: str, kind: str | None, key: str) -> None:
    assert title_key(role, unit_level(kind)) == key


def test_every_officer_of_the_example_city_is_called_by_their_level() -> None:
    site = load_site(REPO / "examples" / "city.yaml")
    kinds = {u.unit.id: u.unit.kind for u in site.iter_units()}
    found = {title_key(e.person.role, unit_level(kinds.get(e.scope_id)))
             for e in site.iter_people() if e.person.role.startswith("district_")}
    assert {"title.city.district_admin", "title.county.district_officer",
            "title.township.district_officer"} <= found
    assert not found & {"title.district_officer", "title.district_admin"}  # no officer left untitled


def test_both_catalogues_hold_every_title_in_their_own_words() -> None:
    text = I18N.read_text(encoding="utf-8")
    en = dict(KEY.findall(text[text.index("\n  en: {"):text.index('\n  "zh-CN": {')]))
    zh = dict(KEY.findall(text[text.index('\n  "zh-CN": {'):]))
    assert all_title_keys() <= en.keys() and all_title_keys() <= zh.keys()
    assert zh["title.city.district_officer"] == "市教育局安全科"
    assert zh["title.county.district_officer"] == "县（区）教育局"  # noqa: RUF001 - Chinese punctuation
    assert zh["title.township.district_officer"] == "乡镇中心校"
    assert en["title.township.district_admin"] == "Township centre-school admin"
    assert len({zh[k] for k in all_title_keys()}) == len(all_title_keys())  # no two levels share a title
    assert set(ROLES) >= {"guard", "school_admin", "head_teacher", "district_officer", "district_admin", "auditor"}
