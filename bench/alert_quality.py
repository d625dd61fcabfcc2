"""Alert quality: every incident of a simulated school day scored against what really happened, cameras included.

The simulator knows the truth (``campusguard/simulate/truth.py``): which bus runs late, deviates, speeds,
goes silent or skips its child check, which panic buttons were pressed, and what each camera scene shows
(``campusguard/simulate/camera_scenes.py``). This bench drives a service day of the example district, laid
around now at real time (the one clock, ``campusguard/simulate/cycles.py``), through the real stages as
production runs them: a private PostgreSQL and Mosquitto (``bench/faults.py``'s), ``campusguard ingest`` (MQTT
and OsmAnd HTTP), ``campusguard geo`` (reloading the day's site file), ``campusguard vision`` and ``campusguard
alerts``, each its own process. The devices are as imperfect as real ones (``campusguard/simulate/imperfect.py``):
multipath up to 30 m, uplink dropouts uploaded as backlogs, reordered and duplicated messages, one tracker whose
clock is 3 minutes ahead, and the broker restarted mid-run. Then every incident is matched to the truth and the
bench prints precision and recall per incident type and the detection delay (server time of raising minus the
moment the situation became true), p50/p99.

Cameras: five cameras of the district replay clips through the vision stage's own file source: a person
collapsing in a corridor, five people queueing where three may, a person at a kitchen's cold-room door, someone
standing at a gate past its 20 s, and real courtyard footage (Debian opencv-doc's ``vtest.avi``) in which nothing
is to be raised. The worker plays each clip once, in the day's first minutes, and is stopped; each scene's truth
is dated from the moment the worker opened its clip (``bench/quality_cameras.py``).

Matching: an incident counts for a situation of its type and subject raised in time. A situation whose signal
joined an incident of another type counts too, from the moment its signal was decided: the shipped rules make a
panic pressed near an open person-down incident one emergency, and a bus's deviation while its late arrival is
open one route incident.

The baseline, in the same run: the same day with perfect devices (no multipath, dropouts, reordering,
duplicates, skew or broker restart) on its own private services, started ``BASELINE_LAG_S`` later so that the
two vision workers do not play at once on a two-core machine, scored the same way and printed beside it.

Compressed time and the one clock: the stages date deadlines and decisions by the server's clock, so a day
cannot be played faster than real time without lying to them. The day is compressed instead by laying it
densely: every bus leaves its depot within a few minutes of the start (instead of over an hour), and the
seed (11) puts the scripted situations on short trips, so a whole day's situations happen within ~46
minutes at real-time seconds (both runs together: about 52 minutes). ``--minutes`` cuts the run; the truth
scored is what began before the end.

Run: ``python -m devtools.devservices run -- .venv/bin/python -m bench.alert_quality`` (``--minutes 50``,
``--no-baseline``, ``--no-cameras``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import secrets
import shutil
import socket
import statistics
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import yaml

from bench.faults import Ingest, _services
from bench.quality_cameras import CameraOutcome, CameraWatch, outcomes
from bench.report import Figure
from campusguard.simulate.camera_scenes import SCENES, CameraScene, clip_files, with_cameras
from campusguard.simulate.cycles import Cycle, lay_cycle, leads, write_site
from campusguard.simulate.district import DistrictPlan
from campusguard.simulate.imperfect import REAL_DEVICES, Imperfections
from campusguard.simulate.model import Role
from campusguard.simulate.runner import RunSummary, SimOptions, run_simulation
from campusguard.simulate.truth import Truth
from devtools.devservices import MosquittoBroker, free_port
from domain.site.validate import load_site as read_site
from store.config import RetentionSettings, StorageBackend
from store.migrate import migrate
from store.site_repo import load_site

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "district.yaml"
SEED = 11
"""The seed whose scripted situations all begin within ~46 minutes of the day's start (the dense day)."""
MINUTES = 48.0
SKEW = dt.timedelta(minutes=3)
SLACK = dt.timedelta(minutes=2)
"""An incident raised this long before its situation's start still counts (a projected late arrival)."""
GRACE = dt.timedelta(minutes=15)
"""An incident raised this long after its situation's end still counts as that situation's."""
SETTLE_S = 20.0
"""After the devices stop, the alert stage catches up. Short on purpose: every tracker goes quiet when the run
ends, and waiting out ingest's 180 s offline threshold would raise an offline incident for each (true, but
the bench's doing, not a situation of the day)."""
TARGET_RECALL = frozenset({"panic", "child_check_missed", "route_deviated", "device_offline"})
CAMERA_TYPES = frozenset({"person_down", "crowding", "intrusion", "loitering"})
BASELINE_LAG_S = 120.0
"""The perfect-devices run starts this much later: its cameras play after the first run's are done."""
CLIP_CACHE = Path(tempfile.gettempdir()) / "campusguard-bench-clips"
"""Rendered scene clips, kept between runs (named by a digest of their scene)."""
log = logging.getLogger("bench.alert_quality")  # by name: run as __main__ too
_KIND_TYPE = {"offline": "device_offline", "availability_offline": "device_offline",
              "geo.overspeed_started": "overspeed"}


def incident_type(kind: str) -> str:
    """Return the incident type a signal kind raises by the shipped rules (a geo event's without its prefix)."""
    return _KIND_TYPE.get(kind, kind.removeprefix("geo."))


@dataclass(frozen=True, slots=True)
class Linked:
    """A signal decided into an incident: its kind, its source (and the bus it rides on), when it was decided."""

    kind: str
    subjects: frozenset[str]
    at: dt.datetime


@dataclass(frozen=True, slots=True)
class Raised:
    """An incident as the bench reads it: type, severity, the subjects of its evidence, when it was raised."""

    id: int
    type: str
    severity: str
    subjects: frozenset[str]
    raised_at: dt.datetime
    signals: tuple[Linked, ...] = ()
    """Every signal decided into it (raised, merged, repeated), for a situation that joined another type's."""


@dataclass
class TypeScore:
    """One incident type's figures."""

    truths: int = 0
    detected: int = 0
    incidents: int = 0
    true_incidents: int = 0
    delays_s: list[float] = field(default_factory=list)

    @property
    def recall(self) -> float | None:
        """Share of situations raised (None when there were none)."""
        return self.detected / self.truths if self.truths else None

    @property
    def precision(self) -> float | None:
        """Share of incidents that were a real situation (None when none was raised)."""
        return self.true_incidents / self.incidents if self.incidents else None


@dataclass(frozen=True, slots=True)
class Score:
    """Every type's figures, the false criticals and the misses, by name."""

    types: dict[str, TypeScore]
    false_critical: tuple[Raised, ...]
    false_incidents: tuple[Raised, ...]
    missed: tuple[Truth, ...]

    @property
    def precision(self) -> float:
        """Over all incidents."""
        raised = sum(t.incidents for t in self.types.values())
        return sum(t.true_incidents for t in self.types.values()) / raised if raised else 1.0


def _alerted_at(truth: Truth, incident: Raised, run_end: dt.datetime) -> dt.datetime | None:
    """Return when ``incident`` alerted for ``truth`` (its raising, or the truth's signal joining it), if it did."""
    end = truth.end or run_end
    # A panic never clears: a press of a button whose panic is still open joins that incident (raised earlier).
    earliest = dt.datetime.min.replace(tzinfo=dt.UTC) if truth.type in ("panic", "drill") else truth.start - SLACK
    latest = max(end, truth.start) + GRACE
    times = [s.at for s in incident.signals if incident_type(s.kind) == truth.type and truth.subject in s.subjects]
    if incident.type == truth.type and truth.subject in incident.subjects:
        times.append(incident.raised_at)
    return min((t for t in times if earliest <= t <= latest), default=None)


def score(truths: Sequence[Truth], incidents: Sequence[Raised], run_end: dt.datetime) -> Score:
    """Match incidents to the truth: recall per situation, precision per incident, delay to the first match."""
    types: dict[str, TypeScore] = defaultdict(TypeScore)
    matched: set[int] = set()
    missed = []
    for truth in truths:
        entry = types[truth.type]
        entry.truths += 1
        hits = [(i.id, at) for i in incidents if (at := _alerted_at(truth, i, run_end)) is not None]
        if hits:
            entry.detected += 1
            entry.delays_s.append(max(0.0, (min(at for _, at in hits) - truth.start).total_seconds()))
            matched.update(i for i, _ in hits)
        else:
            missed.append(truth)
    false = []
    for incident in incidents:
        entry = types[incident.type]
        entry.incidents += 1
        if incident.id in matched:
            entry.true_incidents += 1
        else:
            false.append(incident)
    return Score(dict(types), tuple(i for i in false if i.severity == "critical"), tuple(false), tuple(missed))


def read_incidents(url: str, owners: Mapping[str, str]) -> list[Raised]:
    """Read every incident and its signals; a bus tracker names its bus too (``owners``), anything else itself."""
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT id, type, severity, evidence, raised_at FROM incidents ORDER BY id").fetchall()
        decided = conn.execute("SELECT incident_id, signal_id, processed_at FROM alert_signals"
                               " WHERE incident_id IS NOT NULL ORDER BY processed_at").fetchall()
    signals: dict[int, list[Linked]] = defaultdict(list)
    for incident_id, signal_id, at in decided:
        kind, device, _ = str(signal_id).rsplit(":", 2)  # kind:device:micros (store.incident_repo.signal_id_of)
        signals[int(incident_id)].append(Linked(kind, frozenset({device, owners.get(device, device)}), at))
    found = []
    for id_, type_, severity, evidence, raised_at in rows:
        sources = {str(e.get("source_id")) for e in evidence or ()}
        subjects = frozenset(sources | {owners.get(s, s) for s in sources})
        found.append(Raised(int(id_), str(type_), str(severity), subjects, raised_at, tuple(signals.get(int(id_), ()))))
    return found


def _quantile(values: Sequence[float], q: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _delay(t: TypeScore, q: float) -> str:
    return f"{_quantile(t.delays_s, q):.1f} s" if t.delays_s else "-"


def table(result: Score) -> str:
    """Return the per-type table, in markdown."""
    lines = ["| incident type | situations | raised | recall | incidents | precision | delay p50 | delay p99 |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, t in sorted(result.types.items()):
        lines.append(f"| {name} | {t.truths} | {t.detected} | {_share(t.recall)} | {t.incidents} "
                     f"| {_share(t.precision)} | {_delay(t, 0.5)} | {_delay(t, 0.99)} |")
    return "\n".join(lines)


def _beside(a: TypeScore, b: TypeScore, q: float) -> str:
    if not a.delays_s or not b.delays_s:
        return f"{_delay(a, q)} / {_delay(b, q)}"
    x, y = _quantile(a.delays_s, q), _quantile(b.delays_s, q)
    return f"{x:.1f} / {y:.1f} s ({x - y:+.1f} s)"


def compare_table(imperfect: Score, perfect: Score) -> str:
    """Return the per-type table of two runs, each cell "imperfect / perfect" (delays with their difference)."""
    lines = ["| incident type | situations | recall | incidents | precision | delay p50 | delay p99 |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for name in sorted(set(imperfect.types) | set(perfect.types)):
        a, b = imperfect.types.get(name, TypeScore()), perfect.types.get(name, TypeScore())
        lines.append(f"| {name}{' (camera)' if name in CAMERA_TYPES else ''} | {a.truths} / {b.truths} "
                     f"| {_share(a.recall)} / {_share(b.recall)} | {a.incidents} / {b.incidents} "
                     f"| {_share(a.precision)} / {_share(b.precision)} "
                     f"| {_beside(a, b, 0.5)} | {_beside(a, b, 0.99)} |")
    return "\n".join(lines)


def _port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


@dataclass(frozen=True, slots=True)
class Run:
    """One run's truth, incidents and score, and what each camera scene raised."""

    summary: RunSummary
    incidents: tuple[Raised, ...]
    score: Score
    broker_restarted: bool
    cameras: tuple[CameraOutcome, ...] = ()

    @property
    def truth(self) -> tuple[Truth, ...]:
        """The devices' situations and the cameras', by start."""
        return tuple(sorted([*self.summary.truth, *(t for c in self.cameras for t in c.truth)], key=lambda t: t.start))


def run_day(minutes: float, *, seed: int = SEED, buses: frozenset[str] | None = None, panic_every_s: float = 120.0,
            imperfections: Imperfections | None = None, skew: bool = True, broker_restart_at_s: float | None = None,
            settle_s: float = SETTLE_S, cameras: Sequence[CameraScene] = SCENES,
            clips: Mapping[str, Path] | None = None) -> Run:
    """Drive ``minutes`` of a dense service day through the real stages on private services; score it.

    ``cameras`` replay their scenes through a vision worker in the first minutes (``clips``: their files, already
    rendered; else rendered here, or taken from the cache).
    """
    files = dict(clips) if clips is not None else clip_files(cameras, CLIP_CACHE)
    root = Path(tempfile.mkdtemp(prefix="cg-quality-"))
    root.chmod(0o711)  # the postgres and mosquitto accounts reach their own folders below it
    try:
        with _services(root) as (cluster, broker):
            return _run(_Plan(minutes, seed, buses, panic_every_s, imperfections, skew, broker_restart_at_s,
                              settle_s, tuple(cameras), files), root, cluster.url(), broker)
    finally:
        shutil.rmtree(root, ignore_errors=True)


@dataclass(frozen=True, slots=True)
class _Plan:
    minutes: float
    seed: int
    buses: frozenset[str] | None
    panic_every_s: float
    imperfections: Imperfections | None
    skew: bool
    broker_restart_at_s: float | None
    settle_s: float
    cameras: tuple[CameraScene, ...]
    files: Mapping[str, Path]


def _run(p: _Plan, root: Path, url: str, broker: MosquittoBroker) -> Run:
    original: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    if p.cameras:
        original = with_cameras(original, p.cameras, p.files)
    site_file = root / "district.yaml"
    write_site(original, site_file)
    plan = DistrictPlan(read_site(site_file), p.seed, buses=p.buses)
    owners = {d.id: e.bus.id for e in plan.entries for d in e.devices}
    bus_leads = leads(plan)
    started = dt.datetime.now(dt.UTC)
    timetable = root / "timetable.yaml"
    first = lay_cycle(original, bus_leads, started, 0, seed=p.seed, buses=p.buses)
    write_site(first.document, timetable)
    with psycopg.connect(url) as conn:
        migrate(conn, StorageBackend.AUTO, RetentionSettings())
        load_site(conn, first.plan.site)

    def load_day(cycle: Cycle) -> None:
        with psycopg.connect(url) as conn:
            load_site(conn, cycle.plan.site, actor="bench", source=f"service day {cycle.index + 1}")

    http_port = free_port()
    env = dict(os.environ, CAMPUSGUARD_MODE="production", CAMPUSGUARD_DATABASE_URL=url,
               CAMPUSGUARD_MQTT_URL=broker.url, CAMPUSGUARD_DATA_DIR=str(root / "data"),
               CAMPUSGUARD_SECRET_KEY=secrets.token_hex(32), CAMPUSGUARD_ADMIN_PASSWORD=secrets.token_hex(12),
               CAMPUSGUARD_INGEST__METRICS_PORT="0", CAMPUSGUARD_INGEST__HTTP_PORT=str(http_port),
               CAMPUSGUARD_SITE_FILE=str(timetable))
    for name in [*("CAMPUSGUARD_INGEST__WORKERS", "CAMPUSGUARD_INGEST__SUBSCRIPTION", "CAMPUSGUARD_INGEST__FEED_GEO"),
                 *(k for k in env if k.startswith("CAMPUSGUARD_VISION__"))]:
        env.pop(name, None)
    procs = Ingest(env, root)
    procs.start("ingest", "ingest", "--workers", "1")
    procs.start("geo", "geo")
    procs.start("alerts", "alerts")
    watch = None
    if p.cameras:
        # Only the scene cameras: the district's others name addresses that answer nothing here, and would go offline.
        procs.start("vision", "vision", "--site", str(timetable), *(f"--camera={c.camera_id}" for c in p.cameras))
        watch = CameraWatch(procs.procs["vision"].pid, p.files, lambda: procs.stop("vision"))
        watch.start()
    restarted = False
    try:
        deadline = time.monotonic() + 120
        while not _port_open(http_port) and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(8.0)  # geo and alerts subscribe and listen
        log.info("stages up %.1f s after the day's start", (dt.datetime.now(dt.UTC) - started).total_seconds())
        chosen = p.imperfections if p.imperfections is not None else REAL_DEVICES
        if p.skew:
            tracker = next(d.id for e in plan.entries if e.role is Role.NORMAL for d in e.devices
                           if d.source == "campusguard")
            chosen = Imperfections(chosen.multipath_p, chosen.multipath_m, chosen.dropout_every_s, chosen.dropout_s,
                                   chosen.reorder_p, chosen.reorder_s, chosen.duplicate_p, {tracker: SKEW},
                                   chosen.seed)
        options = SimOptions(site_file, broker.url, f"http://127.0.0.1:{http_port}/", seed=p.seed, start=started,
                             duration_s=p.minutes * 60.0,  # from now: a slow start on a busy machine cuts nothing
                             panic_every_s=p.panic_every_s, buses=p.buses, repeat=True, site_out=timetable,
                             on_cycle=load_day, imperfections=chosen)
        lines: list[str] = []
        outcome: list[RunSummary] = []
        def progress(line: str) -> None:
            lines.append(line)
            log.debug("simulation: %s", line)

        simulation = threading.Thread(target=lambda: outcome.append(run_simulation(options, progress)))
        simulation.start()
        if p.broker_restart_at_s is not None:
            simulation.join(timeout=p.broker_restart_at_s)
            if simulation.is_alive():
                broker.stop()
                time.sleep(5.0)
                broker.start()
                restarted = True
        simulation.join()
        if not outcome:
            raise RuntimeError("the simulation failed:\n" + "\n".join(lines[-20:]) + "\n" + procs.tails())
        summary = outcome[0]
        if watch is not None:
            watch.join()  # every clip played once and the worker stopped (its sink written out)
        time.sleep(p.settle_s)
        incidents = read_incidents(url, owners)
        scenes = outcomes(url, p.cameras, watch) if watch is not None else ()
    finally:
        if watch is not None:
            watch.cancel()
            watch.join()
        procs.close()
    truth = [*summary.truth, *(t for scene in scenes for t in scene.truth)]
    return Run(summary, tuple(incidents), score(truth, incidents, summary.ended), restarted, scenes)


def compare(minutes: float = MINUTES, *, cameras: Sequence[CameraScene] = SCENES, baseline: bool = True,
            lag_s: float = BASELINE_LAG_S) -> tuple[Run, Run | None]:
    """Run the day with imperfect devices and, ``lag_s`` later and beside it, with perfect ones; return both."""
    files = clip_files(cameras, CLIP_CACHE)
    restart = minutes * 60.0 / 2
    if not baseline:
        return run_day(minutes, broker_restart_at_s=restart, cameras=cameras, clips=files), None
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="quality") as pool:
        imperfect = pool.submit(run_day, minutes, broker_restart_at_s=restart, cameras=cameras, clips=files)
        time.sleep(lag_s)
        perfect = pool.submit(run_day, minutes, imperfections=Imperfections(), skew=False, cameras=cameras, clips=files)
        return imperfect.result(), perfect.result()


# ---- Dumps, figures and the command line ---------------------------------------------------------------------

def _dump(result: Run) -> dict[str, Any]:
    return {"ended": result.summary.ended.isoformat(),
            "truth": [{**asdict(t), "start": t.start.isoformat(), "end": t.end and t.end.isoformat()}
                      for t in result.truth],
            "incidents": [{"id": i.id, "type": i.type, "severity": i.severity, "subjects": sorted(i.subjects),
                           "raised_at": i.raised_at.isoformat(),
                           "signals": [[s.kind, sorted(s.subjects), s.at.isoformat()] for s in i.signals]}
                          for i in result.incidents]}


def _undump(data: Mapping[str, Any]) -> tuple[Score, dt.datetime]:
    truths = [Truth(t["type"], t["subject"], t["school_id"], dt.datetime.fromisoformat(t["start"]),
                    dt.datetime.fromisoformat(t["end"]) if t["end"] else None, t["critical"]) for t in data["truth"]]
    incidents = [Raised(i["id"], i["type"], i["severity"], frozenset(i["subjects"]),
                        dt.datetime.fromisoformat(i["raised_at"]),
                        tuple(Linked(k, frozenset(s), dt.datetime.fromisoformat(at))
                              for k, s, at in i.get("signals", ())))
                 for i in data["incidents"]]
    ended = dt.datetime.fromisoformat(data["ended"])
    return score(truths, incidents, ended), ended


def rescore(dump: Path) -> dict[str, Score]:
    """Score a dumped run again (after a change to the scoring, without driving the day again), by run name."""
    data = json.loads(dump.read_text())
    runs = data.get("runs", {"imperfect": data})  # a dump from before the baseline holds one run
    return {name: _undump(run)[0] for name, run in runs.items()}


def figures(imperfect: Score, perfect: Score) -> list[Figure]:
    """Return the figures for ``bench/run_all.py``: precision, and each type's recall and delays, against perfect."""
    out = [Figure("overall precision, imperfect devices", 100 * imperfect.precision, "%", "perfect devices",
                  100 * perfect.precision)]
    for name in sorted(set(imperfect.types) | set(perfect.types)):
        a, b = imperfect.types.get(name, TypeScore()), perfect.types.get(name, TypeScore())
        if a.recall is not None and b.recall is not None:
            out.append(Figure(f"recall {name}, imperfect devices", 100 * a.recall, "%", "perfect devices",
                              100 * b.recall))
        for q in (0.5, 0.99):
            if a.delays_s and b.delays_s and _quantile(b.delays_s, q) > 0:  # a zero baseline makes no ratio
                out.append(Figure(f"delay p{round(q * 100)} {name}, imperfect devices", 1000 * _quantile(a.delays_s, q),
                                  "ms", "perfect devices", 1000 * _quantile(b.delays_s, q)))
    return out


def run() -> list[Figure]:
    """Run the whole dense day, imperfect and perfect devices side by side (about 52 minutes); print and return."""
    imperfect, perfect = compare()
    assert perfect is not None  # compare() runs the baseline unless told not to
    _print(imperfect, perfect, MINUTES)
    return figures(imperfect.score, perfect.score)


def _print_run(name: str, result: Run) -> None:
    s = result.score
    print(f"{name}: overall precision {s.precision:.1%} (target >= 95 %); false critical: {len(s.false_critical)}; "
          + ", ".join(f"recall {t} {_share(s.types[t].recall) if t in s.types else '-'}"
                      for t in sorted(TARGET_RECALL)) + " (target 100 %)")
    for incident in s.false_incidents:
        print(f"  false: #{incident.id} {incident.type} {incident.severity} {sorted(incident.subjects)} "
              f"{incident.raised_at.isoformat(timespec='seconds')}")
    for truth in s.missed:
        print(f"  missed: {truth.type} {truth.subject} from {truth.start.isoformat(timespec='seconds')}")
    for scene in result.cameras:
        origin = scene.opened or (scene.truth[0].start if scene.truth else result.summary.started)

        def since(t: dt.datetime, origin: dt.datetime = origin) -> str:
            return f"+{(t - origin).total_seconds():.1f} s"

        told = ", ".join(f"{t.type} {since(t.start)}..{since(t.end or t.start)}" for t in scene.truth) or "nothing"
        found = ", ".join(f"{f.kind} {since(f.time)}" for f in scene.findings) or "nothing"
        odd = scene.unexplained(SLACK, GRACE, incident_type)
        print(f"  camera {scene.scene.camera_id} ({scene.scene.name}{'' if scene.opened else ', never opened'}): "
              f"truth {told}; found {found}{f'; UNEXPLAINED {len(odd)}' if odd else ''} (seconds into the clip)")


def _print(imperfect: Run, perfect: Run | None, minutes: float) -> None:
    print(f"alert quality: {minutes:g} min of a dense day, seed {SEED}, {len(imperfect.cameras)} camera scenes; "
          f"imperfect devices, tracker clock +3 min, broker restart{' (done)' if imperfect.broker_restarted else ''}"
          + ("; beside it, perfect devices" if perfect is not None else ""))
    if perfect is None:
        print(table(imperfect.score))
    else:
        print("each cell: imperfect / perfect devices")
        print(compare_table(imperfect.score, perfect.score))
    _print_run("imperfect", imperfect)
    if perfect is not None:
        _print_run("perfect", perfect)


def main() -> None:
    """Run the bench and print the per-type table and the targets."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=MINUTES, help="How long the devices run (default: the "
                        "dense day's situations, 48 min).")
    parser.add_argument("--no-baseline", action="store_true", help="Only the imperfect devices (half the machine).")
    parser.add_argument("--no-cameras", action="store_true", help="No camera scenes (no vision worker).")
    parser.add_argument("--dump", type=Path, help="Write the truth and the incidents here (JSON), to rescore.")
    parser.add_argument("--rescore", type=Path, help="Only score a run dumped with --dump.")
    args = parser.parse_args()
    logging.basicConfig(format="%(asctime)s %(threadName)s %(message)s")
    logging.getLogger("bench").setLevel(logging.INFO)  # progress: stages up, clips opened, worker stopped
    if args.rescore is not None:
        scores = rescore(args.rescore)
        if set(scores) == {"imperfect", "perfect"}:
            print(compare_table(scores["imperfect"], scores["perfect"]))
        for name, again in scores.items():
            if len(scores) == 1:
                print(table(again))
            print(f"{name}: overall precision {again.precision:.1%}; false critical: {len(again.false_critical)}")
        return
    imperfect, perfect = compare(args.minutes, cameras=() if args.no_cameras else SCENES,
                                 baseline=not args.no_baseline)
    if args.dump is not None:
        runs = {"imperfect": _dump(imperfect), **({"perfect": _dump(perfect)} if perfect is not None else {})}
        args.dump.write_text(json.dumps({"runs": runs}, indent=1))
    _print(imperfect, perfect, args.minutes)


if __name__ == "__main__":
    main()
