"""Ingest throughput: bare paho QoS 1 receive, campusguard's durable pipeline (1 and 2 writers), naive INSERTs.

Every measurement takes the same live stream: N GPS fixes published as fast as 20 ``mosquitto_pub`` processes
(C, one per device topic) push them through a private Mosquitto, with the subscriber already connected. The
clock runs from the start of publishing to the last message received (bare paho) or the last row committed
(campusguard, naive), so the figures compare like with like on this machine. Lag (arrival → commit) comes
from the workers' own Prometheus histogram during a live run at a steady publish rate.
Run: ``make bench`` or ``python -m devtools.devservices run -- .venv/bin/python -m bench.ingest``
(``--short``: the reduced sizes ``make test`` runs; ``--profile DIR``: flame graphs of the receiver and the
writer while one writer drains a backlog, with py-spy, which must be installed).
"""

from __future__ import annotations

import json
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
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from bench import report
from bench.report import Figure, bench_settings
from bench.store_write import _scratch
from devtools.devservices import MosquittoBroker, OsUser, find_mosquitto, free_port, is_root


@dataclass(frozen=True, slots=True)
class Sizes:
    """How many fixes each measurement publishes: the backlogs, and the live run's rate and length."""

    messages: int
    lag_rate: int
    lag_seconds: int


FULL = Sizes(messages=30_000, lag_rate=2_000, lag_seconds=5)
SHORT = Sizes(messages=2_000, lag_rate=500, lag_seconds=2)
MESSAGES = FULL.messages
DEVICES = 20
TOPIC = "campusguard/v1/bench-school/gps/bench-{device}"
# Each measurement's fixes start this far after START (each device publishes one fix a second of device time),
# so no two measurements' fixes share a time.
NAIVE_OFFSET_S = 10_000
LAG_OFFSET_S = 20_000
# Device times within the accepted window (a week back, at most 5 minutes ahead) and within the partitions a
# fresh database has (the plain path creates them two days back), on any day at any hour: the latest fix, the
# live run's at LAG_OFFSET_S plus about 500 s, is about 18 hours before now. Three days back, the naive
# baseline's INSERTs failed with "no partition" inside paho's thread and the benchmark waited forever; one day
# back with the live run at 100,000 s, its fixes were 4 hours ahead of now, refused as future timestamps.
START = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)


@contextmanager
def _broker() -> Iterator[MosquittoBroker]:
    owner = OsUser.lookup("mosquitto") if is_root() else None
    root = Path(tempfile.mkdtemp(prefix="cg-bench-mqtt-"))
    if owner is not None:
        os.chown(root, owner.uid, owner.gid)
    broker = MosquittoBroker(binary=find_mosquitto(), root=root, port=free_port(), owner=owner)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
        shutil.rmtree(root, ignore_errors=True)


def _publish_backlog(port: int, count: int, offset_s: int = 0) -> None:
    """Publish ``count`` fixes spread over DEVICES topics with mosquitto_pub, one process per device."""
    procs = []
    for device in range(DEVICES):
        lines = []
        for n in range(device, count, DEVICES):
            ts = START + timedelta(seconds=offset_s + n // DEVICES, microseconds=device)
            lines.append(json.dumps({"ts": ts.isoformat(), "lat": 40.8 + (n % 1000) * 1e-5, "lon": -96.7,
                                     "speed_kmh": 40.0}))
        proc = subprocess.Popen(
            ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-q", "1", "-V", "mqttv5", "-l",
             "-t", TOPIC.format(device=device)], stdin=subprocess.PIPE)
        assert proc.stdin is not None
        proc.stdin.write(("\n".join(lines) + "\n").encode())
        proc.stdin.close()
        procs.append(proc)
    for proc in procs:
        proc.wait(timeout=300)


def _session(port: int, client_id: str, on_message: mqtt.CallbackOnMessage | None = None) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv5)
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = 3600
    props.ReceiveMaximum = 4000
    subscribed = threading.Event()
    client.on_subscribe = lambda *_: subscribed.set()
    client.on_connect = lambda c, *_: c.subscribe([("campusguard/v1/+/+/+", SubscribeOptions(qos=1))])
    if on_message is not None:
        client.on_message = on_message
    client.connect("127.0.0.1", port, clean_start=False, properties=props)
    client.loop_start()
    subscribed.wait(10)
    return client


def bare_paho_rate(port: int, messages: int = MESSAGES) -> float:
    """Drain a backlog of ``messages`` with a subscriber that does nothing with them."""
    session = f"bench-bare-{uuid.uuid4().hex[:6]}"
    done = threading.Event()
    received = 0

    def on_message(client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        nonlocal received
        received += 1
        if received == messages:
            done.set()

    client = _session(port, session, on_message)
    started = time.perf_counter()
    _publish_backlog(port, messages)
    finished = done.wait(300)
    elapsed = time.perf_counter() - started
    client.disconnect()
    client.loop_stop()
    if not finished:
        raise TimeoutError(f"the bare subscriber received {received} of {messages} messages in 300 s")
    return received / elapsed


def naive_rate(port: int, url: str, messages: int = MESSAGES) -> float:
    """Drain a backlog of a fifth of ``messages`` with a subscriber that INSERTs each message on its own."""
    session = f"bench-naive-{uuid.uuid4().hex[:6]}"
    conn = psycopg.connect(url, autocommit=True)
    done = threading.Event()
    count = 0
    failed: list[BaseException] = []

    def on_message(client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        nonlocal count
        body = json.loads(message.payload)
        try:
            conn.execute("INSERT INTO positions (device_id, time, received_at, lon, lat, speed_kmh, source)"
                         " VALUES (%s, %s, now(), %s, %s, %s, 'bench') ON CONFLICT DO NOTHING",
                         (message.topic.rsplit("/", 1)[1], body["ts"], body["lon"], body["lat"], body["speed_kmh"]))
        except psycopg.Error as exc:  # raised in paho's thread: hand it to the bench, which must not wait on
            failed.append(exc)
            done.set()
            return
        count += 1
        if count == messages // 5:
            done.set()

    client = _session(port, session, on_message)
    started = time.perf_counter()
    _publish_backlog(port, messages // 5, offset_s=NAIVE_OFFSET_S)
    finished = done.wait(600)
    elapsed = time.perf_counter() - started
    client.disconnect()
    client.loop_stop()
    conn.close()
    if failed:
        raise RuntimeError(f"the naive baseline's INSERT failed: {failed[0]}") from failed[0]
    if not finished:
        raise TimeoutError(f"the naive baseline stored {count} of {messages // 5} messages in 600 s")
    return count / elapsed


def _register(url: str, source: str = "campusguard", external_ids: Sequence[str | None] = (None,) * DEVICES) -> None:
    """One bench school with a bus tracker ``bench-{n}`` per external id (None: known by its own id, as MQTT)."""
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO org_units (id, kind, name, path, depth) VALUES"
                    " ('bench', 'city', 'Bench', '/bench/', 0),"
                    " ('bench-school', 'school', 'Bench School', '/bench/bench-school/', 1)")
        cur.execute("INSERT INTO schools (id, name, timezone, campus, school_zone_speed_kmh)"
                    " VALUES ('bench-school', 'Bench School', 'UTC', '{}', 30)")
        cur.executemany("INSERT INTO devices (id, school_id, kind, name, source, external_id) VALUES"
                        " (%s, 'bench-school', 'bus_tracker', %s, %s, %s)",
                        [(f"bench-{n}", f"Bench {n}", source, ident) for n, ident in enumerate(external_ids)])


def _worker_env(url: str, mqtt_url: str, data_dir: Path, workers: int, tag: str) -> dict[str, str]:
    return dict(os.environ, CAMPUSGUARD_MODE="production", CAMPUSGUARD_DATABASE_URL=url,
                CAMPUSGUARD_MQTT_URL=mqtt_url, CAMPUSGUARD_DATA_DIR=str(data_dir),
                CAMPUSGUARD_SECRET_KEY=secrets.token_hex(32), CAMPUSGUARD_ADMIN_PASSWORD=secrets.token_hex(12),
                CAMPUSGUARD_INGEST__WORKERS=str(workers), CAMPUSGUARD_INGEST__CLIENT_ID=f"bench-{tag}",
                CAMPUSGUARD_INGEST__SHARE_GROUP=f"bench{tag}", CAMPUSGUARD_INGEST__HTTP_PORT="0",
                CAMPUSGUARD_INGEST__METRICS_PORT=str(free_port()))


def _start_workers(env: dict[str, str], workers: int) -> list[subprocess.Popen[bytes]]:
    # The production path: the supervisor with its receiver and writers (the default, exclusive layout).
    return [subprocess.Popen([sys.executable, "-m", "campusguard", "ingest", "--workers", str(workers), "--no-http"],
                             env=env, stderr=subprocess.DEVNULL)]


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.wait(timeout=120)


def _count(url: str) -> int:
    """Rows the measurement stored: from START on (readiness probes are timed before it)."""
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM positions WHERE time >= %s", (START,)).fetchone()
    return int(row[0]) if row else 0


def _wait_ready(port: int, url: str, seconds: float = 120) -> None:
    """Publish a probe fix every half second until one is stored: the workers are subscribed and writing.

    A fixed pause was not enough on a busy machine: ingest took longer to start, the fixes published before its
    receiver subscribed reached nobody, and the run waited for rows that could never come. Probes are timed
    before START (one minute apart, so none is a duplicate), so :func:`_count` leaves them out.
    """
    deadline, n = time.monotonic() + seconds, 0
    while time.monotonic() < deadline:
        n += 1
        probe = json.dumps({"ts": (START - timedelta(minutes=n)).isoformat(), "lat": 40.8, "lon": -96.7,
                            "speed_kmh": 0.0})
        subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-q", "1", "-V", "mqttv5",
                        "-t", TOPIC.format(device=0), "-m", probe], check=True, timeout=30)
        time.sleep(0.5)
        with psycopg.connect(url) as conn:
            if conn.execute("SELECT 1 FROM positions WHERE time < %s LIMIT 1", (START,)).fetchone():
                return
    raise TimeoutError(f"ingest stored no probe fix within {seconds:.0f} s of starting")


def _wait_rows(url: str, target: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while (stored := _count(url)) < target:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{stored} of {target} rows stored after {seconds:.0f} s")
        time.sleep(0.05)


def durable_rate(broker: MosquittoBroker, server_url: str, workers: int, subscription: str = "exclusive",
                 messages: int = MESSAGES) -> float:
    """Drain a backlog of ``messages`` through `campusguard ingest --workers N`, until every row is committed.

    ``exclusive`` is the default layout (one receiver, N writers); ``shared``, N workers in a shared group.
    """
    with _scratch(server_url) as url:
        _register(url)
        data_dir = Path(tempfile.mkdtemp(prefix="cg-bench-ingest-"))
        env = _worker_env(url, broker.url, data_dir, workers, uuid.uuid4().hex[:6])
        env["CAMPUSGUARD_INGEST__SUBSCRIPTION"] = subscription
        procs = _start_workers(env, workers)
        try:  # a run that fails (rows that never come) stops its workers all the same
            _wait_ready(broker.port, url)  # connected, subscribed and writing
            started = time.perf_counter()
            _publish_backlog(broker.port, messages)
            _wait_rows(url, messages, 300)
            elapsed = time.perf_counter() - started
            stored = _count(url)
        finally:
            _stop(procs)
            shutil.rmtree(data_dir, ignore_errors=True)
    if stored != messages:
        raise RuntimeError(f"{workers} worker(s) stored {stored} of {messages}")
    return messages / elapsed


def live_lag(broker: MosquittoBroker, server_url: str, rate: int = 2000, seconds: int = 5) -> tuple[float, float]:
    """Publish at a steady rate into one running worker; return its arrival→commit lag p50 and p99 (s)."""
    with _scratch(server_url) as url:
        _register(url)
        data_dir = Path(tempfile.mkdtemp(prefix="cg-bench-lag-"))
        env = _worker_env(url, broker.url, data_dir, 1, uuid.uuid4().hex[:6])
        procs = _start_workers(env, 1)
        try:
            _wait_ready(broker.port, url)
            for second in range(seconds):
                tick = time.perf_counter()
                _publish_backlog(broker.port, rate, offset_s=LAG_OFFSET_S + second * rate // DEVICES)
                time.sleep(max(0.0, 1 - (time.perf_counter() - tick)))
            _wait_rows(url, rate * seconds, 60)
            metrics = httpx.get(f"http://127.0.0.1:{env['CAMPUSGUARD_INGEST__METRICS_PORT']}/metrics").text
        finally:
            _stop(procs)
            shutil.rmtree(data_dir, ignore_errors=True)
    return _quantile(metrics, 0.5), _quantile(metrics, 0.99)


def _quantile(metrics: str, q: float) -> float:
    """Upper bound of the histogram bucket holding quantile q of campusguard_ingest_lag_seconds."""
    buckets = []
    for line in metrics.splitlines():
        if line.startswith("campusguard_ingest_lag_seconds_bucket"):
            bound = line.split('le="')[1].split('"')[0]
            buckets.append((float("inf") if bound == "+Inf" else float(bound), float(line.rsplit(" ", 1)[1])))
    total = buckets[-1][1] if buckets else 0
    return next((bound for bound, seen in buckets if total and seen >= q * total), float("nan"))


def run(short: bool = False) -> list[Figure]:
    """Measure and return the figures (``short``: the reduced sizes ``make test`` runs)."""
    sizes = SHORT if short else FULL
    settings = bench_settings()
    with _broker() as broker:
        bare = bare_paho_rate(broker.port, sizes.messages)
        one = durable_rate(broker, settings.database_url, 1, messages=sizes.messages)
        two = durable_rate(broker, settings.database_url, 2, messages=sizes.messages)
        shared = durable_rate(broker, settings.database_url, 2, "shared", messages=sizes.messages)
        with _scratch(settings.database_url) as url:
            naive = naive_rate(broker.port, url, sizes.messages)
        p50, p99 = live_lag(broker, settings.database_url, sizes.lag_rate, sizes.lag_seconds)
    print(f"ingest lag (arrival to commit) at {sizes.lag_rate:,} msg/s: p50 <= {p50 * 1000:.0f} ms, "
          f"p99 <= {p99 * 1000:.0f} ms")
    return [
        Figure("durable ingest, receiver + 1 writer", one, "msg/s", "bare paho QoS 1 receive, no work", bare),
        Figure("durable ingest, receiver + 2 writers", two, "msg/s", "bare paho QoS 1 receive, no work", bare),
        Figure("durable ingest, receiver + 2 writers", two, "msg/s", "2 workers in a shared group (old default)",
               shared),
        Figure("durable ingest, receiver + 1 writer", one, "msg/s", "naive INSERT per message", naive),
        Figure("durable ingest, receiver + 2 writers", two, "msg/s", "naive INSERT per message", naive),
    ]


def _children(pid: int) -> dict[str, int]:
    """Find the supervisor's processes by role (``receiver``, ``writer``, ``priority``) from their command lines."""
    listing = subprocess.run(["ps", "-o", "pid=,args=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return {line.split(" ingest-")[1].split()[0].replace("worker", "writer"): int(line.split()[0])
            for line in listing.splitlines() if " ingest-" in line}


def _cpu_s(pid: int) -> float:
    """CPU seconds (user and system, every thread) a process has used, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def profile(out: Path, label: str, messages: int = 4 * FULL.messages) -> None:
    """Record py-spy flame graphs of the receiver and of the one writer while they drain a saturating backlog.

    Also prints each process's CPU time per message over the same backlog: on a shared machine the rates swing
    with the neighbours' load, the CPU a message costs much less.
    """
    spy = shutil.which("py-spy", path=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}")
    if spy is None:
        raise SystemExit("py-spy is not installed (pip install py-spy)")
    settings = bench_settings()
    out.mkdir(parents=True, exist_ok=True)
    with _broker() as broker, _scratch(settings.database_url) as url:
        _register(url)
        data_dir = Path(tempfile.mkdtemp(prefix="cg-bench-profile-"))
        env = _worker_env(url, broker.url, data_dir, 1, uuid.uuid4().hex[:6])
        procs = _start_workers(env, 1)
        try:
            _wait_ready(broker.port, url)
            roles = {role: pid for role, pid in _children(procs[0].pid).items() if role in ("receiver", "writer")}
            spies = [subprocess.Popen([spy, "record", "--nonblocking", "--format", "flamegraph", "--rate", "50",
                                       "-o", str(out / f"ingest-{role}-{label}.svg"), "--pid", str(pid)])
                     for role, pid in roles.items()]
            cpu = {role: _cpu_s(pid) for role, pid in roles.items()}
            started = time.perf_counter()
            _publish_backlog(broker.port, messages)
            _wait_rows(url, messages, 600)
            elapsed = time.perf_counter() - started
            cpu = {role: _cpu_s(pid) - cpu[role] for role, pid in roles.items()}
            for recording in spies:
                recording.send_signal(signal.SIGINT)
                recording.wait(timeout=60)
        finally:
            _stop(procs)
            shutil.rmtree(data_dir, ignore_errors=True)
    per_message = ", ".join(f"{role} {seconds * 1e6 / messages:.0f} us" for role, seconds in sorted(cpu.items()))
    print(f"profiled: {messages / elapsed:,.0f} msg/s under py-spy; CPU per message: {per_message}; "
          f"load average {os.getloadavg()[0]:.1f}")


def main() -> None:
    """Print the figures (or record the flame graphs: ``--profile DIR [LABEL]``)."""
    if len(sys.argv) > 2 and sys.argv[1] == "--profile":
        profile(Path(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else "now")
        return
    report.main(run, __doc__)


if __name__ == "__main__":
    main()
