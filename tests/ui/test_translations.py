"""Every English string of the pages has its Chinese, and everything the server says as a key has a text.

Before, 14 fell back to English, the incident page's "Timeline", "Evidence", "Notifications" and "Outcome" among
them; incident titles, types and timeline verbs were English in every language (issue 17).
"""

from __future__ import annotations

import json
import re
import string
from pathlib import Path

from alerts.rules import load_rules

STATIC = Path(__file__).resolve().parents[2] / "command_ui" / "static"
I18N = STATIC / "js" / "i18n.js"
KEY = re.compile(r'^\s{4}"([a-z0-9_.-]+)":', re.MULTILINE)
ENTRY = re.compile(r'^\s{4}"([a-z0-9_.-]+)":\s*("(?:[^"\\]|\\.)*"),?\s*$', re.MULTILINE)
PLACEHOLDER = re.compile(r"\{(\w+)\}")
# t("key") and t(`key`) with a literal key, and data-i18n="key" in the pages.
USED = re.compile(r"""\bt\(\s*["']([a-z0-9_.-]+)["']|data-i18n(?:-placeholder|-label)?="([a-z0-9_.-]+)\"""")
# Timeline kinds the alert stage records (alerts/correlate.py, escalation.py, lifecycle.py) and the keys
# command_ui.routers.incidents.timeline_message makes of them.
TIMELINE = ("raised", "evidence", "evidence_raised", "repeat", "ended", "notified", "escalated", "escalated_after",
            "renotified", "acknowledge", "respond", "resolve", "close", "reopen", "seen")


def tables() -> tuple[str, str]:
    text = I18N.read_text(encoding="utf-8")
    return (text[text.index("\n  en: {"):text.index('\n  "zh-CN": {')],
            text[text.index('\n  "zh-CN": {'):text.index("\n};")])


def keys(block: str) -> set[str]:
    return set(KEY.findall(block))


def texts(block: str) -> dict[str, str]:
    return {key: json.loads(value) for key, value in ENTRY.findall(block)}


def test_every_english_string_has_its_chinese() -> None:
    english, chinese = tables()
    assert len(keys(english)) > 100
    assert sorted(keys(english) - keys(chinese)) == []
    assert sorted(keys(chinese) - keys(english)) == []


def test_each_translation_fills_the_same_placeholders() -> None:
    english, chinese = (texts(block) for block in tables())
    assert len(english) == len(keys(tables()[0]))  # every entry parsed
    differ = {key: (text, chinese[key]) for key, text in english.items()
              if set(PLACEHOLDER.findall(text)) != set(PLACEHOLDER.findall(chinese.get(key, text)))}
    assert differ == {}


def test_every_key_a_page_asks_for_exists() -> None:
    english = keys(tables()[0])
    used = set()
    for path in [*STATIC.glob("js/*.js"), *STATIC.glob("*.html")]:
        used |= {a or b for a, b in USED.findall(path.read_text(encoding="utf-8"))}
    assert len(used) > 50
    assert sorted(used - english) == []


def test_what_the_server_says_as_keys_has_a_text() -> None:
    english = texts(tables()[0])
    rules = load_rules().rules
    missing = []
    for rule in rules:
        kind_key = f"signal.{rule.kind}"
        missing += [kind_key] if kind_key not in english else []
        if rule.type is None:
            continue
        missing += [f"type.{rule.type}"] if f"type.{rule.type}" not in english else []
        assert rule.title_key, f"the shipped rule for {rule.kind} names no title_key"
        if rule.title_key not in english:
            missing.append(rule.title_key)
            continue
        fields = {name for _, name, _, _ in string.Formatter().parse(rule.title or "") if name}
        assert set(PLACEHOLDER.findall(english[rule.title_key])) == fields, rule.title_key
    missing += [f"timeline.{kind}" for kind in TIMELINE if f"timeline.{kind}" not in english]
    missing += [f"chain.{level}" for level in ("school_guards", "school_admin", "district_officer")
                if f"chain.{level}" not in english]
    assert missing == []
