"""The monthly bulletin (月度通报): a county's or the city's schools, scored, ranked and compared with last month.

Built from two periods' scorecards (:mod:`domain.compliance`) and the month's figures the reports already give
(real alarms, time to acknowledge, drills, device uptime). Schools needing rectification (整改) come first, then
every school in rank order, then the units of the tree weakest first, then each school's criteria.

HTML from a Jinja2 template with autoescaping on, so a school's name is text, never markup. The PDF is the same
HTML laid out by WeasyPrint: a well-kept library that prints on the server in the request, with Pango finding the
Noto Sans CJK font the bootstrap installs. Printing with the Chromium the browser tests drive was the other
choice; it would make a headless browser (hundreds of MB, a process per bulletin) a dependency of the web
server, where WeasyPrint needs only Pango from Debian.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from command_ui.bulletin_text import TEXT, Lang, say
from domain.compliance import (
    CRITERIA,
    Change,
    Judgement,
    Scorecard,
    UnitRollup,
    changes,
    percentile,
    ranked,
    rollup,
    scorecard,
)
from store.compliance_repo import SchoolRecord, UnitRow

NONE = "-"
"""Shown for a figure there is none of."""
TEMPLATES = Path(__file__).resolve().parent / "bulletin_templates"
_ENV = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                   trim_blocks=True, lstrip_blocks=True)


@dataclass(frozen=True, slots=True)
class BulletinRow:
    """One school of the bulletin: its scorecard, its move since last month and the month's figures."""

    card: Scorecard
    change: Change
    incidents: int
    ack_p90_s: float | None
    drills: int
    uptime: float | None


@dataclass(frozen=True, slots=True)
class UnitLine:
    """One unit of the tree rolled up, with its name."""

    name: str
    kind: str
    rollup: UnitRollup


@dataclass(frozen=True, slots=True)
class Bulletin:
    """A whole bulletin, ready to render in either language."""

    unit: UnitRow
    month: str
    made_at: datetime
    made_by: str
    rows: tuple[BulletinRow, ...]
    """Every school in rank order, best first."""
    units: tuple[UnitLine, ...]

    @property
    def rectify(self) -> tuple[BulletinRow, ...]:
        """The schools needing rectification, weakest first."""
        return tuple(sorted((r for r in self.rows if r.card.rectify), key=lambda r: (r.card.score, r.card.name)))


def cards_of(records: Sequence[SchoolRecord]) -> list[Scorecard]:
    """Score and rank a period's schools (weakest first, as :func:`domain.compliance.ranked` returns them)."""
    return ranked(scorecard(r.facts) for r in records)


def build(unit: UnitRow, month: str, records: Sequence[SchoolRecord], previous: Sequence[SchoolRecord],
          uptime: Mapping[str, float | None], tree: Sequence[UnitRow], made_at: datetime,
          made_by: str) -> Bulletin:
    """Put a month's bulletin together from its records, last month's, and the month's device uptime."""
    cards = cards_of(records)
    moved = changes(cards, cards_of(previous))
    by_id = {r.facts.school_id: r for r in records}
    rows = tuple(BulletinRow(card, moved[card.school_id], by_id[card.school_id].incidents,
                             percentile(by_id[card.school_id].facts.ack_seconds, 0.9), by_id[card.school_id].drills,
                             uptime.get(card.school_id))
                 for card in sorted(cards, key=lambda c: (c.rank, c.name, c.school_id)))
    names = {u.path: u for u in tree}
    lines = tuple(UnitLine(names[r.path].name, names[r.path].kind, r)
                  for r in rollup(cards, {u.id: u.path for u in tree}))
    return Bulletin(unit, month, made_at, made_by, rows, lines)


def _number(value: float | None, digits: int = 1) -> str:
    return NONE if value is None else f"{value:.{digits}f}".rstrip("0").rstrip(".") if digits else f"{value:.0f}"


def _change(lang: Lang, change: Change) -> str:
    if change.rank_delta is None:
        return say(lang, "change.new")
    places = ("" if change.rank_delta == 0 else say(lang, "change.up" if change.rank_delta > 0 else "change.down",
                                                     places=abs(change.rank_delta)))
    points = f"{change.score_delta:+.1f}" if change.score_delta is not None else ""
    return f"{places or say(lang, 'change.same')} ({points})"


def _cell(lang: Lang, judgement: Judgement) -> str:
    status = say(lang, f"status.{judgement.status}")
    if judgement.criterion == "alarms":  # the share of buttons online, against all of them
        measured, target = _percent(judgement.measured, 0), _percent(judgement.target, 0)
    else:
        measured, target = _number(judgement.measured), _number(judgement.target)
    return f"{measured} / {target} · {status}"


def _percent(value: float | None, digits: int = 1) -> str:
    return NONE if value is None else f"{value:.{digits}%}"


def render_html(bulletin: Bulletin, lang: Lang) -> str:
    """Render the bulletin as one self-contained HTML document in ``lang``."""
    def failed(card: Scorecard) -> str:
        return ("、" if lang == "zh-CN" else ", ").join(
            say(lang, f"criterion.{j.criterion}") for j in card.judgements if j.status == "fail")

    scores = [r.card.score for r in bulletin.rows]
    summary = say(lang, "summary.text", schools=len(bulletin.rows),
                  score=_number(sum(scores) / len(scores)) if scores else NONE,
                  rectify=len(bulletin.rectify), incidents=sum(r.incidents for r in bulletin.rows),
                  drills=sum(r.drills for r in bulletin.rows))
    return _ENV.get_template("bulletin.html").render(
        b=bulletin, lang=lang, t=TEXT[lang], say=lambda key, **v: say(lang, key, **v), summary=summary,
        criteria=CRITERIA, failed=failed, change=lambda c: _change(lang, c), cell=lambda j: _cell(lang, j),
        number=_number, made_at=f"{bulletin.made_at:%Y-%m-%d %H:%M}",
        percent=_percent)


def render_pdf(html: str) -> bytes:
    """Lay the bulletin's HTML out as a PDF (A4 landscape, Chinese set in Noto Sans CJK)."""
    import weasyprint  # type: ignore[import-untyped]  # ~1 s to import: only when a PDF is asked

    pdf = weasyprint.HTML(string=html, base_url=str(TEMPLATES)).write_pdf()
    assert isinstance(pdf, bytes)
    return pdf
