"""Making a month's bulletin of a unit, and the monthly job that archives last month's for the city and counties.

:func:`make` puts one bulletin together and renders it (the on-demand API and the job share it, so a scheduled
bulletin reads exactly like one asked for). :func:`scheduled_pass` is the job: for the root unit and every county
it archives last month's bulletin (HTML and PDF, in Chinese and in every other language the unit's people read)
unless the scheduler archived it already, and audits each as the scheduler. The web process runs it at start-up
and every hour (campusguard/runtime.py); a bulletin is due once a month has ended in the bureau's timezone, so
the pass in the first hour of the 1st makes it, and a server that was down on the 1st makes it when it starts
again: up to :data:`CATCH_UP_MONTHS` missed months, each judged on its own facts.

A month is read in the timezone most of the unit's schools keep, as the scorecard reads it.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import psycopg

from command_ui import bulletin
from command_ui.bulletin_text import Lang
from command_ui.routers.reports import READ_REPORTS
from command_ui.uptime import school_uptime
from domain.audit import AuditRecord
from store import audit_repo, bulletin_repo, compliance_repo, queries
from store.db import connect
from vision.config import VideoSettings

log = logging.getLogger(__name__)

SCHEDULER = "scheduler"
"""Who made a scheduled bulletin: its ``generated_by`` and its audit records' actor."""
FORMATS: tuple[bulletin_repo.Format, ...] = ("html", "pdf")
CATCH_UP_MONTHS = 3
DUE_AFTER = dt.timedelta(hours=6)
"""How long after a month ends (in the bureau's timezone) its bulletin is made: an alarm raised at 23:58 and
acknowledged at 00:07, or a device's events that came in late, belong to the month and should be in it."""
PASS_LOCK = 0x63_67_62_75  # "cgbu": one pass at a time across the api replicas (pg_try_advisory_lock)
"""Months back a pass makes missed scheduled bulletins for; older gaps stay gaps (their facts have expired)."""


@dataclass(frozen=True, slots=True)
class Made:
    """One rendered bulletin: what it says and the bytes handed out."""

    bulletin: bulletin.Bulletin
    lang: Lang
    format: bulletin_repo.Format
    body: bytes


def zone_of(conn: psycopg.Connection, unit: compliance_repo.UnitRow) -> ZoneInfo:
    """Return the timezone a unit's months are read in: the one most of its schools keep (UTC without schools)."""
    return ZoneInfo(compliance_repo.scope_zone(conn, unit.path) or "UTC")


def bounds(month: str, zone: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    """Give a month's (``YYYY-MM``) [start, end) in UTC, its days read in ``zone``."""
    year, number = int(month[:4]), int(month[5:7])
    start = dt.datetime(year, number, 1, tzinfo=zone)
    end = dt.datetime(year + number // 12, number % 12 + 1, 1, tzinfo=zone)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def shifted(month: str, by: int) -> str:
    """Return the month ``by`` months after ``month`` (before, for a negative ``by``)."""
    index = int(month[:4]) * 12 + int(month[5:7]) - 1 + by
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def month_of(at: dt.datetime, zone: ZoneInfo) -> str:
    """Return the month (``YYYY-MM``) ``at`` falls in, read in ``zone``."""
    return f"{at.astimezone(zone):%Y-%m}"


def make(conn: psycopg.Connection, video: VideoSettings, unit: compliance_repo.UnitRow, month: str,
         now: dt.datetime, lang: Lang, fmt: bulletin_repo.Format, made_by: str) -> Made:
    """Build and render a unit's bulletin of ``month``, compared with the month before, judged up to ``now``."""
    zone = zone_of(conn, unit)
    start, end = bounds(month, zone)
    before_start, before_end = bounds(shifted(month, -1), zone)

    def records(since: dt.datetime, until: dt.datetime) -> list[compliance_repo.SchoolRecord]:
        return compliance_repo.school_records(
            conn, unit.path, since, until, now,
            lambda camera: video.camera_retention_days.get(camera, video.retention_days))

    judged_end = max(min(end, now), start)
    uptime = {u.school_id: u.uptime for u in school_uptime(
        queries.device_availability(conn, unit.path, start, judged_end), start, judged_end)}
    made = bulletin.build(unit, month, records(start, end), records(before_start, before_end), uptime,
                          compliance_repo.units(conn, unit.path), now.astimezone(zone), made_by)
    html = bulletin.render_html(made, lang)
    return Made(made, lang, fmt, bulletin.render_pdf(html) if fmt == "pdf" else html.encode())


def audit_made(conn: psycopg.Connection, made: Made, at: dt.datetime, actor: str, archived: int | None) -> None:
    """Audit the making of a bulletin, with the schools it lists for rectification and its archive id."""
    audit_repo.append(conn, AuditRecord(at, actor, "report.bulletin", f"unit:{made.bulletin.unit.id}", {
        "month": made.bulletin.month, "format": made.format, "lang": made.lang, "schools": len(made.bulletin.rows),
        "rectify": [r.card.school_id for r in made.bulletin.rectify], "archive_id": archived}))


def due_units(conn: psycopg.Connection) -> list[compliance_repo.UnitRow]:
    """List the units a monthly bulletin is made for: the root unit (the city) and every county-level unit.

    County-level is the level under the root, whatever a unit calls itself there: 县, 区, 开发区 alike.
    """
    return [u for u in compliance_repo.units(conn, "/") if u.depth <= 1]


def languages(conn: psycopg.Connection, unit: compliance_repo.UnitRow) -> tuple[Lang, ...]:
    """Chinese always (the bureau's language of record), and English where a report reader of the unit reads it.

    A unit's readers are the report readers whose scope holds it: a county's officer never reads the city's.
    """
    return ("zh-CN", "en") if "en" in bulletin_repo.reader_locales(conn, unit.path, READ_REPORTS) else ("zh-CN",)


def months_due(conn: psycopg.Connection, unit: compliance_repo.UnitRow, now: dt.datetime) -> list[str]:
    """List the ended months the scheduler may owe the unit a bulletin of: a few back (those made are skipped).

    A month is owed :data:`DUE_AFTER` after it ends. Every month of the catch-up window since the unit's first
    bulletin is listed each pass, so a month that failed is tried again even after a later one was made; a unit
    with no bulletin yet (a new install) starts with the last month only, not with months before it ran.
    """
    last = shifted(month_of(now - DUE_AFTER, zone_of(conn, unit)), -1)
    began = bulletin_repo.first_scheduled_month(conn, unit.id)
    first = max(shifted(last, 1 - CATCH_UP_MONTHS), began or last)
    months, month = [], first
    while month <= last:
        months.append(month)
        month = shifted(month, 1)
    return months


def archive_month(conn: psycopg.Connection, video: VideoSettings, unit: compliance_repo.UnitRow, month: str,
                  now: dt.datetime, langs: Sequence[Lang]) -> list[int]:
    """Make and archive a unit's scheduled bulletin of a month in each language and format it lacks; audited."""
    added: list[int] = []
    for lang in langs:
        for fmt in FORMATS:
            if bulletin_repo.has_scheduled(conn, unit.id, month, lang, fmt):
                continue
            made = make(conn, video, unit, month, now, lang, fmt, SCHEDULER)
            with conn.transaction():  # the archive row and its audit record commit together
                archived = bulletin_repo.add(conn, unit.id, month, lang, fmt, made.body, now, SCHEDULER,
                                             scheduled=True)
                if archived is not None:  # None: another process archived it in between
                    audit_made(conn, made, now, SCHEDULER, archived)
                    added.append(archived)
    return added


def scheduled_pass(conn: psycopg.Connection, video: VideoSettings, now: dt.datetime) -> list[int]:
    """Archive every due bulletin of the city and its counties that is missing; returns the new archive ids.

    A unit that fails (a PDF that would not print) is logged and left for the next pass; the others go on.
    """
    added: list[int] = []
    for unit in due_units(conn):
        try:
            langs, months = languages(conn, unit), months_due(conn, unit, now)
        except Exception:
            log.exception("bulletins of %s not looked at; the next pass tries again", unit.id)
            continue
        for month in months:
            try:
                added += archive_month(conn, video, unit, month, now, langs)
            except Exception:
                # Whatever failed (the database, a PDF that would not print), the other units and months go on.
                log.exception("bulletin of %s for %s not archived; the next pass tries again", unit.id, month)
    return added


def run_pass(database_url: str, video: VideoSettings) -> None:
    """Run :func:`scheduled_pass` on a connection of its own (the scheduler's thread); failures wait for the next."""
    try:
        with connect(database_url, autocommit=True, max_wait_s=10) as conn:
            # Every api replica runs this job: one pass renders, the others see the lock held and skip (the
            # archive's unique rows would keep them from doubling, but not from printing every PDF twice).
            if not bulletin_repo.try_pass_lock(conn, PASS_LOCK):
                return
            added = scheduled_pass(conn, video, dt.datetime.now(dt.UTC))
    except psycopg.Error:
        log.exception("bulletin pass failed; will retry at the next tick")
        return
    if added:
        log.info("archived %d scheduled bulletin documents", len(added))
