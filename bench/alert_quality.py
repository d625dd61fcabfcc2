"""Alert quality: every incident of a simulated school day scored against what really happened.

The simulator knows the truth (``campusguard/simulate/truth.py``): which bus runs late, deviates, speeds,
goes silent or skips its child check, and which panic buttons were pressed. This bench drives a service day
of the example district, laid around now at real time (the one clock, ``campusguard/simulate/cycles.py``),
through the real stages as production runs them: a private PostgreSQL and Mosquitto (``bench/faults.py``'s),
``campusguard ingest`` (MQTT and OsmAnd HTTP), ``campusguard geo`` (reloading the day's site file) and
``campusguard alerts``, each its own process. The devices are as imperfect as real ones
(``campusguard/simulate/imperfect.py``): multipath up to 30 m, uplink dropouts uploaded as backlogs,
reordered and duplicated messages, one tracker whose clock is 3 minutes ahead, and the broker restarted
mid-run. Then every incident is matched to the truth and the bench prints precision and recall per incident
type and the detection delay (server time of raising minus the moment the situation became true), p50/p99.

Compressed time and the one clock: the stages date deadlines and decisions by the server's clock, so a day
cannot be played faster than real time without lying to them. The day is compressed instead by laying it
densely: every bus leaves its depot within a few minutes of the start (instead of over an hour), and the
seed (11) puts the scripted situations on short trips, so a whole day's situations happen within ~46
minutes at real-time seconds. ``--minutes`` cuts the run; the truth scored is what began before the end.

Cameras are not scored: the vision stage is being changed, and its clips carry no truth log yet.

Run: ``python -m devtools.devservices run -- .venv/bin/python -m bench.alert_quality`` (``--minutes 50``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import socket
import statistics
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psycopg
import yaml

from bench.faults import Ingest, _services
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


@dataclass(frozen=True, slots=True)
class Raised:
    """An incident as the bench reads it: type, severity, the subjects of its evidence, when it was raised."""

    id: int
    type: str
    severity: str
    subjects: frozenset[str]
    raised_at: dt.datetime


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


def _matches(truth: Truth, incident: Raised, run_end: dt.datetime) -> bool:
    end = truth.end or run_end
    # A panic never clears: a press of a button whose panic is still open joins that incident (raised earlier).
    earliest = dt.datetime.min.replace(tzinfo=dt.UTC) if truth.type in ("panic", "drill") else truth.start - SLACK
    return (incident.type == truth.type and truth.subject in incident.subjects
            and earliest <= incident.raised_at <= max(end, truth.start) + GRACE)


def score(truths: Sequence[Truth], incidents: Sequence[Raised], run_end: dt.datetime) -> Score:
    """Match incidents to the truth: recall per situation, precision per incident, delay to the first match."""
    types: dict[str, TypeScore] = defaultdict(TypeScore)
    matched: set[int] = set()
    missed = []
    for truth in truths:
        entry = types[truth.type]
        entry.truths += 1
        hits = [i for i in incidents if _matches(truth, i, run_end)]
        if hits:
            entry.detected += 1
            entry.delays_s.append(max(0.0, (min(i.raised_at for i in hits) - truth.start).total_seconds()))
            matched.update(i.id for i in hits)
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
    """Read every incident; a bus tracker's evidence names its bus (``owners``), anything else itself."""
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT id, type, severity, evidence, raised_at FROM incidents ORDER BY id").fetchall()
    found = []
    for id_, type_, severity, evidence, raised_at in rows:
        sources = {str(e.get("source_id")) for e in evidence or ()}
        found.append(Raised(int(id_), str(type_), str(severity), frozenset(sources | {owners.get(s, s)
                                                                                      for s in sources}),
                            raised_at))
    return found


def _quantile(values: Sequence[float], q: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


def table(result: Score) -> str:
    """Return the per-type table, in markdown."""
    lines = ["| incident type | situations | raised | recall | incidents | precision | delay p50 | delay p99 |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, t in sorted(result.types.items()):
        recall = "-" if t.recall is None else f"{t.recall:.0%}"
        precision = "-" if t.precision is None else f"{t.precision:.0%}"
        p50 = f"{_quantile(t.delays_s, 0.5):.1f} s" if t.delays_s else "-"
        p99 = f"{_quantile(t.delays_s, 0.99):.1f} s" if t.delays_s else "-"
        lines.append(f"| {name} | {t.truths} | {t.detected} | {recall} | {t.incidents} | {precision} | {p50} | {p99} |")
    return "\n".join(lines)


def _port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


@dataclass(frozen=True, slots=True)
class Run:
    """One run's truth, incidents and score."""

    summary: RunSummary
    incidents: tuple[Raised, ...]
    score: Score
    broker_restarted: bool


def run(minutes: float, *, seed: int = SEED, buses: frozenset[str] | None = None, panic_every_s: float = 120.0,
        imperfections: Imperfections | None = None, skew: bool = True, broker_restart_at_s: float | None = None,
        settle_s: float = SETTLE_S) -> Run:
    """Drive ``minutes`` of a dense service day through the real stages on private services; score it."""
    root = Path(tempfile.mkdtemp(prefix="cg-quality-"))
    root.chmod(0o711)  # the postgres and mosquitto accounts reach their own folders below it
    try:
        with _services(root) as (cluster, broker):
            return _run(minutes, seed, buses, panic_every_s, imperfections, skew, broker_restart_at_s, settle_s,
                        root, cluster.url(), broker)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _run(minutes: float, seed: int, buses: frozenset[str] | None, panic_every_s: float,
         imperfections: Imperfections | None, skew: bool, broker_restart_at_s: float | None, settle_s: float,
         root: Path, url: str, broker: MosquittoBroker) -> Run:
    original = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    plan = DistrictPlan(read_site(EXAMPLE), seed, buses=buses)
    owners = {d.id: e.bus.id for e in plan.entries for d in e.devices}
    bus_leads = leads(plan)
    started = dt.datetime.now(dt.UTC)
    timetable = root / "timetable.yaml"
    first = lay_cycle(original, bus_leads, started, 0, seed=seed, buses=buses)
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
               CAMPUSGUARD_SECRET_KEY="f" * 40, CAMPUSGUARD_ADMIN_PASSWORD="f" * 16,
               CAMPUSGUARD_INGEST__METRICS_PORT="0", CAMPUSGUARD_INGEST__HTTP_PORT=str(http_port),
               CAMPUSGUARD_SITE_FILE=str(timetable))
    for name in ("CAMPUSGUARD_INGEST__WORKERS", "CAMPUSGUARD_INGEST__SUBSCRIPTION", "CAMPUSGUARD_INGEST__FEED_GEO"):
        env.pop(name, None)
    procs = Ingest(env, root)
    procs.start("ingest", "ingest", "--workers", "1")
    procs.start("geo", "geo")
    procs.start("alerts", "alerts")
    restarted = False
    try:
        deadline = time.monotonic() + 120
        while not _port_open(http_port) and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(8.0)  # geo and alerts subscribe and listen
        chosen = imperfections if imperfections is not None else REAL_DEVICES
        if skew:
            tracker = next(d.id for e in plan.entries if e.role is Role.NORMAL for d in e.devices
                           if d.source == "campusguard")
            chosen = Imperfections(chosen.multipath_p, chosen.multipath_m, chosen.dropout_every_s, chosen.dropout_s,
                                   chosen.reorder_p, chosen.reorder_s, chosen.duplicate_p, {tracker: SKEW},
                                   chosen.seed)
        options = SimOptions(EXAMPLE, broker.url, f"http://127.0.0.1:{http_port}/", seed=seed, start=started,
                             duration_s=minutes * 60.0 - (dt.datetime.now(dt.UTC) - started).total_seconds(),
                             panic_every_s=panic_every_s, buses=buses, repeat=True, site_out=timetable,
                             on_cycle=load_day, imperfections=chosen)
        lines: list[str] = []
        outcome: list[RunSummary] = []
        simulation = threading.Thread(target=lambda: outcome.append(run_simulation(options, lines.append)))
        simulation.start()
        if broker_restart_at_s is not None:
            simulation.join(timeout=broker_restart_at_s)
            if simulation.is_alive():
                broker.stop()
                time.sleep(5.0)
                broker.start()
                restarted = True
        simulation.join()
        if not outcome:
            raise RuntimeError("the simulation failed:\n" + "\n".join(lines[-20:]) + "\n" + procs.tails())
        summary = outcome[0]
        time.sleep(settle_s)
        incidents = read_incidents(url, owners)
    finally:
        procs.close()
    run_end = summary.ended
    return Run(summary, tuple(incidents), score(summary.truth, incidents, run_end), restarted)


def rescore(dump: Path) -> tuple[Score, dt.datetime]:
    """Score a dumped run again (after a change to the scoring, without driving the day again)."""
    data = json.loads(dump.read_text())
    truths = [Truth(t["type"], t["subject"], t["school_id"], dt.datetime.fromisoformat(t["start"]),
                    dt.datetime.fromisoformat(t["end"]) if t["end"] else None, t["critical"]) for t in data["truth"]]
    incidents = [Raised(i["id"], i["type"], i["severity"], frozenset(i["subjects"]),
                        dt.datetime.fromisoformat(i["raised_at"])) for i in data["incidents"]]
    ended = dt.datetime.fromisoformat(data["ended"])
    return score(truths, incidents, ended), ended


def main() -> None:
    """Run the bench and print the per-type table and the targets."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=48.0, help="How long the devices run (default: the "
                        "dense day's situations, 48 min).")
    parser.add_argument("--perfect", action="store_true", help="Devices without imperfections (the baseline).")
    parser.add_argument("--dump", type=Path, help="Write the truth and the incidents here (JSON), to rescore.")
    parser.add_argument("--rescore", type=Path, help="Only score a run dumped with --dump.")
    args = parser.parse_args()
    if args.rescore is not None:
        again, _ = rescore(args.rescore)
        print(table(again))
        print(f"overall precision {again.precision:.1%}; false critical: {len(again.false_critical)}")
        return
    restart = args.minutes * 60.0 / 2
    result = run(args.minutes, imperfections=Imperfections() if args.perfect else None, skew=not args.perfect,
                 broker_restart_at_s=None if args.perfect else restart)
    s = result.score
    if args.dump is not None:
        args.dump.write_text(json.dumps({
            "ended": result.summary.ended.isoformat(),
            "truth": [{**asdict(t), "start": t.start.isoformat(), "end": t.end and t.end.isoformat()}
                      for t in result.summary.truth],
            "incidents": [{**asdict(i), "subjects": sorted(i.subjects), "raised_at": i.raised_at.isoformat()}
                          for i in result.incidents]}, indent=1))
    print(f"alert quality: {args.minutes:g} min of a dense day, seed {SEED}, "
          f"{'perfect devices' if args.perfect else 'imperfect devices, tracker clock +3 min, broker restart'}"
          f"{' (done)' if result.broker_restarted else ''}")
    print(table(s))
    print(f"overall precision {s.precision:.1%} (target >= 95 %); false critical: {len(s.false_critical)}")
    for name in sorted(TARGET_RECALL):
        t = s.types.get(name)
        print(f"  recall {name}: {'-' if t is None or t.recall is None else f'{t.recall:.0%}'} (target 100 %)")
    for incident in s.false_incidents:
        print(f"  false: #{incident.id} {incident.type} {incident.severity} {sorted(incident.subjects)} "
              f"{incident.raised_at.isoformat(timespec='seconds')}")
    for truth in s.missed:
        print(f"  missed: {truth.type} {truth.subject} from {truth.start.isoformat(timespec='seconds')}")


if __name__ == "__main__":
    main()
