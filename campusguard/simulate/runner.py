"""The real-time loop: plan, clock and transports together, with progress on the way in.

Each tick (a fifth of a second) it reads the wall clock, moves the simulation clock (see ``clock.py``),
sends every report whose device time fell in the tick, and presses the panics that are due. Progress lines
(loading the site, connecting, the clock, the first fixes, then a status line every 10 s) go to the
``progress`` callback, stderr from the command line.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from campusguard.simulate.clock import SimClock
from campusguard.simulate.district import DistrictPlan
from campusguard.simulate.model import Role, SimFix, SimPress
from campusguard.simulate.panics import panic_schedule
from campusguard.simulate.protocols import encode
from campusguard.simulate.transport import Transports
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


@dataclass(frozen=True, slots=True)
class RunSummary:
    """What a run did."""

    started: dt.datetime
    ended: dt.datetime
    roles: dict[str, Role]
    reports: dict[str, int]
    sent: dict[str, int]


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
    start = options.start or plan.run_start(wall0)
    if not wall0 - MAX_BEHIND <= start <= wall0:
        raise ValueError(f"start {start.isoformat()} must lie within the last {MAX_BEHIND} (ingest's age limit)")
    progress(f"connecting to MQTT {options.mqtt_url}; OsmAnd over HTTP to {options.http_url}")
    transports = Transports(options.mqtt_url, options.http_url)
    if not transports.mqtt.wait_connected(CONNECT_TIMEOUT_S):
        progress(f"  no MQTT connection after {CONNECT_TIMEOUT_S:.0f} s; still trying (paho reconnects)")
    else:
        progress("  connected")
    clock = SimClock(start, _utc_now(), options.speedup)
    progress(f"clock starts at {start.isoformat(timespec='seconds')}, {clock.behind(_utc_now())} behind real "
             f"time, at {options.speedup:g}x")
    presses = panic_schedule(site, options.seed, options.panic_every_s) if options.panics else iter(())
    press = next(presses, None)
    counts: Counter[str] = Counter()
    last = start - dt.timedelta(microseconds=1)
    wall_start, next_status, first = time.monotonic(), time.monotonic() + STATUS_EVERY_S, True
    try:
        while not stop.is_set():
            wall = _utc_now()
            sim = clock.at(wall)
            if options.until is not None:
                sim = min(sim, options.until)
            upcoming = plan.next_activity(last)
            if upcoming is None or upcoming > sim:
                # Idle: every bus parked, nothing due before ``upcoming``; skip there (or to real time).
                target = min(upcoming or wall, wall, options.until or wall)
                if target - sim > dt.timedelta(minutes=5):
                    progress(f"nothing scheduled until {target.isoformat(timespec='seconds')}: skipping ahead")
                    clock = clock.jumped(target, wall)
                    last = sim = target
            for report in plan.reports_between(last, sim):
                if stop.is_set():  # a long catch-up tick must not outlive Ctrl-C
                    break
                counts["fix" if isinstance(report, SimFix) else "press"] += 1
                for item in encode(report):
                    transports.send(item)
            last = sim
            while press is not None and time.monotonic() - wall_start >= press.after_s:
                counts["panic"] += 1
                progress(f"panic: {press.device.id} ({press.action})")
                for item in encode(SimPress(press.device, _utc_now(), press.action)):
                    transports.send(item)
                press = next(presses, None)
            if first and counts["fix"]:
                first = False
                progress(f"first fixes sent ({counts['fix']}); running")
            if time.monotonic() >= next_status:
                next_status += STATUS_EVERY_S
                progress(f"sim {sim.isoformat(timespec='seconds')} ({clock.behind(wall)} behind): "
                         + ", ".join(f"{k} {v}" for k, v in sorted(transports.sent.items()))
                         + f"; awaiting broker acks: {transports.mqtt.pending()}")
            if options.until is not None and sim >= options.until:
                break
            if options.duration_s is not None and time.monotonic() - wall_start >= options.duration_s:
                break
            stop.wait(options.tick_s)
    finally:
        transports.close()
    return RunSummary(start, last, dict(plan.roles), dict(counts), dict(transports.sent))
