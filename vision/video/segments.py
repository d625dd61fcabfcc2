"""Pure rules of recorded video: reading ffmpeg's segment list, and what retention and the disk budget evict.

No I/O here: the recorder feeds lines in, the service feeds rows and ``now`` in, and acts on the answer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

EPOCH_FLOOR = 1e9
"""Segment list times below this are not wall clock (ffmpeg writes 0 as the first segment's start)."""


@dataclass(frozen=True, slots=True)
class ListedSegment:
    """A segment ffmpeg has closed, as its CSV segment list says: file name, start (None: unknown) and end."""

    name: str
    start_at: datetime | None
    end_at: datetime


class BadListLineError(ValueError):
    """A segment list line that is not ``name,start,end`` with wall-clock seconds."""


def parse_list_line(line: str) -> ListedSegment:
    """Parse one line of ffmpeg's CSV segment list (``-segment_list_type csv``) written with wall-clock times.

    The recorder reads input with ``-use_wallclock_as_timestamps 1 -copyts``, so times are UNIX seconds of
    arrival. ffmpeg gives the first segment of a run the start 0; that start is returned as None and the
    recorder takes it from the file's duration instead.
    """
    parts = line.strip().rsplit(",", 2)
    if len(parts) != 3 or not parts[0] or "/" in parts[0]:
        raise BadListLineError(f"not a segment list line: {line.strip()!r}")
    try:
        start, end = float(parts[1]), float(parts[2])
    except ValueError as exc:
        raise BadListLineError(f"segment times are not numbers: {line.strip()!r}") from exc
    if end < EPOCH_FLOOR:
        raise BadListLineError(f"segment end is not wall-clock time: {line.strip()!r}")
    start_at = datetime.fromtimestamp(start, UTC) if start >= EPOCH_FLOOR else None
    return ListedSegment(parts[0], start_at, datetime.fromtimestamp(end, UTC))


@dataclass(frozen=True, slots=True)
class Stored:
    """What the sweep needs of an indexed segment."""

    id: int
    camera_id: str
    start_at: datetime
    end_at: datetime
    bytes: int


@dataclass(frozen=True, slots=True)
class Sweep:
    """What one sweep evicts, and which cameras the disk cannot give their full retention."""

    expired: tuple[int, ...]
    """Segments past their camera's retention."""
    over_budget: tuple[int, ...]
    """Segments evicted, oldest first, because the budget could not hold them."""
    short: frozenset[str]
    """Cameras whose retention the budget cannot hold: one lost a segment still within retention, or the
    recording rate of all cameras times their retention exceeds the budget."""
    needed_bytes: int
    """Projected bytes to hold every camera's full retention at its present rate."""

    @property
    def evict(self) -> tuple[int, ...]:
        """Every segment to delete."""
        return self.expired + self.over_budget


def sweep(segments: Iterable[Stored], now: datetime, retention: Callable[[str], timedelta],
          budget_bytes: int) -> Sweep:
    """Apply retention, then the budget oldest first, and judge whether the budget holds every retention.

    Oldest first across all cameras (not per camera) because the oldest minute of any camera is the one least
    likely to be asked for; a camera's retention is a promise the alarm reports as broken rather than a
    reservation that would starve the others.
    """
    kept: list[Stored] = []
    expired: list[Stored] = []
    for s in segments:
        (expired if s.end_at < now - retention(s.camera_id) else kept).append(s)
    kept.sort(key=lambda s: (s.start_at, s.id))
    total = sum(s.bytes for s in kept)
    over: list[int] = []
    short: set[str] = set()
    for s in kept:
        if total <= budget_bytes:
            break
        over.append(s.id)
        total -= s.bytes
        short.add(s.camera_id)  # within retention (expired ones are gone), so its promise is broken
    needed = _needed_bytes(kept, retention)
    if needed > budget_bytes:
        short.update(s.camera_id for s in kept)
    return Sweep(tuple(s.id for s in expired), tuple(over), frozenset(short), needed)


def disk_budget(free: int, used: int, reclaimable: int, reserve: int) -> int:
    """Bytes segments may take on their disk: what they use and what is free, less the reserve kept free.

    ``reclaimable`` is what playback cuts hold: copies that are trimmed by age and size, so they count as free
    and a cut never makes the sweep evict a recording within its retention.
    """
    return max(0, free + used + reclaimable - reserve)


def _needed_bytes(kept: Iterable[Stored], retention: Callable[[str], timedelta]) -> int:
    """Bytes every camera needs for its full retention, at the rate its kept segments were recorded."""
    size: dict[str, int] = {}
    seconds: dict[str, float] = {}
    for s in kept:
        size[s.camera_id] = size.get(s.camera_id, 0) + s.bytes
        seconds[s.camera_id] = seconds.get(s.camera_id, 0.0) + (s.end_at - s.start_at).total_seconds()
    return int(sum(size[c] / seconds[c] * retention(c).total_seconds() for c in size if seconds[c] > 0))


def clip_window(finding_at: datetime, before_s: float, after_s: float) -> tuple[datetime, datetime]:
    """Return the window a clip should cover around a finding."""
    return finding_at - timedelta(seconds=before_s), finding_at + timedelta(seconds=after_s)
