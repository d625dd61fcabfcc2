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

from domain.messages import PanicPressed
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
        # A connection per calling thread (the fast path's own, the processor's): never one shared by two.
        self._local = threading.local()
        self._lock = threading.Lock()
        self._conns: list[psycopg.Connection] = []
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
            with attempt:
                conn = self._connection()
                try:
                    new = record_panics(conn, panics)
                except BaseException:
                    self._drop(conn)
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

    def _connection(self) -> psycopg.Connection:
        conn: psycopg.Connection | None = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            conn = self._local.conn = connect(self._url, autocommit=True)
            with self._lock:
                self._conns.append(conn)
        return conn

    def _drop(self, conn: psycopg.Connection) -> None:
        conn.close()
        self._local.conn = None
        with self._lock:
            self._conns.remove(conn)

    def _close(self) -> None:
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            conn.close()

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
