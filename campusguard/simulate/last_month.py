"""Last month's history for a loaded site, written straight into the store, so the demo's scorecard has a month.

The demo runs the city in real time from now, so without this last month would be empty and the scorecard and
the monthly bulletin (月度通报) would judge nothing. :func:`generate` writes, for the month before ``now`` in the
bureau's timezone, what the stages would have written had they run it:

* patrol scans of the rounds each school's plan asks for (counted, a guard of the school scanning each
  checkpoint a few minutes apart), most rounds walked, some missed;
* a drill of the school's one-button alarms (a ``drills`` row, as ``campusguard drill`` leaves);
* real and false panic alarms with their timelines (raised, acknowledged, resolved), quick at most schools;
* devices' outages as ``offline``/``online`` device events, for the bulletin's uptime column and the cameras
  and alarms criteria (judged on the month's history: a device down longer than
  :data:`~domain.compliance.ONLINE_SHARE` allows is not online for the month), and a liveness row for each
  camera and button nobody has heard yet: heard since before the month, silent since its end (which is true of
  the demo's simulated devices; the live stages mark those they hear online again). No device is marked online
  here: the sweep would then flip it offline and raise an alarm for every camera a minute later.

Schools differ by a profile drawn from the seed (:data:`PROFILES`): most keep the rules, a few keep them patchily,
and about one in ten is weak (rounds mostly missed, no drill, alarms answered late or never, most devices down
for days, so key areas unwatched for the month): those need rectification (整改). The same seed and month give
the same rows. Rows go in by ``COPY``, one audit record says what was written; a month that already has patrol
scans is left alone, so a second demo start adds nothing.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from zoneinfo import ZoneInfo

import psycopg

from alerts.patrols import rounds_of_day
from command_ui import bulletin_archive
from command_ui.bulletin_archive import bounds, month_of, shifted
from domain.audit import AuditRecord
from store import audit_repo, compliance_repo, history_repo, patrol_repo
from store.db import connect
from store.history_repo import PastAlarm, WatchedDevice
from store.migrate import Flavor, current_flavor
from store.partitions import ensure_partitions
from vision.config import VideoSettings

Profile = Literal["good", "patchy", "weak"]
ACTOR = "simulator"
"""Who the audit trail says wrote the month."""
WEAK_SHARE = 0.1
PATCHY_SHARE = 0.2


@dataclass(frozen=True, slots=True)
class Habits:
    """How a school of one profile behaves over a month."""

    walked: float
    """Share of planned patrol rounds walked."""
    drilled: bool
    ack_s: tuple[float, float]
    """Seconds to acknowledge an alarm, drawn uniformly from this span."""
    unanswered: float
    """Chance an alarm is not answered (resolved only hours later, never acknowledged in time)."""
    outage_h: tuple[float, float]
    """Hours a device that goes down stays down: under the day and a half a month allows a device counted online
    (``domain.compliance.ONLINE_SHARE``) but at a weak school, where it is two days or more."""


PROFILES: dict[Profile, Habits] = {
    "good": Habits(walked=0.995, drilled=True, ack_s=(15.0, 80.0), unanswered=0.0, outage_h=(0.5, 4.0)),
    "patchy": Habits(walked=0.85, drilled=True, ack_s=(40.0, 150.0), unanswered=0.0, outage_h=(6.0, 30.0)),
    "weak": Habits(walked=0.35, drilled=False, ack_s=(180.0, 900.0), unanswered=0.5, outage_h=(48.0, 200.0)),
}


@dataclass(frozen=True, slots=True)
class Written:
    """What :func:`generate` wrote: the month, each school's profile, and counts of rows per table."""

    month: str
    profiles: dict[str, Profile]
    rows: dict[str, int]


def profiles(school_ids: Sequence[str], seed: int) -> dict[str, Profile]:
    """Give each school its profile: about a tenth weak (at least one), a fifth patchy, the rest good."""
    ordered = sorted(school_ids)
    rng = random.Random(f"profiles-{seed}")  # noqa: S311 - a demo's history, not secrets
    shuffled = rng.sample(ordered, len(ordered))
    weak = max(1, round(len(ordered) * WEAK_SHARE)) if len(ordered) > 1 else 0
    patchy = round(len(ordered) * PATCHY_SHARE)
    out: dict[str, Profile] = {}
    for index, school in enumerate(shuffled):
        out[school] = "weak" if index < weak else "patchy" if index < weak + patchy else "good"
    return out


def _scans(conn: psycopg.Connection, kinds: dict[str, Profile], start: dt.datetime, end: dt.datetime,
           seed: int) -> Iterator[tuple[Any, ...]]:
    for school in patrol_repo.school_patrols(conn):
        guard = patrol_repo.first_guard(conn, school.school_id)
        if guard is None or school.school_id not in kinds:
            continue
        habits = PROFILES[kinds[school.school_id]]
        rng = random.Random(f"scans-{seed}-{school.school_id}")  # noqa: S311
        zone, places = ZoneInfo(school.timezone), {c.id: c for c in school.checkpoints}
        day, last = start.astimezone(zone).date() - dt.timedelta(days=1), end.astimezone(zone).date()
        while day <= last:
            for round_ in rounds_of_day(school.school_id, school.plan, zone, day, list(places)):
                if not start <= round_.start < end or rng.random() >= habits.walked:
                    continue
                at = round_.start + dt.timedelta(minutes=rng.randint(3, 10))
                for point in (places[p] for p in round_.checkpoints if p in places):
                    yield (point.id, school.school_id, guard, round_.start, at, at, point.lon, point.lat,
                           5.0 if point.lon is not None else None, True, "counted")
                    at += dt.timedelta(minutes=rng.randint(2, 6))
            day += dt.timedelta(days=1)


def _alarms(conn: psycopg.Connection, kinds: dict[str, Profile], devices: Sequence[WatchedDevice],
            start: dt.datetime, end: dt.datetime, seed: int) -> tuple[int, int]:
    """Insert one to three panic alarms a school, real or false, with their timelines; returns (alarms, events)."""
    buttons: dict[str, list[WatchedDevice]] = {}
    for device in devices:
        if device.kind == "panic_button":
            buttons.setdefault(device.school_id, []).append(device)
    alarms = events = 0
    span = (end - start).total_seconds()
    for school_id in sorted(set(kinds) & set(buttons)):
        habits, rng = PROFILES[kinds[school_id]], random.Random(f"alarms-{seed}-{school_id}")  # noqa: S311
        actor = patrol_repo.first_guard(conn, school_id) or ACTOR
        for _ in range(rng.randint(1, 3)):
            button = rng.choice(buttons[school_id])
            opened = start + dt.timedelta(seconds=rng.uniform(0.02, 0.95) * span)
            real = rng.random() < 0.4  # most presses are a child's curiosity or a bumped button
            acked = None if rng.random() < habits.unanswered else opened + dt.timedelta(
                seconds=rng.uniform(*habits.ack_s))
            # Nobody answered: the school's admin closed it hours later, after escalation. Never left open: the
            # alerts stage would escalate a month-old alarm to today's officers as if it had just been pressed.
            resolved = (acked + dt.timedelta(minutes=rng.uniform(5, 40)) if acked is not None
                        else opened + dt.timedelta(hours=rng.uniform(2, 8)))
            outcome = "real" if real else "false_alarm"
            events += history_repo.add_alarm(conn, PastAlarm(school_id, button.id, button.name, opened, acked,
                                                              resolved, outcome, actor))
            alarms += 1
    return alarms, events


def _drills(kinds: dict[str, Profile], devices: Sequence[WatchedDevice], start: dt.datetime,
            seed: int) -> list[tuple[Any, ...]]:
    """One drill in the month at each school that drills, of its first one-button alarm, as `campusguard drill`."""
    first_button: dict[str, str] = {}
    for device in reversed(devices):
        if device.kind == "panic_button":
            first_button[device.school_id] = device.id
    return [(school, first_button[school],
             start + dt.timedelta(days=random.Random(f"drill-{seed}-{school}").uniform(3, 25)), True)  # noqa: S311
            for school in sorted(kinds) if PROFILES[kinds[school]].drilled and school in first_button]


def _outages(kinds: dict[str, Profile], devices: Sequence[WatchedDevice], start: dt.datetime,
             end: dt.datetime, seed: int) -> Iterator[tuple[Any, ...]]:
    """Device events: heard since before the month (where never heard), outages within it, silent from its end."""
    span = (end - start).total_seconds()
    for device in devices:
        if device.school_id not in kinds:
            continue
        profile = kinds[device.school_id]
        rng = random.Random(f"uptime-{seed}-{device.id}")  # noqa: S311
        if not device.heard:
            yield (device.id, start - dt.timedelta(days=1), "online", start - dt.timedelta(days=1))
        if rng.random() < (0.8 if profile == "weak" else 0.25):
            down = start + dt.timedelta(seconds=rng.uniform(0.05, 0.85) * span)
            up = min(down + dt.timedelta(hours=rng.uniform(*PROFILES[profile].outage_h)), end - dt.timedelta(minutes=1))
            yield (device.id, down, "offline", down)
            yield (device.id, up, "online", up)
        if not device.heard:
            yield (device.id, end, "offline", end)


def generate(conn: psycopg.Connection, now: dt.datetime, seed: int = 7) -> Written | None:
    """Write last month's history of every school of the loaded site; None where that month has some already."""
    zone = ZoneInfo(compliance_repo.scope_zone(conn, "/") or "UTC")
    month = shifted(month_of(now, zone), -1)
    start, end = bounds(month, zone)
    if history_repo.has_patrol_scans(conn, start, end):
        return None
    schools = history_repo.active_schools(conn)
    kinds = profiles(schools, seed)
    with conn.transaction():
        if current_flavor(conn) is Flavor.PLAIN:  # TimescaleDB makes its chunks itself
            for table in ("incident_events", "device_events"):
                ensure_partitions(conn, table, start - dt.timedelta(days=2), end + dt.timedelta(days=2))
        devices = history_repo.watched_devices(conn)
        rows = {"patrol_scans": history_repo.copy_rows(conn, "patrol_scans", (
            "checkpoint_id", "school_id", "user_id", "round_start", "scanned_at", "device_time", "lon", "lat",
            "accuracy_m", "counted", "reason"), _scans(conn, kinds, start, end, seed))}
        drills = _drills(kinds, devices, start, seed)
        rows["drills"] = history_repo.copy_rows(conn, "drills", ("school_id", "device_id", "started_at", "ok"),
                                                drills)
        rows["incidents"], rows["incident_events"] = _alarms(conn, kinds, devices, start, end, seed)
        rows["device_events"] = history_repo.copy_rows(conn, "device_events", ("device_id", "time", "kind",
                                                                                "received_at"),
                                                       _outages(kinds, devices, start, end, seed))
        # Heard since before the month, silent since its end: offline now, so the sweep has nothing to flip.
        quiet = [(d.id, end - dt.timedelta(minutes=1), False, start - dt.timedelta(days=1)) for d in devices
                 if not d.heard and d.school_id in kinds]
        rows["device_liveness"] = history_repo.copy_rows(conn, "device_liveness", (
            "device_id", "last_seen", "online", "first_seen"), quiet)
        audit_repo.append(conn, AuditRecord(now, ACTOR, "demo.history", None, {
            "month": month, "seed": seed, "rows": rows,
            "weak": sorted(s for s, p in kinds.items() if p == "weak")}))
    return Written(month, kinds, rows)


def demo_month(database_url: str, video: VideoSettings, now: dt.datetime, seed: int = 7) -> tuple[str, int]:
    """Write last month for the demo (unless it has history) and archive its bulletins as the 1st's job would.

    Returns the month and how many bulletin documents were archived (none where the demo ran this month before).
    """
    with connect(database_url, autocommit=True) as conn:
        written = generate(conn, now, seed)
        month = written.month if written else shifted(
            month_of(now, ZoneInfo(compliance_repo.scope_zone(conn, "/") or "UTC")), -1)
        return month, len(bulletin_archive.scheduled_pass(conn, video, now))
