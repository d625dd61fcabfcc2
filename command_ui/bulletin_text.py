"""The monthly bulletin's words in English and Chinese, the two languages every page speaks.

The pages' catalogue lives in the browser (static/js/i18n.js) and the bulletin is made on the server, without a
browser (its PDF too), so its words are kept here, in the same two tables with the same keys (a test holds them to
one set of keys). The scorecard page says the criteria with the i18n.js keys ``scorecard.criterion.*``; the
two are worded alike on purpose.
"""

# ruff: noqa: RUF001 - the Chinese table is written with Chinese (full-width) punctuation, as it is read
from __future__ import annotations

from typing import Literal

Lang = Literal["en", "zh-CN"]

TEXT: dict[Lang, dict[str, str]] = {
    "en": {
        "title": "Monthly safe-campus bulletin",
        "subtitle": "{unit}, {month}",
        "made": "Made {at} by {who}, for {unit} and the {schools} schools under it.",
        "summary": "Summary",
        "summary.text": "{schools} schools; mean score {score}; {rectify} need rectification; "
                        "{incidents} real alarms; {drills} drills.",
        "rectify.title": "Schools needing rectification (整改)",
        "rectify.none": "No school needs rectification this month.",
        "rectify.failed": "Failed: {criteria}",
        "ranking.title": "Scores and ranking",
        "units.title": "By unit, weakest first",
        "col.rank": "Rank",
        "col.school": "School",
        "col.unit": "Unit",
        "col.schools": "Schools",
        "col.score": "Score",
        "col.change": "Since last month",
        "col.incidents": "Real alarms",
        "col.ack": "Time to acknowledge (p90)",
        "col.drills": "Drills",
        "col.uptime": "Device uptime",
        "col.rectify": "To rectify",
        "change.new": "new",
        "change.same": "unchanged",
        "change.up": "up {places}",
        "change.down": "down {places}",
        "criteria.title": "Criteria per school",
        "criterion.guards": "Guards (GB/T 29315)",
        "criterion.patrols": "Patrol rounds a day",
        "criterion.cameras": "Key areas watched",
        "criterion.retention": "Recording kept (days)",
        "criterion.alarms": "One-button alarms online, drilled",
        "criterion.response": "Acknowledge within (s, p90)",
        "status.pass": "pass",
        "status.partial": "partial",
        "status.fail": "fail",
        "status.na": "n/a",
        "none": "-",
        "footer": "Scored by campusguard from what the platform recorded; criteria and defaults: docs/compliance.md.",
    },
    "zh-CN": {
        "title": "平安校园月度通报",
        "subtitle": "{unit}，{month}",
        "made": "{at} 由 {who} 生成，范围：{unit} 及所属 {schools} 所学校。",
        "summary": "概况",
        "summary.text": "学校 {schools} 所；平均得分 {score}；需整改 {rectify} 所；"
                        "真实报警 {incidents} 起；演练 {drills} 次。",
        "rectify.title": "需整改学校",
        "rectify.none": "本月无需要整改的学校。",
        "rectify.failed": "未达标项：{criteria}",
        "ranking.title": "得分与排名",
        "units.title": "各单位汇总（由弱到强）",
        "col.rank": "排名",
        "col.school": "学校",
        "col.unit": "单位",
        "col.schools": "学校数",
        "col.score": "得分",
        "col.change": "较上月",
        "col.incidents": "真实报警",
        "col.ack": "确认用时（p90）",
        "col.drills": "演练",
        "col.uptime": "设备在线率",
        "col.rectify": "需整改",
        "change.new": "新增",
        "change.same": "持平",
        "change.up": "上升 {places} 位",
        "change.down": "下降 {places} 位",
        "criteria.title": "各校分项",
        "criterion.guards": "专职保安（GB/T 29315）",
        "criterion.patrols": "每日巡查次数",
        "criterion.cameras": "重点部位视频覆盖",
        "criterion.retention": "录像保存天数",
        "criterion.alarms": "一键报警在线与演练",
        "criterion.response": "报警确认用时（秒，p90）",
        "status.pass": "达标",
        "status.partial": "部分达标",
        "status.fail": "未达标",
        "status.na": "不适用",
        "none": "-",
        "footer": "由 campusguard 根据平台记录评分；评分项与默认值见 docs/compliance.md。",
    },
}


def say(lang: Lang, key: str, **values: object) -> str:
    """Say one of the bulletin's texts in ``lang``, its ``{placeholders}`` filled."""
    return TEXT[lang][key].format(**values)
