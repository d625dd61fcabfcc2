"""The panic fast path: a panic is stored and announced the moment it arrives, ahead of any batch.

Listeners hand presses to :class:`PanicDispatcher` before the envelope is even spooled; the dispatcher's own
thread and connection store each press and ``NOTIFY`` it. The batch processor hands the same presses in again
when their envelopes come out of the spool and waits for them (``record``), so a press whose fast path failed
is still never lost; the database key makes the second hand-in a no-op, so a press is announced once.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Sequence
from datetime import UTC, datetime

import psycopg

from campusguard.domain import PanicPressed
from ingest import metrics
from store.db import connect, retrying
from store.ingest_repo import record_panics

log = logging.getLogger(__name__)


class PanicDispatcher:
    """Stores and announces panics on a thread of its own; thread-safe."""

    def __init__(self, database_url: str) -> None:
        """Prepare; call :meth:`start` to run the fast-path thread."""
        self._url = database_url
        self._queue: queue.Queue[PanicPressed | None] = queue.Queue()
        self._lock = threading.Lock()
        self._conn: psycopg.Connection | None = None
        self._thread = threading.Thread(target=self._run, name="panic-fast-path", daemon=True)

    def start(self) -> None:
        """Start the fast-path thread."""
        self._thread.start()

    def submit(self, panics: Sequence[PanicPressed]) -> None:
        """Hand presses to the fast path without waiting (called from network threads)."""
        for panic in panics:
            log.warning("PANIC %s (%s) at %s", panic.device_id, panic.action, panic.time.isoformat())
            self._queue.put(panic)

    def record(self, panics: Sequence[PanicPressed]) -> list[PanicPressed]:
        """Store and announce presses, retrying until the database takes them; returns the new ones."""
        if not panics:
            return []
        for attempt in retrying(None):
            with attempt, self._lock:
                try:
                    if self._conn is None or self._conn.closed:
                        self._conn = connect(self._url, autocommit=True)
                    new = record_panics(self._conn, panics)
                except BaseException:
                    self._close()
                    raise
        now = datetime.now(UTC)
        for panic in new:
            metrics.PANIC_LATENCY.observe((now - panic.received_at).total_seconds())
        return new

    def stop(self) -> None:
        """Finish what is queued and stop the thread."""
        self._queue.put(None)
        if self._thread.is_alive():
            self._thread.join(timeout=30)
        self._close()

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _run(self) -> None:
        while True:
            try:
                if not self._run_once():
                    return
            except Exception:
                # The processor records the same presses from the spool; the fast path must live on.
                log.exception("panic fast path failed; the spool path will record the press")

    def _run_once(self) -> bool:
        while True:
            first = self._queue.get()
            if first is None:
                return False
            batch = [first]
            while not self._queue.empty():  # presses that arrived together are stored together
                nxt = self._queue.get_nowait()
                if nxt is None:
                    self.record(batch)
                    return False
                batch.append(nxt)
            self.record(batch)
