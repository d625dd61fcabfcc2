"""The real-time loop: plan, clock and transports together, with progress on the way in.

Each tick (a fifth of a second) it reads the wall clock, moves the simulation clock (see ``clock.py``),
sends every report whose device time fell in the tick, and presses the panics that are due. Progress lines
(loading the site, connecting, the clock, the first fixes, then a status line every 10 s) go to the
``progress`` callback, stderr from the command line.

With ``repeat`` (what ``make demo`` runs) there is one clock: the district runs at real time, each service
day laid around its start (``cycles.py``), written to ``site_out`` for the stages and handed to ``on_cycle``
(the command line loads it into the database), one day after another until stopped. ``imperfections`` puts
the faults of real devices between the plan and the transports (``imperfect.py``); the run's ground truth
(``truth.py``: the situations of every day it drove, and each panic pressed) comes back in the summary.
"""

from __future__ import annotations

import datetime as dt
import heapq
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from campusguard.simulate.clock import SimClock
from campusguard.simulate.cycles import Cycle, lay_cycle, leads, write_site
from campusguard.simulate.district import DistrictPlan
from campusguard.simulate.imperfect import Delivery, Imperfections
from campusguard.simulate.model import Role, SimFix, SimPress, SimReport
from campusguard.simulate.panics import panic_schedule, tracker_sos_buttons
from campusguard.simulate.protocols import encode
from campusguard.simulate.reports import backlog
from campusguard.simulate.tcp_fleet import TrackerFleet, tracker_fleet
from campusguard.simulate.terminals import Tunnel
from campusguard.simulate.transport import Transports
from campusguard.simulate.truth import Truth, panic_truth, plan_truth
from domain.site import load_site

MAX_BEHIND = dt.timedelta(days=7) - dt.timedelta(hours=1)
"""Ingest refuses device times over 7 days old; keep an hour's margin for the run itself."""
STATUS_EVERY_S = 10.0
CONNECT_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class SimOptions:
    """How to run a simulation; ``start``/``until`` are simulated times, ``duration_s`` wall-clock seconds."""

    site_file: Path
    mqtt_url: str
    http_url: str
    speedup: float = 1.0
    seed: int = 1
    start: dt.datetime | None = None
    until: dt.datetime | None = None
    duration_s: float | None = None
    scenario: bool = True
    panics: bool = True
    panic_every_s: float = 300.0
    buses: frozenset[str] | None = None
    guards: bool = True
    tick_s: float = 0.2
    repeat: bool = False
    """Real time, service days laid around the start and repeated (``start`` is then the first day's start)."""
    site_out: Path | None = None
    """With ``repeat``: where each day's timetable is written for the stages to read."""
    on_cycle: Callable[[Cycle], None] | None = None
    """With ``repeat``: called with each day as it is laid (after ``site_out`` is written)."""
    imperfections: Imperfections = field(default_factory=Imperfections)
    jt808_address: tuple[str, int] | None = None
    """Where ingest's JT/T 808 listener is: the site's jt808 trackers connect there (none: they stay silent)."""
    gt06_address: tuple[str, int] | None = None
    """Where ingest's GT06 listener is."""
    tunnel: Tunnel | None = field(default_factory=Tunnel)
    """The blind area one JT/T 808 and one GT06 bus drive through now and then (none: no tunnel)."""
    sos_every_s: float = 900.0
    """Mean wall-clock seconds between emergency-button presses on the TCP trackers."""
    terminal_codes: Path | None = None
    """Where the JT/T 808 terminals keep their codes between runs (none: in memory, for this run only)."""


@dataclass(frozen=True, slots=True)
class RunSummary:
    """What a run did."""

    started: dt.datetime
    ended: dt.datetime
    roles: dict[str, Role]
    reports: dict[str, int]
    sent: dict[str, int]
    truth: tuple[Truth, ...] = ()
    """What really happened, in true time: each day's situations begun by ``ended``, and each panic pressed."""


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def run_simulation(options: SimOptions, progress: Callable[[str], None], stop: threading.Event | None = None,
                   ) -> RunSummary:
    """Run until ``until`` (simulated), ``duration_s`` (wall) or ``stop`` is set, whichever comes first."""
    stop = stop or threading.Event()
    began = time.monotonic()
    progress(f"loading the site {options.site_file} ...")
    site = load_site(options.site_file)
    plan = DistrictPlan(site, options.seed, options.scenario, options.buses, options.guards)
    scripted = {bus: role for bus, role in plan.roles.items() if role is not Role.NORMAL}
    progress(f"  {len(plan.entries)} buses simulated ({time.monotonic() - began:.1f} s); roles: "
             + (", ".join(f"{role.value} {bus}" for bus, role in sorted(scripted.items())) or "none"))
    wall0 = _utc_now()
    days = _Days(options, plan) if options.repeat else None
    start = options.start or (wall0 if days is not None else plan.run_start(wall0))
    if not wall0 - MAX_BEHIND <= start <= wall0 + dt.timedelta(seconds=5):
        raise ValueError(f"start {start.isoformat()} must lie within the last {MAX_BEHIND} (ingest's age limit)")
    start = min(start, wall0)
    if days is not None:
        plan = days.begin(start, progress).plan
    progress(f"connecting to MQTT {options.mqtt_url}; OsmAnd over HTTP to {options.http_url}")
    transports = Transports(options.mqtt_url, options.http_url)
    fleet = tracker_fleet(site, options.jt808_address, options.gt06_address, options.buses, options.tunnel,
                          options.terminal_codes)
    if fleet.terminals:
        progress(f"  {len(fleet.terminals)} JT/T 808 and GT06 terminals over TCP (JT/T 808 at "
                 f"{options.jt808_address}, GT06 at {options.gt06_address})")
    if not transports.mqtt.wait_connected(CONNECT_TIMEOUT_S):
        progress(f"  no MQTT connection after {CONNECT_TIMEOUT_S:.0f} s; still trying (paho reconnects)")
    else:
        progress("  connected")
    speedup = 1.0 if days is not None else options.speedup  # one clock: a repeated day runs at real time
    clock = SimClock(start, _utc_now(), speedup)
    progress(f"clock starts at {start.isoformat(timespec='seconds')}, {clock.behind(_utc_now())} behind real "
             f"time, at {speedup:g}x")
    presses = heapq.merge(
        panic_schedule(site, options.seed, options.panic_every_s),
        panic_schedule(site, options.seed, options.sos_every_s, tracker_sos_buttons(site, _tcp_devices(fleet))),
        key=lambda planned: planned.after_s) if options.panics else iter(())
    press = next(presses, None)
    pressed: list[tuple[str, str, dt.datetime, str]] = []
    delivery = Delivery(options.imperfections)
    counts: Counter[str] = Counter()
    last = start - dt.timedelta(microseconds=1)
    wall_start, next_status, first = time.monotonic(), time.monotonic() + STATUS_EVERY_S, True

    def send(reports: list[SimReport], now: dt.datetime) -> None:
        for report in delivery.due(now, reports) if options.imperfections.any else reports:
            if stop.is_set():  # a long catch-up tick must not outlive Ctrl-C
                break
            counts["fix" if isinstance(report, SimFix) else "press"] += 1
            if fleet.submit(report):
                continue
            for item in encode(report):
                transports.send(item)

    try:
        while not stop.is_set():
            wall = _utc_now()
            sim = clock.at(wall)
            if options.until is not None:
                sim = min(sim, options.until)
            if days is not None:
                day, recovered = days.advance(sim, progress)
                plan = day.plan
                send(recovered, sim)
            else:
                upcoming = plan.next_activity(last)
                if upcoming is None or upcoming > sim:
                    # Idle: every bus parked, nothing due before ``upcoming``; skip there (or to real time).
                    target = min(upcoming or wall, wall, options.until or wall)
                    if target - sim > dt.timedelta(minutes=5):
                        progress(f"nothing scheduled until {target.isoformat(timespec='seconds')}: skipping ahead")
                        clock = clock.jumped(target, wall)
                        last = sim = target
            send(plan.reports_between(last, sim), sim)
            last = sim
            while press is not None and time.monotonic() - wall_start >= press.after_s:
                counts["panic"] += 1
                progress(f"panic: {press.device.id} ({press.action})")
                at = _utc_now()
                pressed.append((press.device.id, press.device.school_id, at, press.action))
                if fleet.submit(SimPress(press.device, at, press.action)):
                    continue
                for item in encode(SimPress(press.device, at, press.action)):
                    transports.send(item)
                press = next(presses, None)
            if first and counts["fix"]:
                first = False
                progress(f"first fixes sent ({counts['fix']}); running")
            if time.monotonic() >= next_status:
                next_status += STATUS_EVERY_S
                progress(f"sim {sim.isoformat(timespec='seconds')} ({clock.behind(wall)} behind): "
                         + ", ".join(f"{k} {v}" for k, v in sorted((transports.sent + fleet.counts()).items()))
                         + f"; awaiting broker acks: {transports.mqtt.pending()}"
                         + (f"; held by the devices: {delivery.pending()}" if options.imperfections.any else ""))
            if options.until is not None and sim >= options.until:
                break
            if options.duration_s is not None and time.monotonic() - wall_start >= options.duration_s:
                break
            stop.wait(options.tick_s)
        send([], last + dt.timedelta(days=1))  # what the devices still hold goes out: links come back
    finally:
        transports.close()
        fleet.close()
    truth = [t for t in (days.truth() if days is not None else plan_truth(plan, start)) if t.start <= last]
    return RunSummary(start, last, dict(plan.roles), dict(counts), dict(transports.sent + fleet.counts()),
                      tuple(sorted([*truth, *panic_truth(pressed)], key=lambda t: t.start)))


def _tcp_devices(fleet: TrackerFleet) -> frozenset[str]:
    # Only trackers the fleet drives (a listener address given, the bus simulated) press their button.
    return frozenset(fleet.terminals)


class _Days:
    """The repeated service days of a ``repeat`` run: the one being driven and the next, laid in time."""

    def __init__(self, options: SimOptions, plan: DistrictPlan) -> None:
        self.options = options
        self.original = yaml.safe_load(options.site_file.read_text(encoding="utf-8"))
        self.leads = leads(plan)
        self.done: list[Cycle] = []
        self.current: Cycle | None = None
        self.next: Cycle | None = None

    def _lay(self, start: dt.datetime, index: int, progress: Callable[[str], None]) -> Cycle:
        o = self.options
        cycle = lay_cycle(self.original, self.leads, start, index, seed=o.seed, scenario=o.scenario, buses=o.buses,
                          guards=o.guards)
        if o.site_out is not None:
            write_site(cycle.document, o.site_out)
        if o.on_cycle is not None:
            o.on_cycle(cycle)
        progress(f"service day {index + 1}: buses leave from {start.isoformat(timespec='seconds')}, all back by "
                 f"{cycle.back.isoformat(timespec='seconds')}; the next day starts "
                 f"{cycle.end.isoformat(timespec='seconds')}")
        return cycle

    def begin(self, start: dt.datetime, progress: Callable[[str], None]) -> Cycle:
        self.current = self._lay(start, 0, progress)
        return self.current

    def advance(self, sim: dt.datetime, progress: Callable[[str], None]) -> tuple[Cycle, list[SimReport]]:
        """Return the day being driven at ``sim``, and what a silent tracker uploads as the next day begins."""
        current = self.current
        assert current is not None  # begin() came first
        recovered: list[SimReport] = []
        if self.next is None and sim >= current.back:
            # Every bus is off its route: the next timetable can reach the stages before anyone drives it.
            self.next = self._lay(current.end, current.index + 1, progress)
        if self.next is not None and sim >= current.end:
            self.done.append(current)
            for entry in current.plan.entries:
                recovered += backlog(current.plan, entry, current.start.astimezone(entry.school.zone()).date())
            if recovered:
                progress(f"a silent tracker is heard again: it uploads the {len(recovered)} reports it kept")
            current, self.next = self.next, None
            self.current = current
        return current, recovered

    def truth(self) -> list[Truth]:
        days = [*self.done, *([self.current] if self.current is not None else [])]
        return [t for day in days for t in plan_truth(day.plan, day.start + dt.timedelta(minutes=30))
                if t.start >= day.start]
