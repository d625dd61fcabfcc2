"""Trackers over TCP: JT/T 808 and GT06 terminals against `campusguard ingest`, beside the same fixes over MQTT.

Each path gets a fresh scratch database and a fresh `campusguard ingest` (one receiver, 2 writers, the JT/T 808
and GT06 listeners on) on the same private Mosquitto, and N terminals as asyncio connections in this process:
JT/T 808 (2019) terminals register, authenticate and report 0x0200 locations, each answered 0x8001 once
spooled; GT06 trackers log in and send a location (never answered in GT06) followed by a status packet (0x13,
answered once spooled, so its answer also vouches for the location before it); the MQTT baseline is N device
connections publishing the same fixes at QoS 1 in our schema, their PUBACKs from the broker (an MQTT device's
acknowledgement, given before ingest has the message). Each phase runs the same load:

- steady: one fix per terminal every ``interval`` seconds (start times spread over the interval);
- burst: every terminal sends ``burst`` fixes at once; the clock runs until every row is committed.

Figures: acknowledgement latency p50/p99 (a send to its answer, seen by the terminal), fixes per core-second
(fixes over the CPU seconds ingest's processes and the broker used; PostgreSQL is a shared server and not
counted), burst fixes per second, memory per connection (the RSS delta of the process holding the device
connections over the connections: the receiver for TCP, the broker for MQTT) and rows stored against fixes
acknowledged (nothing lost). Fixes carry no additional items, like the MQTT payload.
Run: ``python -m devtools.devservices run -- .venv/bin/python -m bench.trackers [--terminals 5000]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.fleet import _length
from bench.ingest import _broker, _count, _register, _stop, _worker_env
from bench.report import Figure, bench_settings
from bench.store_write import _scratch
from devtools.devservices import free_port
from ingest.protocols import gt06, jt808
from ingest.protocols.jt808 import Header, Location, MsgId, Result

PATHS = ("jt808", "gt06", "mqtt")
REGISTRATION = struct.pack(">HH", 44, 300) + bytes(11 + 30 + 30) + b"\x02"
GT06_STATUS = bytes([0x44, 0x04, 0x04, 0x00, 0x02])  # ACC on, GPS tracking; voltage 4, signal 4; no alarm
CELL = bytes.fromhex("01CC00 2795 0E2A4B")
MQTT_TOPIC = "campusguard/v1/bench-school/gps/bench-{n}"


@dataclass(frozen=True, slots=True)
class Sizes:
    """What one run drives."""

    terminals: int = 2_000
    interval_s: float = 5.0
    steady_s: float = 30.0
    burst: int = 5
    connecting: int = 100  # connections being opened (and logged in) at once


@dataclass(slots=True)
class Stats:
    """What the terminals of one path saw; latencies are reset per phase."""

    sent: int = 0
    acked: int = 0  # fixes known to be taken
    latencies: list[float] = field(default_factory=list)

    def ack(self, sent_at: float, fixes: int) -> None:
        """Count fixes taken, and the answer's delay."""
        self.acked += fixes
        self.latencies.append(time.perf_counter() - sent_at)


@dataclass(frozen=True, slots=True)
class PathResult:
    """One path's figures."""

    path: str
    terminals: int
    connect_s: float
    steady_fixes: int
    steady_rate: float  # fixes/s offered and answered
    steady_p50_ms: float
    steady_p99_ms: float
    steady_per_core_s: float  # fixes per CPU second of ingest + broker
    burst_fixes: int
    burst_rate: float  # fixes/s, from the burst to the last row committed
    burst_p99_ms: float
    burst_per_core_s: float
    kib_per_connection: float
    acked: int
    stored: int
    client_cpu_s: float


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")


class Client:
    """One device connection: opened and logged in, then writing fixes and counting what is answered."""

    def __init__(self, port: int, ident: str, stats: Stats, first_fix: datetime) -> None:
        """Prepare; :meth:`open` connects."""
        self.port = port
        self.ident = ident
        self.stats = stats
        self.serial = 0
        self.next_fix = first_fix
        self.pending: dict[int, tuple[float, int]] = {}  # serial -> (sent at, fixes it vouches for)
        self.buffer = b""
        self.reader: asyncio.StreamReader
        self.writer: asyncio.StreamWriter
        self.task: asyncio.Task[None] | None = None

    async def open(self) -> None:
        """Connect, log in and start reading answers."""
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        await self.login()
        self.task = asyncio.create_task(self.read())

    async def login(self) -> None:
        """Authenticate as the protocol asks."""

    def fixes(self, count: int) -> list[datetime]:
        """Give the device times of the next ``count`` fixes: one second apart, never twice the same."""
        times = [self.next_fix + timedelta(seconds=n) for n in range(count)]
        self.next_fix += timedelta(seconds=count)
        return times

    def report(self, count: int) -> None:
        """Write ``count`` fixes at once."""
        raise NotImplementedError

    def answered(self, data: bytes) -> None:
        """Take the answers out of what was read."""
        raise NotImplementedError

    async def read(self) -> None:
        """Read answers until the connection closes."""
        while data := await self.reader.read(65536):
            self.answered(data)

    def take(self, serial: int, ok: bool) -> None:
        """Match an answer to what it answers."""
        sent = self.pending.pop(serial, None)
        if sent is not None and ok:
            self.stats.ack(*sent)

    async def close(self) -> None:
        """Close the connection."""
        if self.task is not None:
            self.task.cancel()
        self.writer.close()


class Jt808Terminal(Client):
    """A JT/T 808 (2019) terminal: register, authenticate, report 0x0200; 0x8001 answers each report."""

    def frame(self, msg_id: int, body: bytes) -> bytes:
        """Encode a message with the next serial."""
        self.serial = (self.serial + 1) & 0xFFFF
        return jt808.encode_frame(Header(msg_id, self.ident, self.serial, 1), body)

    async def ask(self, msg_id: int, body: bytes) -> jt808.Frame:
        """Send a message and wait for the platform's answer."""
        self.writer.write(self.frame(msg_id, body))
        while True:
            frames, _, rest = jt808.split_frames(self.buffer)
            if frames:
                self.buffer = b"".join(frames[1:]) + rest
                return jt808.parse_frame(frames[0])
            data = await self.reader.read(4096)
            if not data:
                raise ConnectionError(f"terminal {self.ident}: the platform closed the connection")
            self.buffer += data

    async def login(self) -> None:
        """Register for a code, then authenticate with it."""
        answer = await self.ask(MsgId.REGISTER, REGISTRATION)
        if answer.body[2] != jt808.RegisterResult.OK:
            raise ConnectionError(f"terminal {self.ident}: registration answered {answer.body[2]}")
        code = answer.body[3:].decode("ascii")
        answer = await self.ask(MsgId.AUTHENTICATE, jt808.authentication_body(code, 1))
        if answer.body[4] != Result.OK:
            raise ConnectionError(f"terminal {self.ident}: authentication refused")

    def report(self, count: int) -> None:
        """Write ``count`` location reports in one write; each is answered on its own."""
        now = time.perf_counter()
        frames = []
        for at in self.fixes(count):
            body = jt808.encode_location(Location(0, 0b10, 40.79 + (self.serial % 100) * 1e-5, -96.63, 350, 36.5,
                                                  90, at, {}))
            frames.append(self.frame(MsgId.LOCATION, body))
            self.pending[self.serial] = (now, 1)
        self.stats.sent += count
        self.writer.write(b"".join(frames))

    def answered(self, data: bytes) -> None:
        """Match each 0x8001 to the report it answers."""
        frames, _, self.buffer = jt808.split_frames(self.buffer + data)
        for raw in frames:
            frame = jt808.parse_frame(raw)
            if frame.header.msg_id == MsgId.PLATFORM_RESPONSE:
                self.take(struct.unpack(">H", frame.body[:2])[0], frame.body[4] == Result.OK)


class Gt06Tracker(Client):
    """A GT06 tracker: log in, send locations (unanswered) each followed by an answered status packet."""

    def next_serial(self) -> int:
        """GT06's serial: 1..65535."""
        self.serial = self.serial % 0xFFFF + 1
        return self.serial

    async def login(self) -> None:
        """Log in with the IMEI and wait for the answer."""
        self.writer.write(gt06.build_frame(gt06.Protocol.LOGIN, bytes.fromhex("0" + self.ident), self.next_serial()))
        while not (split := gt06.split_frames(self.buffer)).frames:
            data = await self.reader.read(4096)
            if not data:
                raise ConnectionError(f"tracker {self.ident}: the login was refused")
            self.buffer += data
        self.buffer = split.rest

    def report(self, count: int) -> None:
        """Write ``count`` locations and one status in one write; the status's answer vouches for them all."""
        now = time.perf_counter()
        frames = []
        for at in self.fixes(count):
            lat, lon = 40.79 + (self.serial % 100) * 1e-5, 96.63
            content = (bytes([at.year - 2000, at.month, at.day, at.hour, at.minute, at.second, 0xC9])
                       + struct.pack(">IIBH", round(lat * 1_800_000), round(lon * 1_800_000), 36, 0x1400 | 90)
                       + CELL)
            frames.append(gt06.build_frame(gt06.Protocol.LOCATION, content, self.next_serial()))
        frames.append(gt06.build_frame(gt06.Protocol.STATUS, GT06_STATUS, self.next_serial()))
        self.pending[self.serial] = (now, count)
        self.stats.sent += count
        self.writer.write(b"".join(frames))

    def answered(self, data: bytes) -> None:
        """Match each status answer to its status packet."""
        split = gt06.split_frames(self.buffer + data)
        self.buffer = split.rest
        for raw in split.frames:
            frame = gt06.parse_frame(raw)
            self.take(frame.serial, frame.protocol == gt06.Protocol.STATUS)


class MqttDevice(Client):
    """An MQTT 3.1.1 device publishing fixes at QoS 1 in our schema; the broker's PUBACK answers each."""

    async def login(self) -> None:
        """CONNECT with a clean session and wait for the CONNACK."""
        client_id = f"bench-trk-{self.ident}".encode()
        body = b"\x00\x04MQTT\x04\x02\x00\x3c" + struct.pack(">H", len(client_id)) + client_id
        self.writer.write(b"\x10" + bytes([len(body)]) + body)
        connack = await self.reader.readexactly(4)
        if connack[0] != 0x20 or connack[3] != 0:
            raise ConnectionError(f"device {self.ident}: the broker refused it: {connack!r}")
        topic = MQTT_TOPIC.format(n=self.ident).encode()
        self.topic = struct.pack(">H", len(topic)) + topic

    def report(self, count: int) -> None:
        """Publish ``count`` fixes in one write."""
        now = time.perf_counter()
        packets = []
        for at in self.fixes(count):
            self.serial = self.serial % 0xFFFF + 1
            payload = json.dumps({"ts": at.isoformat(), "lat": 40.79 + (self.serial % 100) * 1e-5, "lon": -96.63,
                                  "speed_kmh": 36.5}).encode()
            rest = len(self.topic) + 2 + len(payload)
            packets.append(b"\x32" + _length(rest) + self.topic + struct.pack(">H", self.serial) + payload)
            self.pending[self.serial] = (now, 1)
        self.stats.sent += count
        self.writer.write(b"".join(packets))

    def answered(self, data: bytes) -> None:
        """Every packet back is a 4-byte PUBACK (no subscriptions)."""
        data = self.buffer + data
        whole = len(data) - len(data) % 4
        for at in range(0, whole, 4):
            self.take(struct.unpack(">H", data[at + 2:at + 4])[0], data[at] == 0x40)
        self.buffer = data[whole:]


def _idents(path: str, count: int) -> list[str]:
    if path == "jt808":
        return [f"139{n:08d}" for n in range(count)]
    if path == "gt06":
        return [f"8681203{n:08d}" for n in range(count)]
    return [str(n) for n in range(count)]


def _children(pid: int) -> list[int]:
    found = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        for child in task.read_text().split():
            found += _children(int(child))
    return found


def _cpu_s(pids: list[int]) -> float:
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _receiver(supervisor: int) -> int:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for pid in _children(supervisor)[1:]:
            if b"ingest-receiver" in Path(f"/proc/{pid}/cmdline").read_bytes():
                return pid
        time.sleep(0.1)
    raise RuntimeError("the ingest receiver did not start")


async def _wait(check: Callable[[], Awaitable[bool]], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not await check():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


async def _drive(path: str, port: int, url: str, sizes: Sizes, holder: int,
                 server_pids: Callable[[], list[int]]) -> PathResult:
    """Connect the terminals, run the steady and the burst phases, and count what was stored."""
    stats = Stats()
    kind = {"jt808": Jt808Terminal, "gt06": Gt06Tracker, "mqtt": MqttDevice}[path]
    first = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    clients = [kind(port, ident, stats, first) for ident in _idents(path, sizes.terminals)]
    rss_before = _rss_kib(holder)
    gate = asyncio.Semaphore(sizes.connecting)

    async def open_one(client: Client) -> None:
        async with gate:
            await client.open()

    started = time.perf_counter()
    await asyncio.gather(*(open_one(c) for c in clients))
    connect_s = time.perf_counter() - started

    async def stored() -> int:
        return await asyncio.to_thread(_count, url)

    async def settled() -> bool:
        return not any(c.pending for c in clients) and await stored() >= stats.acked

    # Steady: each terminal reports every interval, the terminals' start times spread over the interval.
    loop = asyncio.get_running_loop()
    cpu = _cpu_s(server_pids())
    begin = loop.time() + 0.5

    async def steady(n: int, client: Client) -> None:
        at = begin + sizes.interval_s * n / len(clients)
        while at < begin + sizes.steady_s:
            await asyncio.sleep(max(0.0, at - loop.time()))
            client.report(1)
            at += sizes.interval_s

    await asyncio.gather(*(steady(n, c) for n, c in enumerate(clients)))
    await _wait(settled, 60)
    steady_cpu = _cpu_s(server_pids()) - cpu
    steady_fixes = stats.sent
    steady_latencies, stats.latencies = stats.latencies, []
    rss_after = _rss_kib(holder)

    # Burst: every terminal sends ``burst`` fixes at once; the clock stops at the last row committed.
    cpu = _cpu_s(server_pids())
    started = time.perf_counter()
    for client in clients:
        client.report(sizes.burst)
    await _wait(settled, 300)
    burst_s = time.perf_counter() - started
    burst_cpu = _cpu_s(server_pids()) - cpu
    burst_fixes = stats.sent - steady_fixes
    for client in clients:
        await client.close()
    rows = await stored()
    return PathResult(
        path, len(clients), connect_s, steady_fixes, steady_fixes / sizes.steady_s,
        _quantile(steady_latencies, 0.5), _quantile(steady_latencies, 0.99),
        steady_fixes / steady_cpu if steady_cpu else float("nan"), burst_fixes, burst_fixes / burst_s,
        _quantile(stats.latencies, 0.99), burst_fixes / burst_cpu if burst_cpu else float("nan"),
        (rss_after - rss_before) / len(clients), stats.acked, rows, 0.0)


def measure_path(path: str, sizes: Sizes, server_url: str, broker_url: str, broker_pid: int,
                 secret_key: str | None = None, admin_password: str | None = None) -> PathResult:
    """Run one path against a fresh database and a fresh `campusguard ingest`."""
    idents = _idents(path, sizes.terminals)
    with _scratch(server_url) as url:
        if path in ("jt808", "gt06"):
            _register(url, path, idents)
        else:
            _register(url, external_ids=[None] * len(idents))
        data_dir = Path(tempfile.mkdtemp(prefix="cg-bench-trackers-"))
        env = _worker_env(url, broker_url, data_dir, 2, uuid.uuid4().hex[:6])
        if secret_key is not None and admin_password is not None:
            env.update(CAMPUSGUARD_SECRET_KEY=secret_key, CAMPUSGUARD_ADMIN_PASSWORD=admin_password)
        ports = {"jt808": free_port(), "gt06": free_port()}
        env.update(CAMPUSGUARD_INGEST__JT808_ENABLED="true", CAMPUSGUARD_INGEST__JT808_PORT=str(ports["jt808"]),
                   CAMPUSGUARD_INGEST__GT06_ENABLED="true", CAMPUSGUARD_INGEST__GT06_PORT=str(ports["gt06"]),
                   CAMPUSGUARD_INGEST__TCP_MAX_CONNECTIONS=str(max(10_000, sizes.terminals * 2)),
                   # No metrics server: its ports (base + index) may be taken on a shared machine, and a writer
                   # that cannot bind one exits, stranding its partition.
                   CAMPUSGUARD_INGEST__METRICS_PORT="0")
        log = data_dir / "ingest.log"
        with log.open("wb") as out:
            # Not --no-http: that turns the TCP listeners off too (the OsmAnd port is off: HTTP_PORT=0).
            supervisor = subprocess.Popen([sys.executable, "-m", "campusguard", "ingest", "--workers", "2"],
                                          env=env, stderr=out)
        try:
            receiver = _receiver(supervisor.pid)
            _wait_port(ports["gt06"], 60)
            _wait_port(ports["jt808"], 60)
            time.sleep(3)  # the MQTT session subscribed, the writers idle
            port = ports.get(path, int(broker_url.rsplit(":", 1)[1]))
            holder = receiver if path in ports else broker_pid
            cpu = time.process_time()
            result = asyncio.run(_drive(path, port, url, sizes, holder,
                                        lambda: [*_children(supervisor.pid), broker_pid]))
            result = replace(result, client_cpu_s=time.process_time() - cpu)
        except BaseException:
            print(log.read_text(errors="replace")[-4000:], file=sys.stderr)
            raise
        finally:
            _stop([supervisor])
            shutil.rmtree(data_dir, ignore_errors=True)
    return result


def _wait_port(port: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"nothing listens on {port}")


def _raise_fd_limit(needed: int) -> int:
    """Raise this process's soft limit on open files to the hard one (the broker and ingest inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    elif hard == resource.RLIM_INFINITY and soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
        soft = needed
    if soft < needed:
        raise RuntimeError(f"{needed} open files needed, the hard limit is {hard}: run fewer terminals")
    return soft


def measure(sizes: Sizes, server_url: str, paths: tuple[str, ...] = PATHS, secret_key: str | None = None,
            admin_password: str | None = None) -> list[PathResult]:
    """Run each path in turn on one private broker and print what was run and the table."""
    limit = _raise_fd_limit(sizes.terminals + 1000)
    print(f"bench.trackers: {sizes.terminals:,} terminals per path, one fix every {sizes.interval_s:g} s for "
          f"{sizes.steady_s:g} s, then a burst of {sizes.burst} fixes each; paths {', '.join(paths)}; "
          f"{os.cpu_count()} cores, open files limit {limit:,}", flush=True)
    results = []
    with _broker() as broker:
        assert broker.process is not None
        for path in paths:
            results.append(measure_path(path, sizes, server_url, broker.url, broker.process.pid, secret_key,
                                        admin_password))
            print(f"bench.trackers: {path} done", flush=True)
    print(table(results))
    return results


def table(results: list[PathResult]) -> str:
    """Render the figures of every path, one row each."""
    rows = ["| path | terminals | connect s | steady fixes/s | ack p50 ms | ack p99 ms | fixes per core-s "
            "| burst fixes | burst fixes/s | burst ack p99 ms | burst fixes per core-s | KiB per connection "
            "| acked | stored | load generator CPU s |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    rows += [f"| {r.path} | {r.terminals:,} | {r.connect_s:.1f} | {r.steady_rate:,.0f} | {r.steady_p50_ms:.1f} "
             f"| {r.steady_p99_ms:.1f} | {r.steady_per_core_s:,.0f} | {r.burst_fixes:,} | {r.burst_rate:,.0f} "
             f"| {r.burst_p99_ms:.0f} | {r.burst_per_core_s:,.0f} | {r.kib_per_connection:.1f} | {r.acked:,} "
             f"| {r.stored:,} | {r.client_cpu_s:.1f} |" for r in results]
    return "\n".join(rows)


NAMES = {"jt808": "JT/T 808 over TCP", "gt06": "GT06 over TCP", "mqtt": "MQTT QoS 1"}


def figures(results: list[PathResult]) -> list[Figure]:
    """Each TCP path's figures against the MQTT path's of the same run, and stored against acknowledged."""
    by_path = {r.path: r for r in results}
    out = []
    base = by_path.get("mqtt")
    for r in results:
        if base is not None and r is not base:
            name, mqtt = NAMES[r.path], f"{NAMES['mqtt']}, same fixes and rate"
            out += [
                Figure(f"{name}: fixes per core-second (ingest + broker CPU), steady", r.steady_per_core_s,
                       "fixes/core-s", mqtt, base.steady_per_core_s),
                Figure(f"{name}: burst to last row committed", r.burst_rate, "fixes/s", mqtt, base.burst_rate),
                # In µs: a few ms at most when steady, which whole milliseconds would print as 0 and 1.
                Figure(f"{name}: acknowledgement p50, steady", r.steady_p50_ms * 1000, "µs",
                       f"{mqtt} (broker PUBACK)", base.steady_p50_ms * 1000),
                Figure(f"{name}: acknowledgement p99, steady", r.steady_p99_ms * 1000, "µs",
                       f"{mqtt} (broker PUBACK)", base.steady_p99_ms * 1000),
                Figure(f"{name}: memory per connection (receiver RSS)", r.kib_per_connection, "KiB",
                       f"{mqtt} (broker RSS)", base.kib_per_connection),
            ]
    out += [Figure(f"{NAMES[r.path]}: rows stored", r.stored, "rows", "fixes acknowledged", r.acked)
            for r in results]
    return out


SHORT = Sizes(terminals=50, steady_s=10.0, burst=3)


def run(short: bool = False) -> list[Figure]:
    """Measure and return the figures (``short``: 50 terminals for 10 s, to see that it runs)."""
    return figures(measure(SHORT if short else Sizes(), bench_settings().database_url))


def main() -> None:
    """Print the figures."""
    default = Sizes()
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--terminals", type=int, default=default.terminals, help="terminals per path (issue: 5000)")
    parser.add_argument("--interval", type=float, default=default.interval_s, help="seconds between fixes")
    parser.add_argument("--seconds", type=float, default=default.steady_s, help="length of the steady phase")
    parser.add_argument("--burst", type=int, default=default.burst, help="fixes per terminal in the burst")
    parser.add_argument("--paths", default=",".join(PATHS), help="comma-separated: jt808,gt06,mqtt")
    parser.add_argument("--short", action="store_true", help="50 terminals for 10 s (the other sizes ignored)")
    args = parser.parse_args()
    sizes = SHORT if args.short else Sizes(args.terminals, args.interval, args.seconds, args.burst)
    paths = tuple(p for p in args.paths.split(",") if p)
    if unknown := set(paths) - set(PATHS):
        parser.error(f"unknown paths: {', '.join(sorted(unknown))}")
    print_figures(figures(measure(sizes, bench_settings().database_url, paths)))


def print_figures(found: list[Figure]) -> None:
    """Print each figure beside its baseline and the ratio, a line each."""
    for figure in found:
        print(f"bench.trackers: {figure.line()}")


if __name__ == "__main__":
    main()
