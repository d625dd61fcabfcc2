"""What the messenger notifiers say: the same words as the pages' catalogue, titles from their keys, escaping."""

from __future__ import annotations

import json
import re
import string
from dataclasses import replace
from pathlib import Path

from alerts.notifiers.dingtalk import DingTalkConfig
from alerts.notifiers.messenger import escape_markdown, render
from alerts.notifiers.messenger_words import WORDS
from tests.alerts.test_messengers import notification

I18N = Path(__file__).resolve().parents[2] / "command_ui" / "static" / "js" / "i18n.js"
ENTRY = re.compile(r'^\s{4}"([a-z0-9_.-]+)":\s*("(?:[^"\\]|\\.)*"),?\s*$', re.MULTILINE)
SHARED = ("type.", "incident.title.", "severity.")


def catalogue() -> dict[str, dict[str, str]]:
    text = I18N.read_text(encoding="utf-8")
    blocks = {"en": text[text.index("\n  en: {"):text.index('\n  "zh-CN": {')],
              "zh-CN": text[text.index('\n  "zh-CN": {'):text.index("\n};")]}
    return {lang: {k: json.loads(v) for k, v in ENTRY.findall(block)} for lang, block in blocks.items()}


def test_types_severities_and_titles_say_what_the_pages_say() -> None:
    pages = catalogue()
    for lang in ("en", "zh-CN"):
        shared = {k: v for k, v in pages[lang].items() if k.startswith(SHARED)}
        assert len(shared) > 40
        ours = {k: v for k, v in WORDS[lang].items() if k.startswith(SHARED)}  # type: ignore[index]
        assert ours == shared, f"alerts/notifiers/messenger_words.py is out of step with i18n.js ({lang})"


def test_both_languages_have_the_same_keys_and_placeholders() -> None:
    assert set(WORDS["en"]) == set(WORDS["zh-CN"])

    def names(text: str) -> set[str]:
        return {name for _, name, _, _ in string.Formatter().parse(text) if name}

    assert {k: names(v) for k, v in WORDS["en"].items()} == {k: names(v) for k, v in WORDS["zh-CN"].items()}


def chinese(**changes: object) -> DingTalkConfig:
    return DingTalkConfig.model_validate({"type": "dingtalk", "access_token": "t0ken-123", "secret": "SECabcdefgh",
                                          **changes})


def test_a_chinese_incident_is_said_in_chinese_title_included() -> None:
    n = replace(notification(), title_key="incident.title.panic", title_params={"place": "东门岗亭"})
    message = render(n, chinese())
    assert message.title == "紧急求助：东门岗亭"  # noqa: RUF001
    assert message.heading == "【紧急】新警情：紧急求助：东门岗亭"  # noqa: RUF001
    assert dict(message.facts) == {"状态": "新警情", "类型": "紧急求助", "级别": "紧急", "学校": "淇滨区第一小学",
                                   "位置": "35.748000，114.297000（WGS-84）",  # noqa: RUF001
                                   "时间": "2026-09-01 08:30:04 UTC+08:00", "发生时间": "2026-09-01 08:30:00 UTC+08:00",
                                   "事件编号": "#4711"}
    assert message.link is None  # no public address configured: no link


def test_a_title_missing_a_value_or_with_an_unknown_key_stays_in_english() -> None:
    half = replace(notification(), title_key="incident.title.late_arrival", title_params={"source_id": "豫F12345"})
    unknown = replace(notification(), title_key="incident.title.not_yet_translated", title_params={})
    assert render(half, chinese()).title == "Panic: 东门岗亭"
    assert render(unknown, chinese()).title == "Panic: 东门岗亭"
    assert render(notification(), chinese()).title == "Panic: 东门岗亭"  # a Notification with no key at all


def test_escalation_level_unknown_types_and_places_are_said_too() -> None:
    message = render(notification(event="escalated", level=2, type="new_kind", lon=None, lat=None), chinese())
    facts = dict(message.facts)
    assert (facts["状态"], facts["类型"], facts["位置"]) == ("已升级至第2级", "new_kind", "未知")
    english = render(notification(event="escalated", level=2), chinese(locale="en", public_url="https://x.example"))
    assert english.heading == "[Critical] Escalated to level 2: Panic: 东门岗亭"
    assert english.link == "https://x.example/history?incident=4711" and english.link_text == "Open the incident"


def test_markdown_escaping_keeps_text_and_drops_markup() -> None:
    assert escape_markdown("东门 *岗亭*") == "东门 &#42;岗亭&#42;"
    assert escape_markdown("a\n# heading\n> quote") == "a # heading &#62; quote"
    assert escape_markdown('<at user_id="all">所有人</at>') == '&#60;at user&#95;id="all"&#62;所有人&#60;/at&#62;'
    assert escape_markdown("淇滨区第一小学 (东校区) - 2.5 km") == "淇滨区第一小学 (东校区) - 2.5 km"
