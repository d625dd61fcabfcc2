"""The patrol watch: reads the loaded plans and counted scans, and returns the alarms of rounds past their deadline.

It runs on the alert service's slow loop beside the cooking watch, with the server's clock. A round's alarm has
one signal id (:func:`alerts.patrols.missed_signal`), so the alert service, which claims each id once, raises it
once however many passes see it; rounds whose deadline lies further back than ``lookback`` are history.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import psycopg

from alerts.patrols import missed_at_deadline, missed_signal, report, rounds_of_day
from domain.incident import Signal
from store.patrol_repo import counted_scans, school_patrols


def due_alarms(conn: psycopg.Connection, now: dt.datetime, lookback: dt.timedelta) -> tuple[Signal, ...]:
    """Alarms of every school's rounds whose deadline fell in ``(now - lookback, now]`` and were not complete."""
    signals: list[Signal] = []
    for school in school_patrols(conn):
        zone = ZoneInfo(school.timezone)
        ids = [c.id for c in school.checkpoints]
        names = {c.id: c.name for c in school.checkpoints}
        today = now.astimezone(zone).date()
        rounds = [r for day in (today - dt.timedelta(days=1), today)
                  for r in rounds_of_day(school.school_id, school.plan, zone, day, ids)
                  if now - lookback < r.deadline <= now]
        if not rounds:
            continue
        scans = counted_scans(conn, school.school_id, rounds[0].start, rounds[-1].start + dt.timedelta(seconds=1))
        for round_ in rounds:
            state = report(round_, scans.get(round_.start, {}), now)
            if missed_at_deadline(state, now):
                signals.append(missed_signal(state, names))
    return tuple(signals)
