"""The priority-lane process: panic buttons received, stored and announced in a process of their own.

In the exclusive layout the receiver's bulk lane takes tens of thousands of GPS fixes a second; its paho thread
and its spool flusher keep the interpreter lock busy almost all the time. A press received on the priority
lane of that same process waited for the lock at every step of its fast path (decode, each round trip of
the insert and ``NOTIFY``), a few milliseconds each under load: profiled, that was most of the press's time
in ingest at 10,000 msg/s (docs/scaling.md). Here the priority lane has a process, an interpreter lock and a
database connection to itself.

Durability is the lane's as before: a press goes to the fast path on arrival, and the broker's PUBACK follows
only once the envelope is durably in a writer's spool (the same partitioned spools the receiver appends to;
SQLite's file locks serialise the two appenders), so the writer records the press again if the fast path
failed, and the database key makes that a no-op when it did not. The MQTT session is the one the receiver's
priority lane had (``<prefix>-rx-p``), so what the broker queued for it before an upgrade is received here.
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

from prometheus_client import start_http_server

from ingest.config import IngestProcess
from ingest.directory import Directory
from ingest.mqtt_source import MqttListener
from ingest.panic import PanicDispatcher
from ingest.sessions import receiver_client_id
from ingest.spool import PartitionedSpool
from ingest.worker import DIRECTORY_REFRESH_S, limits_from, load_directory

log = logging.getLogger(__name__)


class PriorityLane:
    """The priority lane, the panic fast path and the device directory; :meth:`run` blocks until :meth:`stop`."""

    def __init__(self, settings: IngestProcess, partitions: int) -> None:
        """Open the writers' spools and build the listener; nothing connects yet."""
        self.settings = settings
        self.partitions = partitions
        self.stop_event = threading.Event()
        self.panics = PanicDispatcher(settings.database_url)
        self.spool = PartitionedSpool(settings.data_dir / "spool", partitions)
        self.mqtt = MqttListener(
            broker_url=settings.mqtt_url, client_id=receiver_client_id(settings.ingest.client_id), share_group=None,
            spool=self.spool, directory=None, panics=self.panics, limits=limits_from(settings),
            on_spooled=threading.Event(), lanes=("priority",))

    def refresh_directory(self) -> Directory:
        """Reload the device directory: a press is tied to its school by it (a site load adds buttons)."""
        directory = load_directory(self.settings.database_url)
        self.mqtt.directory = directory
        return directory

    def run(self) -> None:
        """Receive until stopped; what arrived is spooled and acknowledged before returning."""
        log.info("ingest priority lane: %d devices", len(self.refresh_directory()))
        ingest = self.settings.ingest
        if ingest.metrics_port:
            # Just above the receiver's port (metrics_port + partitions).
            port = ingest.metrics_port + self.partitions + 1
            try:
                start_http_server(port, addr="127.0.0.1")
            except OSError as exc:
                log.error("ingest priority lane: metrics not served on port %d: %s", port, exc)
        self.panics.start()
        threading.Thread(target=self._refresh_loop, name="directory-refresh", daemon=True).start()
        self.mqtt.start()
        self.stop_event.wait()
        self.mqtt.stop()
        self.panics.stop()
        self.spool.close()
        log.info("ingest priority lane stopped")

    def _refresh_loop(self) -> None:
        while not self.stop_event.wait(DIRECTORY_REFRESH_S):
            try:
                self.refresh_directory()
            except Exception:
                log.exception("directory refresh failed; retrying at the next tick")

    def stop(self) -> None:
        """Ask :meth:`run` to return."""
        self.stop_event.set()


def run_priority(settings: IngestProcess, partitions: int) -> None:
    """Run the priority lane in this process until SIGTERM or SIGINT."""
    lane = PriorityLane(settings, partitions)

    def _stop(signum: int, frame: FrameType | None) -> None:
        log.info("ingest priority lane: signal %d, finishing", signum)
        lane.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    lane.run()
