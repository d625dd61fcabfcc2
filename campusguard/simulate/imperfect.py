"""The imperfections of real devices, switchable, between the plan and the transports.

A real fleet does not deliver what the plan says the way the plan says it. :class:`Imperfections` names what
goes wrong, each switched off by default; :class:`Delivery` applies them to the reports due in a tick and
returns what the devices actually send then:

- **multipath**: a share of fixes lands up to ``multipath_m`` away from the truth (a street canyon), with
  the reported accuracy none the wiser;
- **dropouts**: a tracker loses its uplink for ``dropout_s`` now and then; it keeps its fixes and uploads
  the backlog, oldest first, when the link is back (what fleet trackers and Traccar Client do);
- **reordering** and **duplicates**: a share of messages is held back a few seconds (overtaken by newer ones),
  a share is sent twice (a QoS 1 retry after a lost PUBACK);
- **clock skew**: chosen trackers stamp their fixes with a clock ``skew`` off (the truth stays true time);
- the broker restart is not a report's fate but the broker's: ``bench/alert_quality.py`` restarts it.

Pure and deterministic for a seed: a device's fate at a device time comes from an RNG seeded by (seed,
device, time), never from shared state, so the same run delivers the same way whatever the tick length.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from campusguard.simulate.model import SimFix, SimReport

_M_PER_DEG_LAT = 111_320.0


@dataclass(frozen=True, slots=True)
class Imperfections:
    """What goes wrong between a device and the broker; the defaults change nothing."""

    multipath_p: float = 0.0
    """Share of fixes thrown off by multipath."""
    multipath_m: float = 30.0
    """Furthest a multipath fix lands from the truth."""
    dropout_every_s: float = 0.0
    """Mean seconds between a tracker's uplink dropouts (0: none)."""
    dropout_s: float = 90.0
    """How long a dropout lasts; shorter than ingest's 180 s offline threshold, so it is no real outage."""
    reorder_p: float = 0.0
    """Share of messages held back ``reorder_s`` (newer ones overtake them)."""
    reorder_s: float = 4.0
    duplicate_p: float = 0.0
    """Share of messages sent twice."""
    skew: Mapping[str, dt.timedelta] = field(default_factory=dict)
    """Device id → how far its clock is off (positive: ahead)."""
    seed: int = 1

    @property
    def any(self) -> bool:
        """Whether anything is switched on."""
        return bool(self.multipath_p or self.dropout_every_s or self.reorder_p or self.duplicate_p or self.skew)


REAL_DEVICES = Imperfections(multipath_p=0.02, dropout_every_s=900.0, reorder_p=0.02, duplicate_p=0.02)
"""The bench's fleet: 2 % multipath, a 90 s dropout per tracker every quarter hour or so, 2 % reordered, 2 %
sent twice (the clock skew names its tracker, so it is set by whoever picks one)."""


def _rng(seed: int, device: str, when: dt.datetime, salt: str) -> random.Random:
    return random.Random(f"{seed}/{salt}/{device}/{when.timestamp():.3f}")  # noqa: S311 - a simulation


def in_dropout(imperfections: Imperfections, device: str, when: dt.datetime) -> dt.datetime | None:
    """Return when the dropout holding ``when`` for ``device`` ends, or None when its link is up.

    Dropouts sit on a per-device grid of ``dropout_every_s`` (shifted by a phase from the id), one in each
    slot at a seeded place: pure in (device, time).
    """
    every = imperfections.dropout_every_s
    if every <= 0:
        return None
    phase = (zlib.crc32(device.encode()) % 1000) / 1000.0 * every
    slot = math.floor((when.timestamp() - phase) / every)
    rng = random.Random(f"{imperfections.seed}/dropout/{device}/{slot}")  # noqa: S311 - a simulation
    begins = slot * every + phase + rng.uniform(0.0, max(every - imperfections.dropout_s, 0.0))
    ends = begins + imperfections.dropout_s
    stamp = when.timestamp()
    return dt.datetime.fromtimestamp(ends, dt.UTC) if begins <= stamp < ends else None


def distort(imperfections: Imperfections, report: SimReport) -> SimReport:
    """Return the report as the device states it: its clock's skew, and multipath for a fix."""
    skew = imperfections.skew.get(report.device.id)
    if skew:
        report = replace(report, time=report.time + skew)
    if isinstance(report, SimFix) and imperfections.multipath_p > 0:
        rng = _rng(imperfections.seed, report.device.id, report.time, "multipath")
        if rng.random() < imperfections.multipath_p:
            angle, far = rng.uniform(0.0, 2 * math.pi), rng.uniform(0.3, 1.0) * imperfections.multipath_m
            dlat = far * math.sin(angle) / _M_PER_DEG_LAT
            dlon = far * math.cos(angle) / (_M_PER_DEG_LAT * math.cos(math.radians(report.lat)))
            report = replace(report, lon=round(report.lon + dlon, 7), lat=round(report.lat + dlat, 7))
    return report


@dataclass
class Delivery:
    """Holds what devices cannot send yet; :meth:`due` says what goes out at a moment."""

    imperfections: Imperfections
    _held: list[tuple[dt.datetime, int, SimReport]] = field(default_factory=list)
    _count: int = 0
    sent_twice: int = 0
    held_back: int = 0

    def due(self, now: dt.datetime, reports: Iterable[SimReport]) -> list[SimReport]:
        """Take the reports whose (true) time fell in this tick; return what is sent at ``now``, in order.

        Anything a tracker says in a dropout (a fix, the driver's child-check press) waits for the link, in
        the tracker's buffer; a reordered message waits ``reorder_s``; a duplicate goes out now and again
        when due. (Panic buttons are pressed by the runner, outside this: their radio is not a tracker's.)
        """
        imp = self.imperfections
        out: list[SimReport] = []
        for report in reports:
            true_time = report.time
            stated = distort(imp, report)
            back = in_dropout(imp, report.device.id, true_time)
            if back is not None:
                self._hold(back, stated)
                continue
            rng = _rng(imp.seed, report.device.id, true_time, "delivery")
            if rng.random() < imp.reorder_p:
                self._hold(true_time + dt.timedelta(seconds=imp.reorder_s), stated)
                continue
            out.append(stated)
            if rng.random() < imp.duplicate_p:
                self.sent_twice += 1
                self._hold(true_time + dt.timedelta(seconds=rng.uniform(0.5, 3.0)), stated)
        ready = [h for h in self._held if h[0] <= now]
        if not ready:
            return out
        self._held = [h for h in self._held if h[0] > now]
        # A backlog goes out oldest first (by the device's own time), as a tracker's buffer does, and before
        # what the tracker says live once its link is back.
        return [*(r for _, _, r in sorted(ready, key=lambda h: (h[0], h[2].time, h[1]))), *out]

    def pending(self) -> int:
        """How many messages are waiting for a link or for their turn."""
        return len(self._held)

    def _hold(self, until: dt.datetime, report: SimReport) -> None:
        self._count += 1
        self.held_back += 1
        self._held.append((until, self._count, report))
