"""The site's JT/T 808 terminals and GT06 trackers as one fleet the runner hands reports to.

Which devices speak over TCP is read from the site file (a tracker's ``source``: ``jt808`` or ``gt06``), so any
site works: the example district's, or a city whose every bus carries a JT/T 808 terminal. The first JT/T 808
terminal and the first GT06 tracker (by id) drive through a tunnel now and then (:class:`Tunnel`), so the demo
shows a blind-area backfill; a GT06 tracker's clock runs at the offset its site record gives.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

from campusguard.simulate.flash import Flash
from campusguard.simulate.model import DeviceRef, SimReport
from campusguard.simulate.terminals import Gt06Tracker, Jt808Terminal, TerminalThread, Tunnel
from domain.site import Site


class TrackerFleet:
    """Every JT/T 808 and GT06 device of the site, each on its own connection; the runner hands it reports."""

    SOURCES = frozenset({"jt808", "gt06"})

    def __init__(self, terminals: list[TerminalThread]) -> None:
        """Start every terminal's thread."""
        self.terminals = {t.device.id: t for t in terminals}
        for terminal in terminals:
            terminal.start()

    def submit(self, report: SimReport) -> bool:
        """Queue a report for its terminal; False when the device is not one of ours."""
        terminal = self.terminals.get(report.device.id)
        if terminal is None:
            return False
        terminal.inbox.put(report)
        return True

    def counts(self) -> Counter[str]:
        """Sum what the terminals did, by protocol and kind (``jt808 reports``, ``gt06 backfilled``...)."""
        total: Counter[str] = Counter()
        for terminal in self.terminals.values():
            for kind, n in terminal.counts.items():
                total[f"{terminal.device.source} {kind}"] += n
        return total

    def close(self, wait_s: float = 30.0) -> None:
        """Let each terminal send what it holds (bounded), log out and disconnect."""
        for terminal in self.terminals.values():
            terminal.inbox.put(None)
        deadline = time.monotonic() + wait_s
        for terminal in self.terminals.values():
            terminal.join(max(0.0, deadline - time.monotonic()))


def tracker_fleet(site: Site, jt808: tuple[str, int] | None, gt06: tuple[str, int] | None,
                  buses: frozenset[str] | None = None, tunnel: Tunnel | None = None,
                  codes: Path | None = None) -> TrackerFleet:
    """Build (and start) a terminal for every bus tracker of a TCP protocol whose listener address is given.

    ``codes`` is where the JT/T 808 terminals keep their authentication codes between runs (:mod:`flash`).
    """
    flash = Flash(codes)
    terminals: list[TerminalThread] = []
    tunnelled: set[str] = set()
    found = sorted(((tracker, bus.plate or bus.id, school.id)
                    for entry in site.iter_schools() for school in (entry.school,) for bus in school.buses
                    if buses is None or bus.id in buses for tracker in bus.trackers
                    if tracker.source in TrackerFleet.SOURCES), key=lambda found: found[0].id)
    for tracker, plate, school_id in found:
        device = DeviceRef(tracker.id, school_id, tracker.source, tracker.external_id)
        # One tunnel per protocol keeps the demo's backfill visible without every bus going blind.
        through = tunnel if tunnel is not None and tracker.source not in tunnelled else None
        if tracker.source == "jt808" and jt808 is not None:
            terminals.append(Jt808Terminal(device, jt808, plate, through, flash))
        elif tracker.source == "gt06" and gt06 is not None:
            terminals.append(Gt06Tracker(device, gt06, timedelta(minutes=tracker.clock_offset_min), through))
        else:
            continue
        if through is not None:
            tunnelled.add(tracker.source)
    return TrackerFleet(terminals)
