"""The geo service: the I/O around the pure geo engine.

It owns whole shards of the internal fix feed (see ``store/feed.py``), so every fix of a bus or a person
reaches the same in-memory state, runs the rules, and stores each geo event in ``device_events`` (kind
``geo.<event>``) with a ``NOTIFY`` for the alert stage. A feed message is acknowledged only after its events
are committed; a re-delivered fix is not newer than the state's last one and changes nothing.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from domain.broker import parse_broker_url
from domain.messages import DeadLetter, DeviceEvent, Position
from domain.site.validate import load_site
from geo.clock import LastFix, device_now, newer
from geo.config import GeoProcess
from geo.engine import DeviceGeoState, GeoEngine
from geo.events import GeoEvent
from geo.fences import Fence, fences_from_geojson
from geo.rules.child_check import ChildCheckConfirmation
from store import child_check_repo, queries
from store.channels import GEO_CHANNEL
from store.db import connect, retrying
from store.event_detail import GeoRecord, geo_event
from store.feed import ChildCheckPressed, FeedEntry, FeedError, decode, feed_topic, shard_of
from store.ingest_repo import notify_device_events
from store.writer import DEAD_LETTERS, DEVICE_EVENTS, TimeSeriesWriter

log = logging.getLogger(__name__)

TICK_S = 30.0
CONFIRMATIONS_S = 5.0  # how often the head teachers' child-check confirmations are read (class page)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def stored(event: GeoEvent, device_id: str, received_at: datetime) -> DeviceEvent:
    """Hand an event to the store as a typed record (the store owns how ``device_events.detail`` looks)."""
    fields = {k: v for k, v in asdict(event).items() if k not in ("subject_id", "time", "position")}
    record = GeoRecord(_snake(type(event).__name__), device_id, event.subject_id, event.time, event.position, fields)
    return geo_event(record, received_at)


class GeoService:
    """Evaluates the shards it owns; :meth:`run` blocks until :meth:`stop`."""

    def __init__(self, settings: GeoProcess, engine: GeoEngine, shards: list[int], client_id: str,
                 tick_s: float = TICK_S, rebuild: Callable[[], GeoEngine | None] | None = None) -> None:
        """Prepare; nothing connects until :meth:`run`."""
        self.settings = settings
        self._tick_s = tick_s
        # Fences drawn through the API reach the rules at the next tick (states carry over: fence ids are stable).
        self._rebuild = rebuild  # and so does a site file that changed (the demo lays a new service day)
        self.engine = engine
        self.states: dict[str, DeviceGeoState] = {}
        self._last_fix: dict[str, LastFix] = {}  # per subject: where its device clock was, and when we heard
        self._shards = shards
        self._inbox: queue.Queue[mqtt.MQTTMessage | None] = queue.Queue()
        self._writer = TimeSeriesWriter(settings.database_url, DEVICE_EVENTS)
        self._dead_letters = TimeSeriesWriter(settings.database_url, DEAD_LETTERS)
        self._stop = threading.Event()
        self.processed = 0
        self.failed = 0  # feed messages that could not be evaluated or stored
        address = parse_broker_url(settings.mqtt_url)
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                                   protocol=MQTTProtocolVersion.MQTTv5, manual_ack=True)
        address.configure(self._client)
        self._address = address
        self.connected = threading.Event()
        self._client.on_connect = self._on_connect
        self._client.on_message = lambda client, userdata, message: self._inbox.put(message)

    def _on_connect(self, client: mqtt.Client, userdata: object, flags: mqtt.ConnectFlags, reason: object,
                    properties: object) -> None:
        client.subscribe([(feed_topic(shard), SubscribeOptions(qos=1)) for shard in self._shards])
        self.connected.set()

    def evaluate(self, entries: list[FeedEntry]) -> list[DeviceEvent]:
        """Run the rules over one feed message's entries, in order; returns the events to store.

        Runs of fixes go through the engine's batch path (their geometry computed at once); a child-check
        confirmation is applied between them, where it came in the feed.
        """
        now = datetime.now(UTC)
        out: list[DeviceEvent] = []
        fixes: list[Position] = []

        def flush() -> None:
            for fix in fixes:
                subject = self.engine.subject_of(fix.device_id)
                self._last_fix[subject] = newer(self._last_fix.get(subject), fix.time, fix.received_at)
            if fixes:
                self.states, events = self.engine.evaluate_batch(self.states, fixes, tick=True)
                out.extend(stored(e, e.position.device_id, now) for e in events)
                fixes.clear()

        for entry in entries:
            if isinstance(entry, ChildCheckPressed):
                flush()
                state = self.states.get(entry.bus_id) or self.engine.new_state(entry.device_id)
                state, events = self.engine.confirm_child_check(state, ChildCheckConfirmation(
                    entry.bus_id, entry.time, entry.person_id, entry.arrived_at))
                self.states[entry.bus_id] = state
                out.extend(stored(e, entry.device_id, now) for e in events)
            else:
                fixes.append(entry)
        flush()
        return out

    def tick(self, now: datetime) -> list[DeviceEvent]:
        """Let time pass for every subject (a child check whose bus went quiet still falls due).

        ``now`` is the server's clock; each subject's rules see it translated into that subject's device time
        (:mod:`geo.clock`), so a bus whose fixes run behind (a backlog, a simulator catching up, a slow clock)
        is never "missed" for lateness alone.
        """
        out: list[DeviceEvent] = []
        for subject, state in list(self.states.items()):
            last = self._last_fix.get(subject)
            if last is None:
                continue  # no fix yet: nothing of this subject is waiting on time
            self.states[subject], events = self.engine.tick(state, device_now(last, now))
            out.extend(stored(e, e.position.device_id, now) for e in events)
        return out

    def run(self) -> None:
        """Connect and evaluate until stopped."""
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = 24 * 3600
        self._client.connect_async(self._address.host, self._address.port, clean_start=False, properties=props)
        self._client.loop_start()
        last_tick = last_read = datetime.now(UTC)
        while not self._stop.is_set():
            try:
                message = self._inbox.get(timeout=1.0)
            except queue.Empty:
                message = None
            now = datetime.now(UTC)
            if (now - last_tick).total_seconds() >= self._tick_s:
                try:
                    rebuilt = self._rebuild() if self._rebuild is not None else None
                    self.engine = rebuilt or self.engine
                    self._store(self.tick(now))
                except Exception:
                    log.exception("geo tick failed; trying again at the next")
                last_tick = now
            if (now - last_read).total_seconds() >= CONFIRMATIONS_S:
                try:
                    self.apply_confirmations(now)
                except Exception:
                    # The rows stay pending (unmarked): the next pass applies them.
                    log.exception("geo: reading or applying the class page's child-check confirmations failed")
                last_read = now
            if message is None:
                continue
            try:
                events = self.evaluate(decode(message.payload))
            except Exception as exc:
                # A message that cannot be evaluated fails alone: kept as a dead letter with its reason,
                # acknowledged, never redelivered into a crash loop that would stop the whole shard.
                log.exception("geo feed message on %s cannot be evaluated; dead-lettered", message.topic)
                self._dead_letter(message, exc)
                self.failed += 1
                events = []
            try:
                self._store(events)
            except Exception:
                log.exception("geo events of a feed message could not be stored; skipped")
                self.failed += 1
            self._client.ack(message.mid, message.qos)
            self.processed += 1
        self._client.disconnect()
        self._client.loop_stop()
        self._writer.close()
        self._dead_letters.close()

    def apply_confirmations(self, now: datetime) -> int:
        """Apply the trips the head teachers have confirmed (every class of the bus) and mark them applied.

        Read from the store's outbox (store/child_check_repo.py), in this service's shards only, each becomes a
        press of the bus's check for its trip, at the confirmation's time told in the bus's device time (the rule
        compares it with a deadline of device time; a bus whose fixes run behind is not "late" for it). Marked
        applied only once its events are handed to the writer; a pass that fails leaves them for the next.
        """
        with connect(self.settings.database_url) as conn:
            trips = [t for t in child_check_repo.trips_confirmed(conn)
                     if shard_of(t.bus_id, self.settings.geo_shards) in self._shards]
            if not trips:
                return 0
            presses: list[FeedEntry] = []
            for trip in trips:
                last = self._last_fix.get(trip.bus_id)
                at = trip.time if last is None else max(trip.arrived_at, device_now(last, trip.time))
                presses.append(ChildCheckPressed(trip.bus_id, trip.device_id, at, trip.person_id, trip.arrived_at))
            self._store(self.evaluate(presses))
            child_check_repo.mark_applied(conn, trips, now)
            conn.commit()
        return len(trips)

    def stop(self) -> None:
        """Ask :meth:`run` to return."""
        self._stop.set()

    def _dead_letter(self, message: mqtt.MQTTMessage, exc: Exception) -> None:
        reason = "feed_unreadable" if isinstance(exc, FeedError) else "geo_failed"
        letter = DeadLetter(datetime.now(UTC), "geo", message.topic, reason, f"{type(exc).__name__}: {exc}"[:500],
                            bytes(message.payload))
        try:
            self._dead_letters.write([letter])
        except Exception:
            log.exception("the dead letter of a geo feed message could not be stored")

    def _store(self, events: list[DeviceEvent]) -> None:
        if not events:
            return
        self._writer.write(events)
        payloads = [{"device_id": e.device_id, "kind": e.kind, "time": e.time, "detail": e.detail} for e in events]
        for attempt in retrying(None):
            with attempt, connect(self.settings.database_url) as conn:
                conn.autocommit = True
                notify_device_events(conn, payloads, channel=GEO_CHANNEL)
        for event in events:
            log.info("geo: %s %s", event.device_id, event.kind)


def drawn_fences(database_url: str) -> list[Fence]:
    """Read the fences drawn through the API (the site file's own come with the site)."""
    with connect(database_url, max_wait_s=None) as conn:
        rows = queries.geofences(conn, source="api")
    return fences_from_geojson({"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": r["id"], "geometry": r["geometry"],
         "properties": {"kind": r["kind"], "name": r["name"], "school_id": r["school_id"],
                        "speed_limit_kmh": r["speed_limit_kmh"]}} for r in rows]})


def build_engine(settings: GeoProcess) -> GeoEngine:
    """Build the engine from the settings' site file and the fences stored in the database."""
    if settings.site_file is None:
        raise ValueError("the geo service needs the site file: set CAMPUSGUARD_SITE_FILE or pass --site")
    return GeoEngine.from_site(load_site(settings.site_file), extra_fences=drawn_fences(settings.database_url))


def build_service(settings: GeoProcess, shards: list[int] | None = None) -> GeoService:
    """Build the service; it rebuilds its engine when the stored fences change."""
    owned = shards if shards is not None else list(range(settings.geo_shards))
    seen = [(_fences_signature(settings.database_url), _file_signature(settings.site_file))]

    def rebuild() -> GeoEngine | None:
        signature = (_fences_signature(settings.database_url), _file_signature(settings.site_file))
        if signature == seen[0]:
            return None
        try:
            engine = build_engine(settings)
        except Exception:
            # A site file caught half-written, or edited into an invalid one, leaves the rules as they were.
            log.exception("geo: the site file or the stored fences changed but cannot be read; keeping the old")
            return None
        seen[0] = signature
        log.info("geo: the site file or the stored fences changed; rebuilt the fences and bus plans")
        return engine

    return GeoService(settings, build_engine(settings), owned, f"campusguard-geo-{'-'.join(map(str, owned))}",
                      rebuild=rebuild)


def _file_signature(path: Path | None) -> tuple[int, int] | None:
    """When and how big the site file last was: an edited file (the demo's next service day) is reloaded."""
    try:
        stat = path.stat() if path is not None else None
    except OSError:
        return None
    return None if stat is None else (stat.st_mtime_ns, stat.st_size)


def _fences_signature(database_url: str) -> tuple[object, ...]:
    with connect(database_url, max_wait_s=None) as conn:
        return queries.drawn_fences_signature(conn)
