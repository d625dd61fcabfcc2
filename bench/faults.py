"""Fault run: QoS 1 fixes acknowledged by the broker are all stored, through broker, database and worker faults.

Every case runs on private services this run starts and stops itself (a PostgreSQL cluster and a Mosquitto
configured as the product's, persistence on), with the production processes (``campusguard ingest`` in its
default layout and worker count, ``campusguard alerts``). A paho publisher with a persistent session sends
``messages`` GPS fixes at ``rate`` a second, each with its own (device, time), and counts the broker's PUBACKs;
meanwhile the case's faults happen: the broker stopped for 5 s, the database stopped for a while, the receiver
and a writer SIGKILLed, the worker count changed, and Zigbee panic presses (no device time) while the
database is down. Each case prints what the broker acknowledged, what was stored, duplicates, dead letters,
and the panics stored and decided, and how long after the database returned the last was decided. Exit status
1 on any loss, duplicate or undecided panic.

Run: ``python -m devtools.devservices run -- .venv/bin/python -m bench.faults`` (``--quick`` for the
reduced form ``make test`` runs; ``--case NAME`` for one case).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from bench.report import Figure
from devtools.devservices import (
    MosquittoBroker,
    OsUser,
    PostgresCluster,
    find_mosquitto,
    find_postgres_bindir,
    free_port,
    is_root,
    postgres_owner,
)
from domain.broker import parse_broker_url
from domain.site.validate import load_site as read_site
from store.config import RetentionSettings, StorageBackend
from store.incident_repo import signal_id_of
from store.migrate import migrate
from store.site_repo import load_site

log = logging.getLogger(__name__)

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "district.yaml"
SCHOOL = "antelope-park-es"
DEVICES = 100
# Zigbee2MQTT wall buttons of the example district, at three schools: (friendly name, device id).
BUTTONS = (("antelope-park/office_panic_1", "antelope-park-office-panic-1"),
           ("holdrege/office_panic_1", "holdrege-office-panic-1"),
           ("salt-creek/office_panic_1", "salt-creek-office-panic-1"))
BROKER_DOWN_S = 5.0
SETTLE_S = 240.0


@dataclass(frozen=True, slots=True)
class Case:
    """One fault run: what happens while the fleet publishes."""

    name: str
    broker_restart: bool = False
    # The broker restarted while ingest is stopped too (a deploy): devices publish before ingest is back.
    deploy_restart: bool = False
    database_down_s: float = 0.0
    kill: bool = False
    panics: int = 0
    rescale: tuple[int, ...] = ()  # worker counts to move through mid-run (the ingest command restarted)
    subscription: str | None = None  # the layout: None for the product's default, or "shared" (a shared group)


@dataclass
class Outcome:
    """What one case measured."""

    case: str
    workers: int
    acknowledged: int = 0
    stored: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    panics_pressed: int = 0
    panics_stored: int = 0
    panics_decided: int = 0
    decided_after_s: float | None = None  # last panic decided, seconds after the database came back
    opened_at_first_press: bool = True
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No loss, no duplicate, every press stored once and decided, every incident dated by its first press."""
        return (self.stored == self.acknowledged and self.duplicates == 0
                and self.panics_stored == self.panics_pressed == self.panics_decided and self.opened_at_first_press)

    @property
    def lost(self) -> int:
        """Acknowledged messages not stored."""
        return max(0, self.acknowledged - self.stored)

    def line(self) -> str:
        """One printable line."""
        panic = (f"; panics {self.panics_pressed} pressed, {self.panics_stored} stored, {self.panics_decided} decided"
                 + (f" (last {self.decided_after_s:.1f} s after the database returned)"
                    if self.decided_after_s is not None else "")
                 + ("" if self.opened_at_first_press else "; an incident not dated by its first press")
                 if self.panics_pressed else "")
        return (f"{self.case} ({self.workers} writers): {self.acknowledged} acknowledged, {self.stored} stored, "
                f"{self.duplicates} duplicates, {self.dead_letters} dead letters{panic} -> "
                f"{'OK' if self.ok else 'LOSS'}")


FULL = (Case("broker-restart", broker_restart=True),
        # The baseline: the same restart with the workers in one MQTT v5 shared group (the old default).
        Case("broker-restart, shared group", broker_restart=True, subscription="shared"),
        Case("deploy: ingest and broker restarted", deploy_restart=True),
        Case("deploy: ingest and broker restarted, shared group", deploy_restart=True, subscription="shared"),
        Case("database-down-60s", database_down_s=60),
        Case("worker-sigkill", kill=True), Case("panics-in-outage", database_down_s=60, panics=20),
        Case("all-three", broker_restart=True, database_down_s=60, kill=True, panics=20),
        Case("scale-3-2-3", rescale=(3, 2, 3)))
# The reduced form `make test` runs (tests/ingest/test_fault_run.py).
QUICK = (Case("broker-restart+sigkill", broker_restart=True, kill=True),
         Case("deploy-restart", deploy_restart=True),
         Case("panic-in-outage", database_down_s=8, panics=3))


@contextmanager
def _services(root: Path) -> Iterator[tuple[PostgresCluster, MosquittoBroker]]:
    """Start a private PostgreSQL and Mosquitto under ``root``; both stopped (and their files removed) afterwards."""
    pg_owner, mq_owner = postgres_owner(), OsUser.lookup("mosquitto") if is_root() else None
    pg_root, mq_root = root / "pg", root / "mqtt"
    for path, owner in ((pg_root, pg_owner), (mq_root, mq_owner)):
        path.mkdir()
        if owner is not None:
            os.chown(path, owner.uid, owner.gid)
    cluster = PostgresCluster(bindir=find_postgres_bindir(), root=pg_root, port=free_port(), owner=pg_owner)
    broker = MosquittoBroker(binary=find_mosquitto(), root=mq_root, port=free_port(), owner=mq_owner)
    cluster.init()
    cluster.start()
    try:
        with psycopg.connect(cluster.url("postgres"), autocommit=True) as admin:
            admin.execute("CREATE DATABASE campusguard")
        broker.start()
        try:
            yield cluster, broker
        finally:
            broker.stop()
    finally:
        cluster.stop()
        if not cluster.socket_dir.is_relative_to(pg_root):
            shutil.rmtree(cluster.socket_dir, ignore_errors=True)


def _prepare(url: str) -> None:
    with psycopg.connect(url) as conn:
        migrate(conn, StorageBackend.AUTO, RetentionSettings())
        load_site(conn, read_site(EXAMPLE))
        conn.cursor().executemany(
            "INSERT INTO devices (id, school_id, kind, name, source) VALUES (%s, %s, 'bus_tracker', %s,"
            " 'campusguard')", [(f"fault-{i}", SCHOOL, f"Fault {i}") for i in range(DEVICES)])


class Publisher:
    """A fleet's MQTT connection: QoS 1, a persistent session, paho resending what the broker did not take."""

    def __init__(self, mqtt_url: str) -> None:
        """Connect; paho reconnects by itself after a broker restart."""
        endpoint = parse_broker_url(mqtt_url)
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"cg-fault-fleet-{uuid.uuid4().hex[:6]}",
                                   protocol=MQTTProtocolVersion.MQTTv5)
        self._client.max_inflight_messages_set(500)
        self._client.max_queued_messages_set(0)
        self._client.reconnect_delay_set(min_delay=1, max_delay=1)
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = 3600
        self._lock = threading.Lock()
        self.sent = 0
        self._acked = 0
        # Each PUBACK once (paho calls this when a QoS 1 message is acknowledged, after a resend too).
        self._client.on_publish = lambda client, userdata, mid, reason, properties: self._ack()
        self._client.connect(endpoint.host, endpoint.port, clean_start=False, properties=props)
        self._client.loop_start()

    def _ack(self) -> None:
        with self._lock:
            self._acked += 1

    def publish(self, topic: str, payload: bytes) -> None:
        """Queue one QoS 1 message (paho keeps it while the broker is away and sends it on reconnecting)."""
        self._client.publish(topic, payload, qos=1)
        self.sent += 1

    def acknowledged(self) -> int:
        """How many the broker has acknowledged."""
        with self._lock:
            return self._acked

    def forget(self) -> None:
        """Start counting afresh (after the probes)."""
        with self._lock:
            self.sent = self._acked = 0

    def close(self) -> None:
        """Disconnect."""
        self._client.disconnect()
        self._client.loop_stop()


class Ingest:
    """``campusguard ingest`` and ``campusguard alerts`` as child processes, each logging to a file."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        """Prepare; nothing starts yet."""
        self._env = env
        self._logs = logs
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, *args: str) -> None:
        """Start ``python -m campusguard <args>`` under ``name``."""
        with (self._logs / f"{name}.log").open("ab") as out:
            self.procs[name] = subprocess.Popen([sys.executable, "-m", "campusguard", *args], env=self._env,
                                                stdout=out, stderr=subprocess.STDOUT)

    def stop(self, name: str) -> None:
        """SIGTERM one process (the ingest supervisor drains its children) and wait."""
        proc = self.procs.pop(name)
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=90)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def tails(self, lines: int = 25) -> str:
        """Show the end of every process's log, for an error message."""
        return "\n".join(f"--- {path.stem}\n" + "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
                         for path in sorted(self._logs.glob("*.log")))

    def close(self) -> None:
        """Stop everything still running."""
        for name in list(self.procs):
            self.stop(name)


def _children(pid: int) -> dict[str, int]:
    """Find the ingest supervisor's children by role: ``receiver`` and ``writer-<i>``."""
    found = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in map(int, (task / "children").read_text().split()):
            try:
                argv = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
            except FileNotFoundError:
                continue
            if b"ingest-receiver" in argv:
                found["receiver"] = child
            elif b"--index" in argv:
                found[f"writer-{int(argv[argv.index(b'--index') + 1])}"] = child
    return found


def _scalar(url: str, query: str, *params: object) -> int:
    with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
        row = conn.execute(query, params or None).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def _wait(predicate: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if predicate():
                return True
        except psycopg.OperationalError:
            pass  # the database is down in this phase
        time.sleep(0.2)
    return False


def run_case(case: Case, messages: int, rate: float, workers: int = 2) -> Outcome:
    """Run one case end to end on private services; returns what it measured."""
    root = Path(tempfile.mkdtemp(prefix="cg-faults-"))
    root.chmod(0o711)  # the postgres and mosquitto accounts reach their own folders below it
    outcome = Outcome(case.name, workers)
    try:
        with _services(root) as (cluster, broker):
            url = cluster.url()
            _prepare(url)
            _run(case, messages, rate, workers, url, cluster, broker, root, outcome)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return outcome


def _run(case: Case, messages: int, rate: float, workers: int, url: str, cluster: PostgresCluster,
         broker: MosquittoBroker, root: Path, outcome: Outcome) -> None:
    env = dict(os.environ, CAMPUSGUARD_MODE="production", CAMPUSGUARD_DATABASE_URL=url,
               CAMPUSGUARD_MQTT_URL=broker.url, CAMPUSGUARD_DATA_DIR=str(root / "data"),
               CAMPUSGUARD_SECRET_KEY=secrets.token_hex(32), CAMPUSGUARD_ADMIN_PASSWORD=secrets.token_hex(12),
               CAMPUSGUARD_INGEST__METRICS_PORT="0", CAMPUSGUARD_INGEST__HTTP_PORT="0",
               CAMPUSGUARD_INGEST__FEED_GEO="false")
    for name in ("CAMPUSGUARD_INGEST__WORKERS", "CAMPUSGUARD_INGEST__SUBSCRIPTION"):
        env.pop(name, None)  # the product's defaults unless the case says
    if case.subscription is not None:
        env["CAMPUSGUARD_INGEST__SUBSCRIPTION"] = case.subscription
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    procs = Ingest(env, root)
    counts = list(case.rescale) or [workers]
    outcome.workers = counts[0]
    procs.start("ingest", "ingest", "--workers", str(counts[0]), "--no-http")
    procs.start("alerts", "alerts")
    fleet = Publisher(broker.url)
    try:
        # Ready when a probe fix (timed before the run's fixes, left out of the counts) is stored; probes are
        # sent until one is, since those published before the receiver subscribed reach nobody.
        def probed() -> bool:
            probe = {"ts": (start - timedelta(minutes=5, seconds=fleet.sent)).isoformat(), "lat": 40.8,
                     "lon": -96.7}
            fleet.publish(f"campusguard/v1/{SCHOOL}/gps/fault-0", json.dumps(probe).encode())
            time.sleep(0.5)
            return _scalar(url, "SELECT count(*) FROM positions") > 0

        if not _wait(probed, 60):
            raise RuntimeError(f"ingest never stored the probe fix:\n{procs.tails()}")
        _wait(lambda: fleet.acknowledged() == fleet.sent, 30)
        fleet.forget()
        down_at: list[float] = []
        back_at: list[datetime] = []
        faults = _faults(case, messages, counts, cluster, broker, procs, fleet, down_at, back_at, outcome)
        period = 1.0 / rate
        began = time.monotonic()
        for n in range(messages):
            faults(n)
            body = {"ts": (start + timedelta(seconds=n // DEVICES, microseconds=n % DEVICES)).isoformat(),
                    "lat": 40.8 + (n % 997) * 1e-5, "lon": -96.7, "speed_kmh": 30.0}
            fleet.publish(f"campusguard/v1/{SCHOOL}/gps/fault-{n % DEVICES}", json.dumps(body).encode())
            lag = began + (n + 1) * period - time.monotonic()
            if lag > 0:
                time.sleep(lag)
        faults(messages)
        if not _wait(lambda: fleet.acknowledged() >= fleet.sent, SETTLE_S):
            outcome.notes.append("the broker did not acknowledge every message")
        outcome.acknowledged = fleet.acknowledged() - outcome.panics_pressed
        stored = f"SELECT count(*) FROM positions WHERE device_id LIKE 'fault-%%' AND time >= '{start.isoformat()}'"
        _wait(lambda: _scalar(url, stored) >= outcome.acknowledged, SETTLE_S)
        outcome.stored = _scalar(url, stored)
        outcome.duplicates = max(0, outcome.stored - outcome.acknowledged)
        outcome.dead_letters = _scalar(url, "SELECT count(*) FROM dead_letters")
        if outcome.panics_pressed:
            _judge_panics(url, outcome, back_at[0] if back_at else None)
    finally:
        fleet.close()
        procs.close()


def _faults(case: Case, messages: int, counts: list[int], cluster: PostgresCluster, broker: MosquittoBroker,
            procs: Ingest, fleet: Publisher, down_at: list[float], back_at: list[datetime],
            outcome: Outcome) -> Callable[[int], None]:
    """Build the case's faults as a function of progress (message ``n``), run in the publishing loop."""
    at = {int(messages * 0.3): "broker", int(messages * 0.4): "db-down", int(messages * 0.5): "kill"}
    rescale_at = {int(messages * (0.3 + 0.3 * i)): count for i, count in enumerate(counts[1:])}
    pressed = [0]
    restarting: list[threading.Thread] = []

    def restart_broker(with_ingest: bool) -> None:
        # On a thread of its own: the fleet keeps publishing meanwhile (paho holds what the broker cannot take).
        if with_ingest:
            procs.stop("ingest")
        broker.stop()
        time.sleep(BROKER_DOWN_S)
        broker.start()
        if with_ingest:
            time.sleep(BROKER_DOWN_S)  # devices are back before ingest is
            procs.start("ingest", "ingest", "--workers", str(outcome.workers), "--no-http")

    def step(n: int) -> None:
        what = at.get(n)
        if what == "broker" and (case.broker_restart or case.deploy_restart):
            restarting.append(threading.Thread(target=restart_broker, args=(case.deploy_restart,)))
            restarting[-1].start()
        elif what == "db-down" and case.database_down_s:
            cluster.stop()
            down_at.append(time.monotonic())
        elif what == "kill" and case.kill:
            children = _children(procs.procs["ingest"].pid)
            # The receiver and a writer (in the shared layout, worker 0: it receives and writes).
            for name in ("receiver", "writer-0"):
                if name in children:
                    os.kill(children[name], signal.SIGKILL)
        if n in rescale_at:
            procs.stop("ingest")
            outcome.workers = rescale_at[n]
            procs.start("ingest", "ingest", "--workers", str(rescale_at[n]), "--no-http")
        if down_at and not back_at:
            elapsed = time.monotonic() - down_at[0]
            # Presses spread over the outage, from two seconds in to two seconds before its end.
            spacing = (case.database_down_s - 4) / max(1, case.panics)
            while pressed[0] < case.panics and elapsed >= 2 + pressed[0] * spacing:
                name, _ = BUTTONS[pressed[0] % len(BUTTONS)]
                # Each press its own payload, as a button's battery and link quality readings vary.
                body = {"action": "single", "battery": 90, "linkquality": 40 + pressed[0]}
                fleet.publish(f"zigbee2mqtt/{name}", json.dumps(body).encode())
                pressed[0] += 1
                outcome.panics_pressed = pressed[0]
            if elapsed >= case.database_down_s:
                cluster.start()
                back_at.append(datetime.now(UTC))
        if n == messages:
            for thread in restarting:
                thread.join()
        if n == messages and down_at and not back_at:
            while time.monotonic() - down_at[0] < case.database_down_s:
                time.sleep(0.2)
                step(-1)

    return step


def _judge_panics(url: str, outcome: Outcome, back_at: datetime | None) -> None:
    ids = [device for _, device in BUTTONS]

    def presses() -> list[tuple[str, datetime]]:
        with psycopg.connect(url, autocommit=True) as conn:
            rows = conn.execute("SELECT device_id, time FROM device_events WHERE kind = 'panic'"
                                " AND device_id = ANY(%s) ORDER BY time", (ids,)).fetchall()
        return [(r[0], r[1]) for r in rows]

    def decided() -> list[tuple[str, int | None, datetime]]:
        signal_ids = [signal_id_of("panic", device, at) for device, at in presses()]
        with psycopg.connect(url, autocommit=True) as conn:
            rows = conn.execute("SELECT signal_id, incident_id, processed_at FROM alert_signals"
                                " WHERE signal_id = ANY(%s) AND decision NOT LIKE 'failed%%'",
                                (signal_ids,)).fetchall()
        return [(r[0], r[1], r[2]) for r in rows]

    _wait(lambda: len(presses()) >= outcome.panics_pressed and len(decided()) >= len(presses()), SETTLE_S)
    stored, done = presses(), decided()
    outcome.panics_stored, outcome.panics_decided = len(stored), len(done)
    if back_at is not None and done:
        outcome.decided_after_s = max(0.0, (max(at for _, _, at in done) - back_at).total_seconds())
    first: dict[int, datetime] = {}
    by_signal = {signal_id_of("panic", device, at): at for device, at in stored}
    for signal_id, incident_id, _ in done:
        if incident_id is not None:
            first[incident_id] = min(first.get(incident_id, by_signal[signal_id]), by_signal[signal_id])
    with psycopg.connect(url, autocommit=True) as conn:
        for incident_id, earliest in first.items():
            row = conn.execute("SELECT opened_at FROM incidents WHERE id = %s", (incident_id,)).fetchone()
            if row is None or row[0] != earliest:
                outcome.opened_at_first_press = False
                opened = row[0] if row else None
                outcome.notes.append(f"incident {incident_id} opened at {opened}, first press {earliest}")


def outcomes(quick: bool = False, only: str | None = None) -> list[Outcome]:
    """Run the cases (the full ones, or the reduced ones of ``make test``), printing each as it ends."""
    cases = QUICK if quick else FULL
    messages, rate = (10_000, 2_000.0) if quick else (100_000, 1_000.0)
    measured = []
    for case in cases:
        if only and case.name != only:
            continue
        outcome = run_case(case, messages, rate)
        print(outcome.line(), *outcome.notes, sep="\n  ", flush=True)
        measured.append(outcome)
    return measured


def run() -> list[Figure]:
    """Run the full cases; one figure each: rows stored against rows the broker acknowledged (target 1.0x)."""
    return [Figure(f"faults {o.case}: stored", o.stored, "rows", "acknowledged by the broker", o.acknowledged)
            for o in outcomes() if o.case in {c.name for c in FULL}]


def main() -> None:
    """Run from the command line; exit 1 on any loss."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="10,000 messages, the reduced cases of make test")
    parser.add_argument("--case", help="run only this case")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    measured = outcomes(args.quick, args.case)
    # The shared-group case is the baseline that shows what the default layout avoids; it may lose.
    judged = [o for o in measured if "shared" not in o.case]
    sys.exit(0 if measured and all(o.ok for o in judged) else 1)


if __name__ == "__main__":
    main()
