"""Drains the spool into the database: route a batch, commit everything it produced, then forget it.

The order inside a commit puts what matters most first: panics, then positions and events, then the
bookkeeping (unregistered devices, liveness). Each write retries through database outages, so the loop simply
stalls while the database is down, the spool grows, and nothing is dropped; when the database returns the
backlog drains in full batches.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from domain.messages import DeadLetter, DeviceEvent
from ingest import metrics
from ingest.decoders import Limits
from ingest.directory import Directory
from ingest.panic import PanicDispatcher
from ingest.route import Routed, route_batch
from ingest.spool import Spool, Spooled
from store.db import connect, retrying
from store.ingest_repo import count_unregistered, notify_device_events, sweep_offline, touch_liveness
from store.writer import DEAD_LETTERS, DEVICE_EVENTS, POSITIONS, SENSOR_READINGS, TimeSeriesWriter

log = logging.getLogger(__name__)

# How often silent devices are looked for.
SWEEP_S = 15.0
# How long a writer lets a stream gather after a partial batch (at most ingest.flush_ms).
GATHER_S = 0.02
# How often the spool depth gauge is refreshed.
DEPTH_EVERY = timedelta(seconds=1)


class Processor:
    """One worker's drain loop; owns its writers and its bookkeeping connection."""

    def __init__(self, *, database_url: str, spool: Spool, directory: Callable[[], Directory], limits: Limits,
                 panics: PanicDispatcher, batch_max: int, low_battery_pct: float, battery_rearm_pct: float,
                 offline_after_s: dict[str, int] | None = None, sweep_s: float = SWEEP_S,
                 feed: Callable[[Routed], None] | None = None) -> None:
        """Prepare writers; nothing connects until the first batch."""
        self._url = database_url
        self._spool = spool
        self._directory = directory
        self._limits = limits
        self._panics = panics
        self._batch_max = batch_max
        self._battery = (low_battery_pct, battery_rearm_pct)
        self._feed = feed
        self._offline_after_s = offline_after_s
        self._sweep_s = sweep_s
        self._next_sweep = time.monotonic() + sweep_s
        self._positions = TimeSeriesWriter(database_url, POSITIONS)
        self._events = TimeSeriesWriter(database_url, DEVICE_EVENTS)
        self._readings = TimeSeriesWriter(database_url, SENSOR_READINGS)
        self._dead = TimeSeriesWriter(database_url, DEAD_LETTERS)
        self._conn: psycopg.Connection | None = None
        self.wakeup = threading.Event()
        self.committed = 0  # envelopes committed since start, for tests and metrics
        self._next_depth = datetime.min.replace(tzinfo=UTC)

    def drain_once(self) -> int:
        """Commit up to one batch from the spool; returns how many envelopes it took."""
        batch = self._spool.peek(self._batch_max)
        if not batch:
            return 0
        routed = route_batch(batch, self._directory(), self._limits)
        try:
            self._commit(routed)
        except Exception:
            # Not an outage (writers wait those out) but something in this batch the database refuses: commit
            # envelope by envelope, so one bad row costs only itself, and it is kept as a dead letter.
            log.exception("batch of %d refused; committing envelope by envelope", len(batch))
            for item in batch:
                self._commit_alone(item)
        if self._feed is not None:
            # Before the spool forgets the batch: a crash here re-feeds it rather than skipping it.
            self._feed(routed)
        self._spool.remove_through(routed.last_seq)
        self.committed += len(batch)
        self._observe(routed, len(batch))
        return len(batch)

    def _commit_alone(self, item: Spooled) -> None:
        routed = route_batch([item], self._directory(), self._limits)
        try:
            self._commit(routed)
        except Exception as exc:
            log.exception("envelope %d refused by the database; dead-lettered", item.seq)
            envelope = item.envelope
            self._dead.write([DeadLetter(envelope.received_at, envelope.source, envelope.topic, "store_failed",
                                         str(exc)[:500], envelope.payload)])

    def run(self, stop: threading.Event, flush_s: float) -> None:
        """Drain until ``stop`` is set and the spool is empty; the liveness sweep runs here too.

        Everything that touches this processor's connections runs on this one thread: a psycopg connection
        used by two threads at once nests their transactions out of order.
        """
        while True:
            if self._offline_after_s is not None and time.monotonic() >= self._next_sweep:
                self._next_sweep = time.monotonic() + self._sweep_s
                try:
                    self.sweep(self._offline_after_s)
                except Exception:
                    log.exception("liveness sweep failed; retrying at the next one")
            taken = self.drain_once()
            if taken >= self._batch_max:
                continue  # a backlog: keep going in full batches
            if stop.is_set() and taken == 0:
                return
            if taken:
                # A partial batch: messages are flowing, but slower than we drain them. Let a few of the
                # listener's flushes (every 5 ms) gather rather than commit each alone: a batch costs the same
                # round trips, feed publish and spool fsync whatever its size. A quiet device's first message
                # still goes at once (below).
                stop.wait(min(flush_s, GATHER_S))
            else:
                # Wait for the listener to say there is more, but never longer than the flush interval.
                self.wakeup.wait(flush_s)
            self.wakeup.clear()

    def sweep(self, offline_after_s: dict[str, int], now: datetime | None = None) -> int:
        """Mark silent devices offline and record the events; returns how many went offline."""
        moment = now or datetime.now(UTC)
        flipped = self._with_conn(lambda conn: sweep_offline(conn, moment, offline_after_s))
        events = [DeviceEvent(device, moment, "offline", moment, {"last_seen": seen.isoformat()})
                  for device, seen in flipped]
        self._write_device_events(events)
        return len(events)

    def close(self) -> None:
        """Close every connection."""
        for writer in (self._positions, self._events, self._readings, self._dead):
            writer.close()
        if self._conn is not None:
            self._conn.close()

    def _commit(self, routed: Routed) -> None:
        self._panics.record(routed.panics)
        self._positions.write(routed.positions)
        self._events.write(routed.events)
        self._readings.write(routed.readings)
        self._dead.write(routed.dead_letters)
        if routed.unregistered:
            self._with_conn(lambda conn: count_unregistered(conn, routed.unregistered.values()))
        low, rearm = self._battery
        changes = self._with_conn(lambda conn: touch_liveness(conn, routed.touches.values(), low, rearm))
        self._write_device_events([
            DeviceEvent(c.device_id, c.time, c.kind, c.time, {"battery_pct": c.battery_pct}) for c in changes
        ])

    def _write_device_events(self, events: list[DeviceEvent]) -> None:
        if not events:
            return
        self._events.write(events)
        payloads = [{"device_id": e.device_id, "kind": e.kind, "time": e.time, "detail": e.detail} for e in events]
        self._with_conn(lambda conn: notify_device_events(conn, payloads))
        for event in events:
            log.info("device %s: %s", event.device_id, event.kind)

    def _with_conn(self, action: Callable[[psycopg.Connection], Any]) -> Any:
        for attempt in retrying(None):
            with attempt:
                try:
                    if self._conn is None or self._conn.closed:
                        self._conn = connect(self._url, autocommit=True)
                    return action(self._conn)
                except BaseException:
                    if self._conn is not None:
                        self._conn.close()
                        self._conn = None
                    raise
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover

    def _observe(self, routed: Routed, envelopes: int) -> None:
        now = datetime.now(UTC)
        metrics.BATCH_SIZE.observe(envelopes)
        for source, count in routed.by_source.items():
            metrics.MESSAGES_DECODED.labels(source).inc(count)
        for letter in routed.dead_letters:
            metrics.DEAD_LETTERS.labels(letter.reason).inc()
        metrics.OUTCOMES.labels("stored").inc(len(routed.positions) + len(routed.readings) + len(routed.events))
        metrics.OUTCOMES.labels("panic").inc(len(routed.panics))
        metrics.OUTCOMES.labels("unregistered").inc(sum(h.messages for h in routed.unregistered.values()))
        for position in routed.positions[-100:]:  # a sample is enough for the lag histogram
            metrics.LAG.observe((now - position.received_at).total_seconds())
        if envelopes < self._batch_max or now >= self._next_depth:
            # count(*) reads the whole spool: during a backlog (full batches) once a second, as counting it for
            # every batch cost more than draining; a partial batch leaves a short spool, cheap to count.
            self._next_depth = now + DEPTH_EVERY
            metrics.SPOOL_DEPTH.set(self._spool.depth())
