"""Which time it is for a device, when the rules must let time pass without a fix.

Rules that wait (a child check's deadline) are in device time: the deadline is the arrival fix's time plus the
allowance. When fixes stop, something must still move "now" on, and the wall clock cannot: a tracker uploading
a buffered backlog, a simulator catching up, or a device whose clock is minutes off all report fixes whose time
is far from the server's, and comparing a device-time deadline with the server's clock raises a miss the moment
the backlog is behind. So "now" for a subject is its newest fix's device time plus the server time elapsed
since that fix arrived: it advances at the wall clock's pace from where the device last was.

Both halves hold (tests/geo/test_clock.py states them over random delays, backlogs and skews): fixes arriving
late never make a deadline pass early, and when nothing more arrives a deadline passes no later than the
newest fix's own delivery delay after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

ZERO = timedelta(0)


@dataclass(frozen=True, slots=True)
class LastFix:
    """A subject's newest fix by device time, and when the server received it."""

    time: datetime
    received_at: datetime


def newer(known: LastFix | None, time: datetime, received_at: datetime) -> LastFix:
    """Keep the newer of what is known and a fix just seen (by device time; a tie keeps the earlier arrival)."""
    if known is None or time > known.time:
        return LastFix(time, received_at)
    return known


def device_now(last: LastFix, server_now: datetime) -> datetime:
    """Estimate the device's clock at ``server_now``: its newest fix's time plus the server time since it came."""
    return last.time + max(ZERO, server_now - last.received_at)
