"""Every English string of the pages has its Chinese.

Before, 14 fell back to English, the incident page's "Timeline", "Evidence", "Notifications" and "Outcome" among
them.
"""

from __future__ import annotations

import re
from pathlib import Path

I18N = Path(__file__).resolve().parents[2] / "command_ui" / "static" / "js" / "i18n.js"
KEY = re.compile(r'^\s{4}"([a-z0-9_.]+)":', re.MULTILINE)


def keys(block: str) -> set[str]:
    return set(KEY.findall(block))


def test_every_english_string_has_its_chinese() -> None:
    text = I18N.read_text(encoding="utf-8")
    english = text[text.index("\n  en: {"):text.index('\n  "zh-CN": {')]
    chinese = text[text.index('\n  "zh-CN": {'):text.index("\n};")]
    assert len(keys(english)) > 100
    assert sorted(keys(english) - keys(chinese)) == []
    assert sorted(keys(chinese) - keys(english)) == []
