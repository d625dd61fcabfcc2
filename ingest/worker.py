"""One ingest worker process: listeners → spool → processor, plus the panic fast path and liveness sweep.

The worker's identity (its index) names its MQTT session and its spool file, so a worker restarted after a
crash resumes both: the broker re-delivers what was not acknowledged and the spool replays what was not
committed.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from types import FrameType

from prometheus_client import start_http_server

from campusguard.settings import Settings
from ingest.decoders import Limits
from ingest.directory import Directory, build_directory
from ingest.feed import FEED_PREFIX, encode, feed_items
from ingest.http_source import HttpListener, osmand_app
from ingest.mqtt_source import MqttListener
from ingest.panic import PanicDispatcher
from ingest.processor import Processor
from ingest.route import Routed
from ingest.spool import Spool
from store.db import connect
from store.ingest_repo import directory_rows

log = logging.getLogger(__name__)

DIRECTORY_REFRESH_S = 60.0
SWEEP_S = 15.0


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    """What distinguishes one worker from another."""

    index: int
    serve_http: bool


def limits_from(settings: Settings) -> Limits:
    """Translate the ingest settings into decoder limits."""
    ingest = settings.ingest
    return Limits(ingest.max_payload_bytes, timedelta(seconds=ingest.max_future_s),
                  timedelta(seconds=ingest.max_age_s))


def shared_subscription(settings: Settings) -> bool:
    """Tell whether workers split one stream through an MQTT v5 shared subscription."""
    mode = settings.ingest.subscription
    return mode == "shared" or (mode == "auto" and settings.ingest.workers > 1)


def load_directory(database_url: str) -> Directory:
    """Read the device directory from the database."""
    with connect(database_url, max_wait_s=None) as conn:
        return build_directory(directory_rows(conn))


class Worker:
    """Composes one worker's stages; :meth:`run` blocks until :meth:`stop`."""

    def __init__(self, settings: Settings, options: WorkerOptions) -> None:
        """Open the spool and build the stages; nothing connects yet."""
        self.settings = settings
        self.options = options
        ingest = settings.ingest
        self.spool = Spool(settings.data_dir / "spool" / f"ingest-{options.index}.sqlite")
        self.stop_event = threading.Event()
        self.limits = limits_from(settings)
        self.panics = PanicDispatcher(settings.database_url)
        self._directory: list[Directory] = [Directory({})]
        self.processor = Processor(
            database_url=settings.database_url, spool=self.spool, directory=lambda: self._directory[0],
            limits=self.limits, panics=self.panics, batch_max=ingest.batch_max,
            low_battery_pct=ingest.low_battery_pct, battery_rearm_pct=ingest.battery_rearm_pct,
            feed=self._feed_geo if ingest.feed_geo else None)
        self.mqtt = MqttListener(
            broker_url=settings.mqtt_url, client_id=f"{ingest.client_id}-{options.index}",
            share_group=ingest.share_group if shared_subscription(settings) else None, spool=self.spool,
            directory=None, panics=self.panics,
            limits=self.limits, on_spooled=self.processor.wakeup)
        self.http: HttpListener | None = None
        if options.serve_http and ingest.http_port:
            app = osmand_app(spool=self.spool, directory=self._directory, panics=self.panics, limits=self.limits,
                             on_spooled=self.processor.wakeup)
            self.http = HttpListener(app, ingest.http_host, ingest.http_port)

    def _feed_geo(self, routed: Routed) -> None:
        items = feed_items(routed.positions, routed.events, self._directory[0].owners,
                           self.settings.ingest.geo_shards)
        if not items:
            return
        payloads = {f"{FEED_PREFIX}/{shard}": body for shard, body in encode(items).items()}
        if not self.mqtt.publish_feed(payloads):
            # The fixes are stored; only their geo evaluation is skipped. Ingest must not stall on the feed.
            log.error("geo feed: broker did not take %d items in time; geo skips them", len(items))

    def refresh_directory(self) -> None:
        """Reload the device directory (devices added or retired by a site load)."""
        self._directory[0] = load_directory(self.settings.database_url)
        self.mqtt.directory = self._directory[0]

    def run(self) -> None:
        """Run until stopped; the spool is drained before returning."""
        self.refresh_directory()
        log.info("ingest worker %d: %d devices, spool %s holds %d", self.options.index, len(self._directory[0]),
                 self.spool.path, self.spool.depth())
        if self.settings.ingest.metrics_port:
            start_http_server(self.settings.ingest.metrics_port + self.options.index, addr="127.0.0.1")
        self.panics.start()
        background = [threading.Thread(target=self._every, args=(DIRECTORY_REFRESH_S, self.refresh_directory),
                                       daemon=True),
                      threading.Thread(target=self._every, args=(SWEEP_S, self._sweep), daemon=True)]
        for thread in background:
            thread.start()
        self.mqtt.start()
        if self.http is not None:
            self.http.start()
        drain = threading.Thread(target=self.processor.run,
                                 args=(self.stop_event, self.settings.ingest.flush_ms / 1000), name="processor")
        drain.start()
        self.stop_event.wait()
        if self.http is not None:
            self.http.stop()
        self.mqtt.stop()
        self.processor.wakeup.set()
        drain.join()
        self.panics.stop()
        self.processor.close()
        self.spool.close()
        log.info("ingest worker %d stopped", self.options.index)

    def stop(self) -> None:
        """Ask the worker to finish: stop listening, drain the spool, close."""
        self.stop_event.set()

    def _sweep(self) -> None:
        self.processor.sweep(self.settings.ingest.offline_after_s)

    def _every(self, seconds: float, action: Callable[[], None]) -> None:
        while not self.stop_event.wait(seconds):
            try:
                action()
            except Exception:
                log.exception("periodic task failed; retrying at the next tick")


def run_worker(settings: Settings, options: WorkerOptions) -> None:
    """Run one worker in this process until SIGTERM or SIGINT."""
    worker = Worker(settings, options)

    def _stop(signum: int, frame: FrameType | None) -> None:
        log.info("ingest worker %d: signal %d, draining", options.index, signum)
        worker.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    worker.run()
