"""A TCP listener for binary device protocols (JT/T 808, and GT06 to come): asyncio on a thread of the receiver.

Many connections in one event loop. For each read the protocol cuts whole frames out of the connection's
buffer; the session turns them into envelopes, panics and answers; the panics go to the fast path at once, the
envelopes into the spool (one fsync, off the loop), and only then are the answers written, so a terminal
whose frame was not taken retransmits it. Bounded, because this process also carries every panic: at most
``max_connections`` connections (more are closed on accept), at most ``buffer_bytes`` of an unfinished frame per
connection (more is dead-lettered as oversized and the connection closed), and a connection silent for
``idle_s`` is closed (a JT/T 808 terminal sends a heartbeat every minute or so).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime

from prometheus_client import Counter, Gauge

from ingest import metrics
from ingest.messages import Rejection, RejectReason
from ingest.panic import PanicDispatcher
from ingest.spool import Envelope, SpoolSink
from ingest.tcp.protocol import StreamProtocol, StreamSession

log = logging.getLogger(__name__)

READ_BYTES = 4096

TCP_CONNECTIONS = Gauge("campusguard_ingest_tcp_connections", "Open device connections", ["protocol"])
TCP_REFUSED = Counter("campusguard_ingest_tcp_refused_total",
                      "Connections closed or bytes refused by the TCP listener", ["protocol", "reason"])


@dataclass(frozen=True, slots=True)
class ListenerLimits:
    """How much one listener holds for strangers."""

    max_connections: int = 10_000
    buffer_bytes: int = 8192
    idle_s: float = 300.0


class TcpListener:
    """Serves one protocol on one port; :meth:`start` runs it on its own thread and event loop."""

    def __init__(self, protocol: StreamProtocol, host: str, port: int, *, spool: SpoolSink,
                 panics: PanicDispatcher, on_spooled: threading.Event, limits: ListenerLimits) -> None:
        """Prepare; nothing is bound until :meth:`start`."""
        self.protocol = protocol
        self.host = host
        self.port = port
        self._spool = spool
        self._panics = panics
        self._on_spooled = on_spooled
        self._limits = limits
        self._connections = 0
        self._writers: dict[asyncio.StreamWriter, StreamSession | None] = {}
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._started = threading.Event()
        self._stopped = asyncio.Event()  # bound to the loop at its first use, on the listener's thread
        self._thread = threading.Thread(target=self._run, name=f"tcp-{protocol.name}", daemon=True)

    @property
    def started(self) -> bool:
        """Tell whether the port is bound."""
        return self._started.is_set()

    @property
    def connections(self) -> int:
        """Count the open connections."""
        return self._connections

    def close_terminal(self, terminal: str) -> None:
        """Close every connection of a terminal whose code was revoked (thread-safe; it must register again)."""
        self.protocol.forget(terminal)
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._close_terminal, terminal)

    def _close_terminal(self, terminal: str) -> None:
        for writer, session in list(self._writers.items()):
            if session is not None and session.terminal == terminal:
                log.info("%s: closing the connection of %s (its authentication was revoked)", self.protocol.name,
                         terminal)
                writer.close()

    def start(self) -> None:
        """Bind and serve on a thread of its own."""
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting, close every connection and end the thread."""
        if not self._thread.is_alive():
            return
        self._loop.call_soon_threadsafe(self._stopped.set)
        self._thread.join(timeout=10)
        self.protocol.close()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._serve_forever())
        finally:
            self._loop.close()

    async def _serve_forever(self) -> None:
        self._server = await asyncio.start_server(self._connection, self.host, self.port, limit=READ_BYTES)
        if self.port == 0:
            self.port = self._server.sockets[0].getsockname()[1]
        self._started.set()
        log.info("%s listener on %s:%d", self.protocol.name, self.host, self.port)
        await self._stopped.wait()
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        await self._server.wait_closed()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        host = str(peer[0]) if isinstance(peer, tuple) else "?"
        if self._connections >= self._limits.max_connections:
            TCP_REFUSED.labels(self.protocol.name, "too_many_connections").inc()
            writer.close()
            return
        self._connections += 1
        self._writers[writer] = None
        TCP_CONNECTIONS.labels(self.protocol.name).inc()
        try:
            await self._converse(reader, writer, host)
        except (ConnectionError, OSError):
            pass  # the terminal went away; what it sent and we answered is spooled
        except Exception:
            # A bug met by one connection's bytes closes that connection, never the listener.
            log.exception("%s connection from %s failed; closed", self.protocol.name, host)
        finally:
            self._connections -= 1
            self._writers.pop(writer, None)
            TCP_CONNECTIONS.labels(self.protocol.name).dec()
            writer.close()

    async def _converse(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str) -> None:
        session = self.protocol.session(host)
        self._writers[writer] = session
        buffer = b""
        while True:
            try:
                data = await asyncio.wait_for(reader.read(READ_BYTES), self._limits.idle_s)
            except TimeoutError:
                return
            if not data:
                return
            received_at = datetime.now(UTC)
            metrics.MESSAGES_RECEIVED.labels(f"{self.protocol.name}-tcp").inc()
            frames, garbage, buffer = self.protocol.split(buffer + data)
            refused: list[Envelope] = []
            if len(buffer) > self._limits.buffer_bytes:
                TCP_REFUSED.labels(self.protocol.name, "oversized").inc()
                rejection = Rejection(RejectReason.OVERSIZED,
                                      f"an unfinished frame passed {self._limits.buffer_bytes} bytes")
                refused.append(session.refuse(buffer[: self._limits.buffer_bytes], rejection, received_at))
            outcome = await session.handle(frames, garbage, received_at)
            if outcome.panics:
                self._panics.submit(outcome.panics)
            envelopes = [*outcome.envelopes, *refused]
            if envelopes:
                # The append fsyncs: off the loop, so one slow disk does not stall every connection.
                await asyncio.to_thread(self._spool.append, envelopes)
                self._on_spooled.set()
            if outcome.commit is not None:
                outcome.commit()
            if outcome.replies:
                writer.write(b"".join(outcome.replies))
                await writer.drain()
            if outcome.close or refused:
                return
