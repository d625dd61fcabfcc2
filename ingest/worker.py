"""One ingest process in one of three roles: the receiver, a writer, or a worker that is both.

The default layout (``ingest.subscription = exclusive``) is one **receiver** and N **writers**. The receiver
holds the only MQTT session (exclusive and persistent, on two lanes) and the OsmAnd port, takes panics to the
fast path on arrival, and appends every envelope to a writer's spool chosen by topic, acknowledging only once
it is there. Each writer drains its own spool into the database. An exclusive subscription is what survives
a broker restart on Mosquitto 2.0 (a shared one lost 9 % of a stream there, docs/ingest.md), and the writers
still spread the database work over N processes.

With ``subscription = shared`` each process is a **worker**: its own session in an MQTT v5 shared group, its
own spool and processor. For brokers that keep a shared group's in-flight messages across their own restart.

A process's identity (its index) names its spool and, for a worker, its MQTT session, so a process restarted
after a crash resumes both: the broker re-delivers what was not acknowledged and the spool replays what was
not committed.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from types import FrameType
from typing import TYPE_CHECKING, Literal

import psycopg
from prometheus_client import start_http_server

from ingest.config import IngestProcess
from ingest.decoders import Limits
from ingest.directory import Directory, build_directory
from ingest.mqtt_source import LANES, FeedPublisher, MqttListener
from ingest.panic import PanicDispatcher
from ingest.processor import Processor
from ingest.route import Routed
from ingest.sessions import hand_over, receiver_client_id, retired_sessions, worker_client_id
from ingest.spool import PartitionedSpool, Spool, SpoolSink, spool_path
from store.channels import TERMINAL_CHANNEL, listen
from store.db import connect
from store.feed import encode, feed_items, feed_topic
from store.ingest_repo import directory_rows

if TYPE_CHECKING:
    from ingest.http_source import HttpListener
    from ingest.tcp.listener import TcpListener

log = logging.getLogger(__name__)

DIRECTORY_REFRESH_S = 60.0


Role = Literal["worker", "receiver", "writer"]


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    """What distinguishes one ingest process from another."""

    index: int
    serve_http: bool  # the OsmAnd HTTP port
    role: Role = "worker"
    # How many writers the receiver spreads envelopes over (the receiver only).
    partitions: int = 1
    # The JT/T 808 and GT06 ports, each switched on its own (and only where its settings enable it). None: with
    # serve_http, as the one process that hosts the device ports serves them all unless told otherwise.
    serve_jt808: bool | None = None
    serve_gt06: bool | None = None

    def serves(self, port: Literal["http", "jt808", "gt06"]) -> bool:
        """Tell whether this process serves a device port (its settings must enable it too)."""
        chosen = {"http": self.serve_http, "jt808": self.serve_jt808, "gt06": self.serve_gt06}[port]
        return self.serve_http if chosen is None else chosen


def limits_from(settings: IngestProcess) -> Limits:
    """Translate the ingest settings into decoder limits."""
    ingest = settings.ingest
    return Limits(ingest.max_payload_bytes, timedelta(seconds=ingest.max_future_s),
                  timedelta(seconds=ingest.max_age_s))


def shared_subscription(settings: IngestProcess) -> bool:
    """Tell whether workers split one stream through an MQTT v5 shared subscription."""
    return settings.ingest.subscription == "shared"


def load_directory(database_url: str) -> Directory:
    """Read the device directory from the database."""
    with connect(database_url, max_wait_s=None) as conn:
        return build_directory(directory_rows(conn))


class Worker:
    """Composes one process's stages by role; :meth:`run` blocks until :meth:`stop`."""

    def __init__(self, settings: IngestProcess, options: WorkerOptions) -> None:
        """Open the spool(s) and build the stages; nothing connects yet."""
        self.settings = settings
        self.options = options
        ingest = settings.ingest
        spools = settings.data_dir / "spool"
        receives = options.role in ("worker", "receiver")
        self.stop_event = threading.Event()
        self.limits = limits_from(settings)
        self.panics = PanicDispatcher(settings.database_url)
        self._directory: list[Directory] = [Directory({})]
        self.spool: Spool | None = None
        self.partitioned: PartitionedSpool | None = None
        self.processor: Processor | None = None
        self.mqtt: MqttListener | None = None
        self.http: HttpListener | None = None
        self.tcp: list[TcpListener] = []
        self.feed: FeedPublisher | None = None
        if options.role == "receiver":
            self.partitioned = PartitionedSpool(spools, options.partitions)
            sink: SpoolSink = self.partitioned
        else:
            self.spool = sink = Spool(spool_path(spools, options.index))
            if options.role == "writer" and ingest.feed_geo:
                self.feed = FeedPublisher(settings.mqtt_url, f"{ingest.client_id}-feed-{options.index}")
            self.processor = Processor(
                database_url=settings.database_url, spool=self.spool, directory=lambda: self._directory[0],
                limits=self.limits, panics=self.panics, batch_max=ingest.batch_max,
                low_battery_pct=ingest.low_battery_pct, battery_rearm_pct=ingest.battery_rearm_pct,
                offline_after_s=ingest.offline_after_s, feed=self._feed_geo if ingest.feed_geo else None)
        wakeup = self.processor.wakeup if self.processor is not None else threading.Event()
        if receives:
            shared = options.role == "worker" and shared_subscription(settings)
            client_id = (receiver_client_id(ingest.client_id) if options.role == "receiver"
                         else worker_client_id(ingest.client_id, options.index))
            self.mqtt = MqttListener(
                broker_url=settings.mqtt_url, client_id=client_id,
                share_group=ingest.share_group if shared else None, spool=sink, directory=None,
                panics=self.panics, limits=self.limits, on_spooled=wakeup,
                # The priority lane has a process of its own (ingest.priority) unless the settings say otherwise.
                lanes=("bulk",) if options.role == "receiver" and ingest.priority_process else LANES)
            if options.serves("http") and ingest.http_port:
                # Imported here: only the receiver serves HTTP; a writer need not load FastAPI and uvicorn.
                from ingest.http_source import HttpListener, RequestPolicy, osmand_app

                policy = RequestPolicy(ingest.http_max_request_bytes, tuple(ingest.http_allow))
                app = osmand_app(spool=sink, directory=self._directory, panics=self.panics, limits=self.limits,
                                 policy=policy, on_spooled=wakeup)
                self.http = HttpListener(app, ingest.http_host, ingest.http_port, ingest.http_max_request_bytes)
            if options.serves("jt808") and ingest.jt808_enabled:
                self.tcp.append(self._tcp_listener("jt808", ingest.jt808_port, sink, wakeup))
            if options.serves("gt06") and ingest.gt06_enabled:
                self.tcp.append(self._tcp_listener("gt06", ingest.gt06_port, sink, wakeup))

    def _tcp_listener(self, name: str, port: int, sink: SpoolSink, wakeup: threading.Event) -> TcpListener:
        # Imported here, like the OsmAnd listener: only the process that serves the device ports loads them.
        from ingest.tcp.listener import ListenerLimits, TcpListener
        from ingest.tcp.protocol import ProtocolContext, protocol_for

        ingest = self.settings.ingest
        protocol = protocol_for(name, ProtocolContext(self._directory, self.limits, self.settings.database_url))
        limits = ListenerLimits(ingest.tcp_max_connections, ingest.tcp_buffer_bytes, ingest.tcp_idle_s)
        return TcpListener(protocol, ingest.tcp_host, port, spool=sink, panics=self.panics, on_spooled=wakeup,
                           limits=limits)

    def _feed_geo(self, routed: Routed) -> None:
        items = feed_items(routed.positions, routed.events, self._directory[0].owners,
                           self.settings.ingest.geo_shards)
        if not items:
            return
        payloads = {feed_topic(shard): body for shard, body in encode(items).items()}
        publisher = self.feed or self.mqtt
        if publisher is None or not publisher.publish_feed(payloads):
            # The fixes are stored; only their geo evaluation is skipped. Ingest must not stall on the feed.
            log.error("geo feed: broker did not take %d items in time; geo skips them", len(items))

    def refresh_directory(self) -> None:
        """Reload the device directory (devices added or retired by a site load)."""
        self._directory[0] = load_directory(self.settings.database_url)
        if self.mqtt is not None:
            self.mqtt.directory = self._directory[0]

    def _metrics_port(self) -> int:
        # Writers and workers at metrics_port + index; the receiver just above the writers.
        base = self.settings.ingest.metrics_port
        return base + (self.options.partitions if self.options.role == "receiver" else self.options.index)

    def _bulk_nice(self) -> int:
        """Say how much this process's bulk threads yield the cores (``ingest.bulk_nice``), or 0."""
        # Writers, and the receiver when panic buttons have a process of their own; a worker of the shared layout
        # carries its own priority lane, so it keeps its priority.
        ingest = self.settings.ingest
        bulk = self.options.role == "writer" or (self.options.role == "receiver" and ingest.priority_process)
        return ingest.bulk_nice if bulk else 0

    def run(self) -> None:
        """Run until stopped; a worker's or writer's spool is drained before returning."""
        self.refresh_directory()
        spooled = self.partitioned or self.spool
        depth = spooled.depth() if spooled is not None else 0
        log.info("ingest %s %d: %d devices, %d envelopes spooled", self.options.role, self.options.index,
                 len(self._directory[0]), depth)
        if self.settings.ingest.metrics_port:
            try:
                start_http_server(self._metrics_port(), addr="127.0.0.1")
            except OSError as exc:
                # Metrics are for people; the spool is for panics. A taken port must never stop a writer from
                # draining (it exited here before, was restarted by the supervisor and exited again, forever).
                log.error("ingest %s %d: metrics not served on port %d: %s", self.options.role,
                          self.options.index, self._metrics_port(), exc)
        self.panics.start()
        # After the panic fast path's thread started, before any other: Linux keeps niceness per thread and a
        # thread inherits its creator's, so the fast path (which also stores the device ports' SOS alarms in the
        # receiver) keeps the supervisor's priority while the bulk threads yield the cores under overload.
        if self._bulk_nice():
            os.nice(self._bulk_nice())
        threading.Thread(target=self._every, args=(DIRECTORY_REFRESH_S, self.refresh_directory),
                         daemon=True).start()
        if self.feed is not None:
            self.feed.start()
        if self.mqtt is not None:
            self.mqtt.start()
        if self.http is not None:
            self.http.start()
        for listener in self.tcp:
            listener.start()
        if any(listener.protocol.name == "jt808" for listener in self.tcp):
            threading.Thread(target=self._hear_revocations, name="terminal-revocations", daemon=True).start()
        if self.options.role == "receiver" or (shared_subscription(self.settings) and self.options.index == 0):
            threading.Thread(target=self._hand_over, name="session-hand-over", daemon=True).start()
        drain = None
        if self.processor is not None:
            drain = threading.Thread(target=self.processor.run,
                                     args=(self.stop_event, self.settings.ingest.flush_ms / 1000), name="processor")
            drain.start()
        self.stop_event.wait()
        for listener in self.tcp:
            listener.stop()
        if self.http is not None:
            self.http.stop()
        if self.mqtt is not None:
            self.mqtt.stop()
        if self.processor is not None and drain is not None:
            self.processor.wakeup.set()
            drain.join()
            self.processor.close()
        if self.feed is not None:
            self.feed.stop()
        self.panics.stop()
        for spool in (self.spool, self.partitioned):
            if spool is not None:
                spool.close()
        log.info("ingest %s %d stopped", self.options.role, self.options.index)

    def _hear_revocations(self) -> None:
        """Close a JT/T 808 terminal's live connection when its code is revoked (the API announces it)."""
        while not self.stop_event.is_set():
            try:
                with connect(self.settings.database_url, autocommit=True, max_wait_s=5.0) as conn:
                    listen(conn, TERMINAL_CHANNEL)
                    while not self.stop_event.is_set():
                        for notice in conn.notifies(timeout=1.0):
                            for listener in self.tcp:
                                listener.close_terminal(notice.payload)
            except psycopg.OperationalError as error:
                # A revocation missed while away still holds: the terminal's next authentication is refused.
                log.warning("terminal revocations: %s; listening again in 5 s", error)
                self.stop_event.wait(5.0)

    def _hand_over(self) -> None:
        """Once our own sessions are subscribed, take over the ones no process of this layout owns."""
        sink = self.partitioned or self.spool
        assert self.mqtt is not None and sink is not None
        ingest = self.settings.ingest
        retired = retired_sessions(ingest.client_id,
                                   shared_workers=None if self.options.role == "receiver" else ingest.workers)
        while not self.stop_event.is_set():
            if self.mqtt.connected.wait(1.0):
                try:
                    hand_over(self.settings.mqtt_url, retired, ingest.share_group, sink, self.mqtt.offer_panic)
                    return
                except (ConnectionError, TimeoutError, OSError):
                    log.exception("hand-over of retired MQTT sessions failed; trying again")
                    self.stop_event.wait(5.0)

    def stop(self) -> None:
        """Ask the process to finish: stop listening, drain the spool, close."""
        self.stop_event.set()

    def _every(self, seconds: float, action: Callable[[], None]) -> None:
        while not self.stop_event.wait(seconds):
            try:
                action()
            except Exception:
                log.exception("periodic task failed; retrying at the next tick")


def run_worker(settings: IngestProcess, options: WorkerOptions) -> None:
    """Run one worker in this process until SIGTERM or SIGINT."""
    worker = Worker(settings, options)

    def _stop(signum: int, frame: FrameType | None) -> None:
        log.info("ingest %s %d: signal %d, draining", options.role, options.index, signum)
        worker.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    worker.run()
