"""Live fan-out: position-to-screen latency and server CPU with 500 websocket clients and 2,000 buses at 1 Hz.

Everything runs as in production, on this one machine: a real ``campusguard serve`` (uvicorn, production
settings), ``campusguard ingest`` (its default two worker processes) subscribed to a private Mosquitto, and a
load generator process publishing each bus's fix once a second on our own MQTT schema with ``ts`` = the moment
it is published (:mod:`bench.fleet`: the packets a tracker sends, without paho's cost). The clients (asyncio,
the ``websockets`` library, in this process) sign in with session cookies, open the live socket, and, where
their page has a map, ask for every position of their scope and acknowledge each positions message, as the
map page does. Four mixes of screens (:class:`Screens`): 50 city-wide maps (the baseline), a district's 500
screens (guards' phones, school maps, district maps), 500 city-wide maps that do not say their zoom (every
screen is sent every fix, as before screens said their zoom: the worst case of the fan-out, and the baseline
of the next), and the same 500 maps saying the zoom the map page opens at for the district's schools on a
1920x1080 screen (:func:`fit_zoom`), so that each is sent a fix once its bus moved a pixel (or turned, or ten
seconds passed: command_ui/live_detail.py). Each client stamps a positions message on receipt; latency =
receipt - ``time`` of a position (its publish time), sampled on every SAMPLE_EVERY-th position of every
PARSE_EVERY-th message. A probe polls ``latest_positions``
every 0.1 s for when each fix became visible in the database: the baseline (position to database), and,
subtracted from a client's receipt, the server's own share (database to client). CPU is process time from
``/proc`` (a process and its children), and the whole machine's from ``/proc/stat``; the server's is also given
per screen: milliseconds of CPU per second a screen is open.

The buses drive as buses do, at the 30 km/h they report: each starts somewhere over the district's schools,
drives straight for two minutes, turns round and drives back (:func:`bus_at`). A fleet that barely moved would
flatter the zoomed maps, which are sent only the moves they can show.

The buses are real trackers of a generated site: the example district with its buses cloned (new bus, tracker
and stop ids, the same routes) up to 2,000, loaded through ``load_site``, because the live feed sends the
latest position per device and 2,000 fixes a second onto the example's 21 trackers would collapse to 21.

The database is a private PostgreSQL cluster per phase, not the shared one, so that no phase inherits another's
tables, bloat or backlog (the live sockets themselves hold no database connection: each API process reads
incidents and positions once for all of them).

The machine has 2 cores, shared by the load generator, Mosquitto, the ingest workers, PostgreSQL, the server
and the 500 clients (and by whatever else runs there); figures are for that, not for the server alone. Each
mix runs on a fresh pipeline of its own (database, broker, server, ingest, fleet).
Run: ``python -m devtools.devservices run -- .venv/bin/python -m bench.fanout`` (``--short``: the reduced sizes
``make test`` runs: 100 buses, 20 screens, 5 s measured per mix).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import math
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import yaml
from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException

from bench import report
from bench.fleet import Fleet, topic
from bench.ingest import _broker, _worker_env
from bench.report import Figure
from command_ui.deps import SESSION_COOKIE
from command_ui.live_detail import world_xy
from devtools.devservices import PostgresCluster, find_postgres_bindir, free_port, postgres_owner
from domain.site.models import Site
from domain.site.validate import load_site as read_site
from store.auth_repo import create_session
from store.config import RetentionSettings, StorageBackend
from store.migrate import migrate
from store.site_repo import load_site

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "district.yaml"
BUSES = 2000
CLIENTS = 500
BASELINE_CLIENTS = 50
VIEWER = "daniel-lindqvist"  # the example's city-level district administrator: sees every school's buses


@dataclass(frozen=True, slots=True)
class Screens:
    """Who holds the open screens: (role, how many, whether the page watches positions) per kind of screen.

    A guard's phone page shows incidents and never asks for positions; a school administrator's or an officer's
    map watches its whole scope (opened zoomed out, the most it can ask for); the city-level administrator's
    map watches every bus. Sessions go round-robin over the example's users of each role. ``zoomed``: the maps
    say the zoom the map page opens at (:func:`fit_zoom`); otherwise they say none, and are sent every fix.
    """

    name: str
    groups: tuple[tuple[str, int, bool], ...]
    zoomed: bool = False

    @property
    def clients(self) -> int:
        """How many sockets."""
        return sum(count for _, count, _ in self.groups)


CITY_MAPS = Screens(f"{CLIENTS} city-wide maps, no zoom said", (("city", CLIENTS, True),))
ZOOMED_MAPS = Screens(f"{CLIENTS} city-wide maps", (("city", CLIENTS, True),), zoomed=True)
BASELINE = Screens(f"{BASELINE_CLIENTS} city-wide maps", (("city", BASELINE_CLIENTS, True),))
# A district of 2,000 buses at the scale of the example's schools: three guards on duty per school for most
# of the sockets, every school administrator's map open several times over, and the district officers' maps.
DISTRICT = Screens(f"{CLIENTS} district screens", (
    ("guard", 390, False), ("school_admin", 100, True), ("district_officer", 10, True)))
WARMUP_S = 8  # the first pushes carry the backlog of a fresh connection
MEASURE_S = 30
SETTLE_S = 5  # after starting ingest (its workers subscribed) and the fleet, before the clients connect


@dataclass(frozen=True, slots=True)
class Sizes:
    """The fleet, the three mixes of screens (baseline, district, city-wide) and how long each phase runs."""

    buses: int
    mixes: tuple[Screens, Screens, Screens, Screens]
    warmup_s: float
    measure_s: float
    settle_s: float


FULL = Sizes(buses=BUSES, mixes=(BASELINE, DISTRICT, CITY_MAPS, ZOOMED_MAPS), warmup_s=WARMUP_S,
             measure_s=MEASURE_S, settle_s=SETTLE_S)
SHORT = Sizes(buses=100, mixes=(
    Screens("5 city-wide maps", (("city", 5, True),)),
    Screens("20 district screens", (("guard", 12, False), ("school_admin", 6, True), ("district_officer", 2, True))),
    Screens("20 city-wide maps, no zoom said", (("city", 20, True),)),
    Screens("20 city-wide maps", (("city", 20, True),), zoomed=True)), warmup_s=3, measure_s=5, settle_s=2)
SAMPLE_EVERY = 10
SLICES = 20  # each second's fixes go out in 20 bursts, 50 ms apart, not all at once
INGEST_WORKERS = 2  # the production default (settings.ingest.workers)
TARGET_P99_S = 1.0
PARSE_EVERY = 5
# The fix time in a positions row: the only value written as an ISO 8601 UTC instant (command_ui/live_hub.py).
_TIME = re.compile(rb'"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)"')


@dataclass(frozen=True, slots=True)
class Phase:
    """What one measurement with N clients found; CPU in % of one core, machine busy in % of all cores."""

    screens: str
    clients: int
    connected: int
    failed: int
    p50_s: float
    p99_s: float
    samples: int
    commit_p50_s: float
    commit_p99_s: float
    fanout_p50_s: float
    fanout_p99_s: float
    published_per_s: float
    committed_per_s: float
    messages_per_client_s: float  # positions messages each client received per second
    fixes_per_client_s: float  # fixes in them: below committed_per_s where superseded fixes were skipped
    cpu_pct: dict[str, float]
    machine_busy_pct: float

    @property
    def server_ms_per_screen_s(self) -> float:
        """The server's CPU per open screen: milliseconds of CPU for each second a screen is open."""
        return self.cpu_pct["server"] * 10 / max(1, self.clients)


def bench_site(out: Path, buses: int = BUSES) -> list[tuple[str, str]]:
    """Write the example district with its buses cloned up to ``buses``; return every bus tracker (school, device)."""
    data = yaml.safe_load(EXAMPLE.read_text())
    schools = [s for unit in data["organisation"]["units"] for s in unit["schools"]]
    originals = [(school, bus) for school in schools for bus in school.get("buses", [])]
    for n in range(buses - len(originals)):
        school, bus = originals[n % len(originals)]
        clone = copy.deepcopy(bus)
        clone["id"] = f"{bus['id']}-x{n:04d}"
        clone["name"] = f"{bus['name']} x{n}"
        clone.pop("plate", None)
        clone["trackers"] = [{"id": f"{clone['id']}-gps", "source": "campusguard"}]
        for k, stop in enumerate(clone["route"]["stops"]):
            stop["id"] = f"{clone['id']}-s{k}"
        school["buses"].append(clone)
    out.write_text(yaml.safe_dump(data, sort_keys=False))
    # Our own schema's trackers only: the topic carries the device id, so the generator can speak for each.
    return [(school["id"], tracker["id"]) for school in schools for bus in school["buses"]
            for tracker in bus["trackers"] if tracker["source"] == "campusguard"][:buses]


def campus_box(site_file: Path = EXAMPLE) -> tuple[float, float, float, float]:
    """Give the WGS-84 box (west, south, east, north) round every school's campus: what the map page fits to."""
    data = yaml.safe_load(site_file.read_text())
    corners = [corner for unit in data["organisation"]["units"] for school in unit["schools"]
               for ring in school["campus"]["coordinates"] for corner in ring]
    lons, lats = [c[0] for c in corners], [c[1] for c in corners]
    return min(lons), min(lats), max(lons), max(lats)


def fit_zoom(box: tuple[float, float, float, float], width: int = 1920, height: int = 1080) -> int:
    """Give the zoom the map page opens at on a screen this size: Leaflet's fitBounds of the box padded 15 %.

    As Leaflet computes it with zoomSnap 1: the zoom at which the padded box just fits, rounded to a hundredth,
    then down to a whole zoom.
    """
    west, south, east, north = box
    pad_lon, pad_lat = (east - west) * 0.15, (north - south) * 0.15  # map-page.js: .pad(0.15)
    left, top = world_xy(west - pad_lon, north + pad_lat)
    right, bottom = world_xy(east + pad_lon, south - pad_lat)
    return math.floor(round(math.log2(min(width / (right - left), height / (bottom - top))), 2))


SPEED_KMH = 30.0
LEG_S = 120  # each bus drives straight this long, turns round and drives back
METRES_PER_DEGREE = 111_320.0


def bus_at(n: int, second: int, box: tuple[float, float, float, float]) -> tuple[float, float, float]:
    """Where bus ``n`` is at ``second``, and its heading: (lon, lat, degrees clockwise from north).

    Starts spread evenly over the box (an additive recurrence), each bus in its own direction (the golden
    angle apart), at its own point of the out-and-back cycle.
    """
    west, south, east, north = box
    lon0 = west + (east - west) * ((n * 0.6180339887) % 1.0)
    lat0 = south + (north - south) * ((n * 0.7548776662) % 1.0)
    out = (n * 137.50776) % 360.0
    cycle = (second + n * 7) % (2 * LEG_S)
    # Out along ``out`` for LEG_S seconds, then back along the same line, facing the other way.
    heading, along = (out, cycle) if cycle < LEG_S else ((out + 180.0) % 360.0, 2 * LEG_S - cycle)
    metres, rad = SPEED_KMH / 3.6 * along, math.radians(out)
    return (lon0 + metres * math.sin(rad) / (METRES_PER_DEGREE * math.cos(math.radians(lat0))),
            lat0 + metres * math.cos(rad) / METRES_PER_DEGREE, heading)


@contextlib.contextmanager
def private_postgres(max_connections: int) -> Iterator[tuple[str, int]]:
    """Start a throw-away cluster; yield its URL and postmaster pid."""
    owner = postgres_owner()
    root = Path(tempfile.mkdtemp(prefix="cg-bench-pg-"))
    if owner is not None:
        os.chown(root, owner.uid, owner.gid)
    cluster = PostgresCluster(bindir=find_postgres_bindir(), root=root, port=free_port(), owner=owner)
    cluster.init()
    with (cluster.data_dir / "postgresql.conf").open("a") as conf:
        conf.write(f"\nmax_connections = {max_connections}\n")
    cluster.start()
    try:
        with psycopg.connect(cluster.url("postgres"), autocommit=True) as admin:
            admin.execute("CREATE DATABASE campusguard")
        yield cluster.url(), int((cluster.data_dir / "postmaster.pid").read_text().split()[0])
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


def prepare(url: str, site: Site, screens: Screens, key: bytes) -> list[tuple[str, bool]]:
    """Migrate, load the bench site and open one session per screen; return (token, watches positions) each.

    ``key`` is the server's secret key: sessions are stored under a hash keyed by it.
    """
    now = datetime.now(UTC)
    out = []
    with psycopg.connect(url) as conn:
        migrate(conn, StorageBackend.AUTO, RetentionSettings())
        load_site(conn, site)
        with conn.transaction():
            for role, count, watches in screens.groups:
                users = ([VIEWER] if role == "city" else
                         [r[0] for r in conn.execute("SELECT id FROM users WHERE role = %s ORDER BY id", (role,))])
                for n in range(count):
                    token = secrets.token_urlsafe(32)
                    create_session(conn, token, users[n % len(users)], now, now + timedelta(hours=2), "bench",
                                   key=key)
                    out.append((token, watches))
    return out


def cpu_seconds(pid: int, tree: bool = True) -> float:
    """User + system CPU time of a process (and, with ``tree``, all its descendants) so far, from /proc."""
    children: dict[int, list[int]] = {}
    stats: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                stats[int(entry.name)] = fields
                children.setdefault(int(fields[1]), []).append(int(entry.name))
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        stat = stats.get(current)
        if stat is not None:
            total += int(stat[11]) + int(stat[12])  # utime, stime: fields 14 and 15 of stat
        todo += children.get(current, []) if tree else []
    return total / os.sysconf("SC_CLK_TCK")


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat."""
    ticks = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = ticks[3] + ticks[4]  # idle + iowait
    return (sum(ticks) - idle) / os.sysconf("SC_CLK_TCK"), sum(ticks) / os.sysconf("SC_CLK_TCK")


def start_server(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    """Start ``campusguard serve`` and wait until /health answers."""
    server = subprocess.Popen([sys.executable, "-m", "campusguard", "serve"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code < 500:
                return server
        time.sleep(0.2)
    server.terminate()
    raise RuntimeError("campusguard serve did not come up within 60 s")


async def _client(port: int, token: str, watch: dict[str, Any] | None, index: int, window: tuple[float, float],
                  found: _Received, connected: asyncio.Event, stop: asyncio.Event) -> None:
    headers = {"Cookie": f"{SESSION_COOKIE}={token}"}
    # max_size=None: a snapshot for a city-wide screen carries every bus, far past the library's 1 MiB default.
    async with connect(f"ws://127.0.0.1:{port}/api/v1/live", additional_headers=headers, max_size=None,
                       open_timeout=60) as ws:
        if watch is not None:  # as a map does when it opens zoomed out: every position of its scope
            await ws.send(json.dumps(watch))
        connected.set()
        count = index
        while not stop.is_set():
            try:
                data = await asyncio.wait_for(ws.recv(decode=False), timeout=1)
            except TimeoutError:
                continue
            received = time.time()
            positions = b'"type":"positions"' in data[:40]
            if positions:
                await ws.send('{"type":"ack"}')  # as the map page does once it has drawn them
            if not window[0] <= received < window[1] or not positions:
                continue
            found.messages += 1
            found.rows += data.count(b"],[") + 1
            count += 1
            # One message in PARSE_EVERY per client, staggered across clients, and a regex over the raw bytes
            # rather than json.loads: 500 clients parsing every push in one Python process would make the
            # clients, not the server, the thing measured.
            if count % PARSE_EVERY == 0:
                for stamp in _TIME.findall(data)[::SAMPLE_EVERY]:
                    found.receipts.append((received, datetime.fromisoformat(stamp.decode()).timestamp()))


async def _commit_probe(url: str, window: tuple[float, float], latencies: list[float], seen: dict[int, float],
                        committed: list[int], stop: asyncio.Event) -> None:
    """Poll latest_positions every 0.1 s: when each fix became visible in the database (``seen``, by its time).

    That is the baseline (position to database), and what separates the server's share of a client's latency
    from the share of everything before it.
    """
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        row = await (await conn.execute("SELECT coalesce(max(time), now()) FROM latest_positions")).fetchone()
        since: datetime = row[0] if row else datetime.now(UTC)
        counted = False
        while not stop.is_set():
            now = time.time()
            if not counted and now >= window[0]:
                committed.append(await _rows(conn))
                counted = True
            cur = await conn.execute("SELECT time FROM latest_positions WHERE time > %s", (since,))
            stamps = [r[0] for r in await cur.fetchall()]
            if stamps:
                since = max(stamps)
                seen.update((_key(t), now) for t in stamps)
                if window[0] <= now < window[1]:
                    latencies.extend(now - t.timestamp() for t in stamps[::SAMPLE_EVERY])
            await asyncio.sleep(0.1)
        committed.append(await _rows(conn))


def _key(moment: datetime) -> int:
    """Milliseconds since the epoch, truncated as the live feed writes a fix's time."""
    return round(moment.replace(microsecond=moment.microsecond // 1000 * 1000).timestamp() * 1000)


async def _rows(conn: psycopg.AsyncConnection[Any]) -> int:
    row = await (await conn.execute("SELECT count(*) FROM positions")).fetchone()
    return int(row[0]) if row else 0


@dataclass(slots=True)
class _Received:
    """What the clients received in the window: positions messages, their rows, and sampled (receipt, fix time)."""

    messages: int = 0
    rows: int = 0
    receipts: list[tuple[float, float]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Found:
    connected: int
    failed: int
    received: _Received
    commit_latencies: list[float]
    seen: dict[int, float]
    committed: int


async def _measure(port: int, url: str, tokens: list[tuple[str, bool]], warmup_s: float, measure_s: float,
                   zoom: int | None) -> _Found:
    received = _Received()
    commit_latencies: list[float] = []
    seen: dict[int, float] = {}
    committed: list[int] = []
    stop = asyncio.Event()
    start = time.time() + warmup_s
    window = (start, start + measure_s)
    probe = asyncio.create_task(_commit_probe(url, window, commit_latencies, seen, committed, stop))
    flags = [asyncio.Event() for _ in tokens]
    tasks = []
    for n, ((token, watches), flag) in enumerate(zip(tokens, flags, strict=True)):
        watch = {"type": "watch", "positions": True, "bbox": None} | ({} if zoom is None else {"zoom": zoom})
        tasks.append(asyncio.create_task(_client(port, token, watch if watches else None, n, window, received, flag,
                                                 stop)))
        if n % 25 == 24:
            await asyncio.sleep(0.05)  # a ramp, not 500 handshakes in the same millisecond
    await asyncio.sleep(max(0.0, window[1] - time.time()))
    stop.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    await probe
    failed = sum(isinstance(r, (OSError, WebSocketException, TimeoutError)) for r in results)
    others = [r for r in results if isinstance(r, BaseException) and not isinstance(
        r, (OSError, WebSocketException, TimeoutError))]
    if others:
        raise others[0]
    return _Found(sum(f.is_set() for f in flags), failed, received, commit_latencies, seen,
                  committed[-1] - committed[0] if len(committed) == 2 else 0)


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def measure(screens: str, port: int, url: str, tokens: list[tuple[str, bool]], publisher_log: Path,
            pids: dict[str, int], sizes: Sizes = FULL, zoom: int | None = None) -> Phase:
    """Connect the clients, measure for ``sizes.measure_s`` after the warm-up, and read every component's CPU.

    ``zoom``: the zoom the maps say when they watch (None: they say none).
    """
    published_before = _published(publisher_log)
    pids = {**pids, "bench clients": os.getpid()}
    cpu_before = {name: cpu_seconds(pid, tree=name != "bench clients") for name, pid in pids.items()}
    busy_before, total_before = machine_busy()
    wall_before = time.monotonic()
    found = asyncio.run(_measure(port, url, tokens, sizes.warmup_s, sizes.measure_s, zoom))
    receipts = found.received.receipts
    watching = sum(watches for _, watches in tokens)
    latencies = [received - published for received, published in receipts]
    # The server's own share: from the fix being visible in the database to the client having it.
    # A receipt's fix time has the feed's milliseconds already: the same key as the probe's, exactly.
    fanout = [received - found.seen[round(published * 1000)] for received, published in receipts
              if round(published * 1000) in found.seen]
    wall = time.monotonic() - wall_before
    busy_after, total_after = machine_busy()
    cpu = {name: round(100 * (cpu_seconds(pid, tree=name != "bench clients") - cpu_before[name]) / wall, 1)
           for name, pid in pids.items()}
    return Phase(
        screens=screens, clients=len(tokens), connected=found.connected, failed=found.failed,
        p50_s=_quantile(latencies, 0.5), p99_s=_quantile(latencies, 0.99), samples=len(latencies),
        commit_p50_s=_quantile(found.commit_latencies, 0.5), commit_p99_s=_quantile(found.commit_latencies, 0.99),
        fanout_p50_s=_quantile(fanout, 0.5), fanout_p99_s=_quantile(fanout, 0.99),
        published_per_s=(_published(publisher_log) - published_before) / wall,
        committed_per_s=found.committed / sizes.measure_s,
        messages_per_client_s=found.received.messages / max(1, watching) / sizes.measure_s,
        fixes_per_client_s=found.received.rows / max(1, watching) / sizes.measure_s, cpu_pct=cpu,
        machine_busy_pct=round(100 * (busy_after - busy_before) / (total_after - total_before), 1))


def _published(log: Path) -> int:
    lines = log.read_text().splitlines()
    return int(lines[-1].split()[0]) if lines else 0


def publish(port: int, devices_file: Path, log: Path) -> None:
    """Be the load generator: publish each device's fix once a second, ``ts`` = publish time, until killed.

    QoS 1 on our own schema, written by :class:`bench.fleet.Fleet` (the same packets a tracker sends, without
    paho's half a core of Python at this rate, which the measured system would otherwise lose). Each bus is
    where :func:`bus_at` puts it in the box the devices file gives.
    """
    written = json.loads(devices_file.read_text())
    west, south, east, north = written["box"]
    box = (float(west), float(south), float(east), float(north))
    devices = [(topic(f"campusguard/v1/{school}/gps/{device}"), device) for school, device in written["devices"]]
    fleet = Fleet("127.0.0.1", port, f"cg-bench-fleet-{os.getpid()}")
    per_slice = -(-len(devices) // SLICES)
    sent, tick, second = 0, time.monotonic(), 0
    while True:
        for s in range(SLICES):
            stamp = datetime.now(UTC).isoformat()
            packets = []
            for n, (name, _) in enumerate(devices[s * per_slice:(s + 1) * per_slice], start=s * per_slice):
                lon, lat, heading = bus_at(n, second, box)
                packets.append(fleet.packet(name, b'{"ts":"%s","lat":%.6f,"lon":%.6f,"speed_kmh":%.1f,'
                                                  b'"heading":%.0f}' % (stamp.encode(), lat, lon, SPEED_KMH, heading)))
            fleet.send(packets)
            sent += len(packets)
            tick += 1 / SLICES
            # Behind (stopped between phases, or starved of CPU): skip ahead rather than burst to catch up.
            tick = max(tick, time.monotonic() - 1)
            time.sleep(max(0.0, tick - time.monotonic()))
        second += 1
        with log.open("a") as out:
            out.write(f"{sent} {time.time()} {fleet.acked}\n")  # how many so far, when, and how many acked


def run_phases(mixes: tuple[Screens, ...], sizes: Sizes = FULL) -> list[Phase]:
    """Measure each mix of screens on a fresh pipeline of its own, so no phase inherits another's backlog."""
    work = Path(tempfile.mkdtemp(prefix="cg-bench-fanout-"))
    try:
        devices = bench_site(work / "site.yaml", sizes.buses)
        (work / "devices.json").write_text(json.dumps({"devices": devices, "box": campus_box(work / "site.yaml")}))
        site = read_site(work / "site.yaml")  # checked once: 2,000 buses take a while
        phases = []
        for screens in mixes:
            phase = run_phase(work, site, screens, sizes)
            print(f"fanout: {phase}", flush=True)
            phases.append(phase)
        return phases
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run_phase(work: Path, site: Site, screens: Screens, sizes: Sizes = FULL) -> Phase:
    """Start database, broker, server, ingest and fleet; measure with these screens open; stop them all."""
    with private_postgres(100) as (url, postmaster), _broker() as broker:
        env = _worker_env(url, broker.url, work, INGEST_WORKERS, secrets.token_hex(3))
        tokens = prepare(url, site, screens, env["CAMPUSGUARD_SECRET_KEY"].encode())
        http_port = free_port()
        env.update(CAMPUSGUARD_HTTP_HOST="127.0.0.1", CAMPUSGUARD_HTTP_PORT=str(http_port),
                   CAMPUSGUARD_COOKIE_SECURE="false")
        procs: dict[str, subprocess.Popen[bytes]] = {}
        try:
            procs["server"] = start_server(env, http_port)
            # The supervisor with the production default of worker processes, as `campusguard ingest` runs.
            ingest_log = work / f"ingest-{secrets.token_hex(3)}.log"
            with ingest_log.open("wb") as out:
                procs["ingest"] = subprocess.Popen([sys.executable, "-m", "campusguard", "ingest", "--no-http"],
                                                   env=env, stdout=subprocess.DEVNULL, stderr=out)
            time.sleep(sizes.settle_s)  # the workers subscribed before the fleet starts
            log = work / f"published-{secrets.token_hex(3)}.log"
            log.touch()
            procs["load generator"] = subprocess.Popen(
                [sys.executable, "-m", "bench.fanout", "--publish", str(broker.port), str(work / "devices.json"),
                 str(log)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            _wait_committed(url, 60, ingest_log)
            time.sleep(sizes.settle_s)
            pids = {name: proc.pid for name, proc in procs.items()}
            pids["postgres"] = postmaster
            if broker.process is not None:
                pids["mosquitto"] = broker.process.pid
            zoom = fit_zoom(campus_box(work / "site.yaml")) if screens.zoomed else None
            name = screens.name if zoom is None else f"{screens.name} at zoom {zoom}"
            return measure(name, http_port, url, tokens, log, pids, sizes, zoom)
        finally:
            for proc in reversed(procs.values()):
                proc.terminate()
            for proc in procs.values():
                proc.wait(timeout=60)


def _wait_committed(url: str, seconds: float, ingest_log: Path) -> None:
    """Wait for ingest's first committed fix: on a busy machine it may take longer to start than the settling time.

    Measuring before would time a pipeline that stores nothing (every latency NaN); one that never stores raises.
    """
    deadline = time.monotonic() + seconds
    with psycopg.connect(url, autocommit=True) as conn:
        while conn.execute("SELECT 1 FROM latest_positions LIMIT 1").fetchone() is None:
            if time.monotonic() > deadline:
                tail = ingest_log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"ingest stored no fix within {seconds:.0f} s of the fleet starting:\n{tail}")
            time.sleep(0.2)


def run(short: bool = False) -> list[Figure]:
    """Measure and return the figures (latencies in ms, CPU in % of one core; ``short``: make test's sizes)."""
    sizes = SHORT if short else FULL
    base, district, city, zoomed = run_phases(sizes.mixes, sizes)
    for phase in (base, district, city, zoomed):
        verdict = "met" if phase.p99_s < TARGET_P99_S else "missed"
        print(f"{phase.screens}: {phase.connected}/{phase.clients} clients connected ({phase.failed} failed); "
              f"{phase.published_per_s:,.0f} fixes/s published, {phase.committed_per_s:,.0f}/s committed, "
              f"{phase.fixes_per_client_s:,.0f}/s received per map in {phase.messages_per_client_s:.1f} messages; "
              f"position to client p50 {phase.p50_s * 1000:,.0f} ms, p99 {phase.p99_s * 1000:,.0f} ms "
              f"({phase.samples} samples; target p99 < {TARGET_P99_S:.0f} s: {verdict}); position to database "
              f"p50 {phase.commit_p50_s * 1000:,.0f} ms, p99 {phase.commit_p99_s * 1000:,.0f} ms; database to client "
              f"p50 {phase.fanout_p50_s * 1000:,.0f} ms, p99 {phase.fanout_p99_s * 1000:,.0f} ms; CPU % of one "
              f"core: {phase.cpu_pct}, the server's {phase.server_ms_per_screen_s:.2f} ms per screen-second; "
              f"machine (2 cores) {phase.machine_busy_pct}% busy")
    return [
        Figure(f"position to client p99, {district.screens}", district.p99_s * 1000, "ms",
               base.screens, base.p99_s * 1000),
        Figure(f"position to client p50, {district.screens}", district.p50_s * 1000, "ms",
               base.screens, base.p50_s * 1000),
        Figure(f"position to client p99, {district.screens}", district.p99_s * 1000, "ms",
               "position to database p99, same run", district.commit_p99_s * 1000),
        Figure(f"position to client p99, {city.screens}", city.p99_s * 1000, "ms",
               base.screens, base.p99_s * 1000),
        Figure(f"database to client p99, {city.screens}", city.fanout_p99_s * 1000, "ms",
               base.screens, base.fanout_p99_s * 1000),
        Figure(f"server CPU, {district.screens}", district.cpu_pct["server"], "% of a core",
               base.screens, base.cpu_pct["server"]),
        Figure(f"server CPU, {city.screens}", city.cpu_pct["server"], "% of a core",
               base.screens, base.cpu_pct["server"]),
        # What saying the zoom does, against the same maps saying none, in the same run.
        Figure(f"position to client p99, {zoomed.screens}", zoomed.p99_s * 1000, "ms",
               city.screens, city.p99_s * 1000),
        Figure(f"position to client p50, {zoomed.screens}", zoomed.p50_s * 1000, "ms",
               city.screens, city.p50_s * 1000),
        Figure(f"fixes received per map per second, {zoomed.screens}", zoomed.fixes_per_client_s, "fixes/s",
               city.screens, city.fixes_per_client_s),
        # In microseconds: the report prints whole units, and a screen costs a few milliseconds a second.
        Figure(f"server CPU per screen-second, {zoomed.screens}", zoomed.server_ms_per_screen_s * 1000, "µs",
               city.screens, city.server_ms_per_screen_s * 1000),
    ]


def main() -> None:
    """Print the figures (``--short``: make test's sizes), or with ``--publish PORT DEVICES LOG`` be the fleet."""
    if len(sys.argv) == 5 and sys.argv[1] == "--publish":
        publish(int(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]))
        return
    report.main(run, __doc__)


if __name__ == "__main__":
    main()
