"""The ``campusguard`` command: site files, database, the web app and the demo.

Each command builds :class:`Settings` once and hands the relevant part to the stage it runs.
"""

from __future__ import annotations

import getpass
import json
import logging
import os
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import psycopg
import typer
from pydantic import ValidationError

from campusguard.settings import Mode, Settings
from campusguard.simulate.cli import simulate
from store.db import connect
from store.maintenance import maintain
from store.migrate import MigrationError, migrate

app = typer.Typer(help="campusguard: a campus safety command centre.", no_args_is_help=True)
# The simulated district lives in its own package; its command is registered here like every other.
app.command()(simulate)
site_app = typer.Typer(help="Validate and load site files.", no_args_is_help=True)
db_app = typer.Typer(help="Migrate and maintain the database.", no_args_is_help=True)
app.add_typer(site_app, name="site")
app.add_typer(db_app, name="db")
audit_app = typer.Typer(help="Verify and export the tamper-evident audit trail.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
users_app = typer.Typer(help="Manage sign-ins of the people in the site file.", no_args_is_help=True)
app.add_typer(users_app, name="users")

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
EXAMPLE_SITE = EXAMPLES / "district.yaml"


class Example(StrEnum):
    """The demo's example sites: the Chinese city (zh-CN, Beijing time) or the English district."""

    CITY = "city"
    DISTRICT = "district"


# The school whose lines the demo prints, and which of its cameras show the demo's two clips (the district's are
# campusguard.simulate.cameras.DEMO_CAMERAS): a rural boarding school with buses, classes and a corridor camera.
DEMO_SCHOOL = {Example.CITY: "wangzhuang-zxxx", Example.DISTRICT: None}
DEMO_CLIPS = {Example.CITY: {"wangzhuang-zxxx-cam-gate": "gate_crowd_after_hours",
                             "wangzhuang-zxxx-cam-corridor": "corridor_person_down"}}
# What the city calls the people the demo prints a sign-in for, by (role, depth of the unit they sit at): the role
# says what they may do, the level where they sit says what they see.
CITY_TITLES = {("district_admin", 0): "city bureau officer", ("auditor", 0): "city auditor",
               ("district_officer", 1): "county officer", ("district_officer", 2): "township centre-school admin"}
FileArg = Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="A site YAML file.")]


def _settings(**overrides: object) -> Settings:
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"]) or "settings"
            typer.echo(f"configuration error: {where}: {error['msg']}", err=True)
        raise typer.Exit(2) from None


def _echo(message: str) -> None:
    typer.echo(message)


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log debug detail.")] = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


@site_app.command("check")
def site_check(file: FileArg) -> None:
    """Validate a site file and report every error with its path and line."""
    # Imported where used, as every stage's entry point below: a process loads only what it runs.
    from domain.site.validate import check_site, format_errors

    site, errors = check_site(file.read_text(encoding="utf-8"), file.name)
    if errors or site is None:
        _echo(format_errors(errors, file.name))
        _echo(f"{len(errors)} error(s)")
        raise typer.Exit(1)
    schools = list(site.iter_schools())
    buses = sum(len(s.school.buses) for s in schools)
    buttons = sum(len(s.school.panic_buttons) for s in schools)
    cameras = sum(len(s.school.cameras) for s in schools)
    people = sum(1 for _ in site.iter_people())
    _echo(f"{file.name}: ok: {len(schools)} schools, {buses} buses, {buttons} panic buttons, "
          f"{cameras} cameras, {people} people")


@site_app.command("load")
def site_load(file: FileArg) -> None:
    """Validate a site file and upsert it into the database (idempotent)."""
    settings = _settings()
    _load(settings, file)


def _load(settings: Settings, file: Path) -> None:
    from domain.site.validate import check_site, format_errors
    from store.site_repo import load_site

    site, errors = check_site(file.read_text(encoding="utf-8"), file.name)
    if errors or site is None:
        _echo(format_errors(errors, file.name))
        raise typer.Exit(1)
    with connect(settings.database_url) as conn:
        report = load_site(conn, site, actor=f"cli:{getpass.getuser()}", source=str(file))
    for table, counts in report.tables.items():
        _echo(f"  {table:<10} {counts.inserted:>4} new  {counts.updated:>4} changed  "
              f"{counts.unchanged:>4} unchanged  {counts.retired:>4} retired")
    _echo(f"{file.name}: loaded" + ("" if report.changed else " (no changes)"))


@db_app.command("migrate")
def db_migrate() -> None:
    """Create or upgrade the schema; picks TimescaleDB when available, else plain PostgreSQL."""
    _migrate(_settings())


def _migrate(settings: Settings) -> None:
    with connect(settings.database_url) as conn:
        try:
            result = migrate(conn, settings.storage_backend, settings.retention)
        except MigrationError as exc:
            typer.echo(f"migration failed: {exc}", err=True)
            raise typer.Exit(1) from None
        maintain(conn, datetime.now(UTC))
    applied = ", ".join(f"{v:04d}" for v in result.applied) or "none"
    _echo(f"storage path: {result.flavor}; applied: {applied}; already applied: {len(result.already_applied)}")


@db_app.command("maintain")
def db_maintain() -> None:
    """Create coming partitions and drop expired ones (plain PostgreSQL path); delete expired snapshots."""
    settings = _settings()
    with connect(settings.database_url) as conn:
        report = maintain(conn, datetime.now(UTC))
    _echo(f"{report.flavor}: {report.partitions_created} partitions created, "
          f"{report.partitions_dropped} dropped, {report.snapshots_deleted} expired snapshots deleted")


@app.command()
def ingest(
    workers: Annotated[int | None, typer.Option(help="Writer processes (default: settings.ingest.workers).")] = None,
    http: Annotated[bool, typer.Option(help="Serve the OsmAnd HTTP port.")] = True,
    jt808: Annotated[bool, typer.Option(help="Serve the JT/T 808 port (when settings.ingest.jt808_enabled).")] = True,
    gt06: Annotated[bool, typer.Option(help="Serve the GT06 port (when settings.ingest.gt06_enabled).")] = True,
) -> None:
    """Run ingest: one MQTT receiver and N writers (or N shared-subscription workers) and the device listeners."""
    from ingest.supervisor import DevicePorts, supervise

    settings = _settings()
    raise typer.Exit(supervise(workers or settings.ingest.workers, DevicePorts(http, jt808, gt06),
                               shared=settings.ingest.subscription == "shared",
                               spool_dir=settings.data_dir / "spool", priority=settings.ingest.priority_process))


@app.command("ingest-worker", hidden=True)
def ingest_worker(
    index: Annotated[int, typer.Option(help="Index: names its spool (and a worker's MQTT session).")] = 0,
    http: Annotated[bool, typer.Option(help="Also serve the OsmAnd HTTP port (a worker only).")] = False,
    role: Annotated[str, typer.Option(help="worker (receives and writes) or writer (drains its spool).")] = "worker",
    jt808: Annotated[bool | None, typer.Option("--jt808/--no-jt808", help="Serve the JT/T 808 port (default: "
                                               "with --http).")] = None,
    gt06: Annotated[bool | None, typer.Option("--gt06/--no-gt06", help="Serve the GT06 port (default: with "
                                              "--http).")] = None,
) -> None:
    """Run one ingest worker or writer in this process (the supervisor starts these)."""
    from ingest.worker import WorkerOptions, run_worker

    if role not in ("worker", "writer"):
        raise typer.BadParameter("--role is worker or writer")
    chosen: Literal["worker", "writer"] = "writer" if role == "writer" else "worker"
    run_worker(_settings(), WorkerOptions(index=index, serve_http=http, role=chosen, serve_jt808=jt808,
                                          serve_gt06=gt06))


@app.command("ingest-receiver", hidden=True)
def ingest_receiver(
    partitions: Annotated[int, typer.Option(min=1, help="How many writers' spools to spread envelopes over.")] = 1,
    http: Annotated[bool, typer.Option(help="Also serve the OsmAnd HTTP port.")] = False,
    jt808: Annotated[bool | None, typer.Option("--jt808/--no-jt808", help="Serve the JT/T 808 port (default: "
                                               "with --http).")] = None,
    gt06: Annotated[bool | None, typer.Option("--gt06/--no-gt06", help="Serve the GT06 port (default: with "
                                              "--http).")] = None,
) -> None:
    """Run the ingest receiver in this process (the supervisor starts it)."""
    from ingest.worker import WorkerOptions, run_worker

    run_worker(_settings(), WorkerOptions(index=0, serve_http=http, role="receiver", partitions=partitions,
                                          serve_jt808=jt808, serve_gt06=gt06))


@app.command("ingest-priority", hidden=True)
def ingest_priority(
    partitions: Annotated[int, typer.Option(min=1, help="How many writers' spools to spread envelopes over.")] = 1,
) -> None:
    """Run the priority lane (panic buttons) in this process (the supervisor starts it)."""
    from ingest.priority import run_priority

    run_priority(_settings(), partitions)


@app.command()
def geo(
    site: Annotated[Path | None, typer.Option(help="Site file (default: settings.site_file).")] = None,
    shard: Annotated[list[int] | None, typer.Option(help="Own only these feed shards (repeatable); default all. "
                                                    "Run several geo processes with disjoint shards.")] = None,
) -> None:
    """Run the geo stage: fences, routes and bus rules over the fixes ingest commits."""
    import signal

    from geo.service import build_service

    settings = _settings(**({"site_file": site} if site else {}))
    if shard and not all(0 <= s < settings.ingest.geo_shards for s in shard):
        raise typer.BadParameter(f"shards are 0..{settings.ingest.geo_shards - 1} (CAMPUSGUARD_INGEST__GEO_SHARDS)")
    service = build_service(settings, sorted(set(shard)) if shard else None)
    signal.signal(signal.SIGTERM, lambda *_: service.stop())
    signal.signal(signal.SIGINT, lambda *_: service.stop())
    service.run()


@app.command()
def vision(
    site: Annotated[Path | None, typer.Option(help="Site file (default: settings.site_file).")] = None,
    shard: Annotated[str, typer.Option(help="I/N: run the cameras whose id hashes to I of N workers.")] = "0/1",
    camera: Annotated[list[str] | None, typer.Option(help="Run only these cameras (repeatable).")] = None,
) -> None:
    """Run a vision worker: cameras → motion gate → detector → tracker → zone rules → events with snapshots."""
    import signal

    from domain.site.validate import load_site as read_site
    from vision.worker import VisionWorker, assignments

    settings = _settings(**({"site_file": site} if site else {}))
    if settings.site_file is None:
        raise typer.BadParameter("no site file: pass --site or set CAMPUSGUARD_SITE_FILE")
    index, _, count = shard.partition("/")
    if not (index.isdigit() and count.isdigit() and 0 <= int(index) < int(count)):
        raise typer.BadParameter(f"--shard wants I/N with 0 <= I < N, got {shard!r}")
    cameras = [a for a in assignments(read_site(settings.site_file), int(index), int(count))
               if not camera or a.camera.id in camera]
    _echo(f"vision: shard {shard}, {len(cameras)} cameras")
    worker = VisionWorker(settings, cameras)
    signal.signal(signal.SIGTERM, lambda *_: worker.stop())
    signal.signal(signal.SIGINT, lambda *_: worker.stop())
    worker.run()


@app.command()
def video(
    site: Annotated[Path | None, typer.Option(help="Site file (default: settings.site_file).")] = None,
    camera: Annotated[list[str] | None, typer.Option(help="Record only these cameras (repeatable).")] = None,
) -> None:
    """Record cameras by stream copy, keep retention and the disk budget, clip camera incidents (docs/video.md)."""
    from campusguard.runtime import run_video
    from domain.site.validate import load_site as read_site
    from vision.video.service import CameraFeed

    settings = _settings(**({"site_file": site} if site else {}))
    if settings.site_file is None:
        raise typer.BadParameter("no site file: pass --site or set CAMPUSGUARD_SITE_FILE")
    feeds = [CameraFeed(c.id, c.rtsp_url) for entry in read_site(settings.site_file).iter_schools()
             for c in entry.school.cameras if not camera or c.id in camera]
    _echo(f"video: recording {len(feeds)} cameras into {settings.vision.video.root}")
    run_video(settings, feeds)


@app.command()
def alerts() -> None:
    """Run the alert service: events to incidents, notifications and escalation."""
    import signal

    from alerts.notifiers import build_notifier
    from alerts.rules import DEFAULT_RULES, load_rules
    from alerts.service import AlertService

    settings = _settings()
    # Web Push rides on the settings' push section (its keys are the web app's too), not the notifier list.
    push = settings.push.notifier_config(settings.database_url)
    configs = [*settings.alerts.notifiers, *([push] if push is not None else [])]
    service = AlertService(settings.database_url, load_rules(settings.alerts.rules_file or DEFAULT_RULES),
                           settings.alerts.escalation, [build_notifier(c) for c in configs])
    signal.signal(signal.SIGTERM, lambda *_: service.stop())
    signal.signal(signal.SIGINT, lambda *_: service.stop())
    service.run()


@app.command("vapid-keys")
def vapid_keys() -> None:
    """Make a VAPID key pair for Web Push and print the settings that take it (docs/push.md)."""
    from alerts.notifiers.webpush import new_private_key, public_key_of

    private = new_private_key()
    _echo(f"CAMPUSGUARD_PUSH__VAPID_PRIVATE_KEY={private}")
    _echo("CAMPUSGUARD_PUSH__SUBJECT=mailto:safety-desk@your-district.example   # who push services may contact")
    _echo(f"# public key (the browsers are given it by the app; nothing to set): {public_key_of(private)}")


@audit_app.command("verify")
def audit_verify() -> None:
    """Check the hash chain of the audit trail; exit 1 at the first break."""
    from alerts.audit_cli import verify_command

    raise typer.Exit(verify_command(_settings().database_url))


@audit_app.command("export")
def audit_export(out: Annotated[Path, typer.Argument(help="CSV file to write.")]) -> None:
    """Export the audit trail as CSV."""
    from alerts.audit_cli import export_command

    raise typer.Exit(export_command(_settings().database_url, out))


@users_app.command("set-password")
def users_set_password(
    user: Annotated[str, typer.Argument(help="User id from the site file.")],
    password_stdin: Annotated[bool, typer.Option(help="Read the password from standard input.")] = False,
) -> None:
    """Set a person's password (argon2); the change ends their sessions and is audited."""
    password = sys.stdin.readline().rstrip("\n") if password_stdin else typer.prompt(
        "Password", hide_input=True, confirmation_prompt=True)
    if len(password) < 10:
        typer.echo("a password needs at least 10 characters", err=True)
        raise typer.Exit(2)
    settings = _settings()
    with connect(settings.database_url) as conn:
        if not _set_password(conn, user, password, actor=f"cli:{getpass.getuser()}"):
            typer.echo(f"no user {user!r}", err=True)
            raise typer.Exit(1)
    _echo(f"password set for {user}")


def _set_password(conn: psycopg.Connection, user: str, password: str, actor: str) -> bool:
    from datetime import UTC, datetime

    from command_ui.routers.auth import HASHER
    from domain.audit import AuditRecord
    from store import audit_repo
    from store.auth_repo import open_sessions, set_password_hash

    now = datetime.now(UTC)
    with conn.transaction():
        ended = open_sessions(conn, user, now)
        # The new hash ends every session of the person (migration 0028's trigger), and their open live
        # sockets close: whoever held the old password, or a session opened with it, is out.
        if not set_password_hash(conn, user, HASHER.hash(password)):
            return False
        audit_repo.append(conn, AuditRecord(now, actor, "user.password_set", f"user:{user}",
                                            {"sessions_ended": ended}))
    return True


def _demo_cameras(settings: Settings, site: Path, port: int,
                  clips: dict[str, str] | None = None) -> tuple[list[str], subprocess.Popen[str] | None, Path]:
    """Serve the demo clips over RTSP and write the site copy that points two cameras (``clips``) at them."""
    from campusguard.simulate.cameras import (
        DEMO_CAMERAS,
        ClipServerError,
        site_with_cameras,
        start_clip_server,
        write_clips,
    )

    cameras = clips if clips is not None else DEMO_CAMERAS
    root = settings.data_dir / "demo-cameras"
    _echo(f"[2/5] cameras: rendering {len(cameras)} clips into {root} (once) and serving them over RTSP")
    write_clips(root, cameras)
    try:
        server, base = start_clip_server(root, port)
    except ClipServerError as exc:
        _echo(f"  no cameras in this demo: {exc}")
        return [], None, site
    urls = {camera: base + camera for camera in cameras}
    return list(cameras), server, site_with_cameras(site, settings.data_dir / "demo-site.yaml", urls)


def _demo_timetable(settings: Settings, site: Path) -> tuple[datetime, Path]:
    """Write the first service day laid around now (what the simulator lays too, given the same start)."""
    import yaml

    from campusguard.simulate.cycles import lay_cycle, leads, write_site
    from campusguard.simulate.district import DistrictPlan
    from domain.site.validate import load_site as read_site

    started = datetime.now(UTC)
    day = lay_cycle(yaml.safe_load(site.read_text(encoding="utf-8")), leads(DistrictPlan(read_site(site))), started, 0)
    out = settings.data_dir / "demo-timetable.yaml"
    write_site(day.document, out)
    return started, out


def _demo_logins(settings: Settings, school: str | None,
                 titles: dict[tuple[str, int], str] | None = None) -> list[tuple[str, str, str]]:
    """Give one person of each role at each level above and below ``school`` a password kept in the data dir.

    From the city's bureau down to the school's guard and a class's head teacher, so every level can be tried.
    Returns (what they are, id, password) for each, top level first.
    """
    import secrets

    from store.auth_repo import first_active_user, people_along

    path = settings.data_dir / "demo-logins.env"
    kept = dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line) if path.exists() else {}
    logins = []
    with connect(settings.database_url) as conn:
        found = people_along(conn, school) if school is not None else []
        if not found:  # no school to follow: an officer and the auditor, as before
            found = [(role, user, "", 0) for role in ("district_officer", "auditor")
                     if (user := first_active_user(conn, role)) is not None]
        for role, user, unit, depth in found:
            password = kept.get(user) or secrets.token_urlsafe(9)
            kept[user] = password
            _set_password(conn, user, password, actor="demo")
            title = (titles or {}).get((role, depth), role.replace("_", " "))
            logins.append((f"{title} of {unit}" if unit else title, user, password))
    path.write_text("".join(f"{k}={v}\n" for k, v in kept.items()))
    path.chmod(0o600)
    return logins


@app.command()
def drill(
    school: Annotated[str, typer.Option(help="School id to drill.")],
    respond_s: Annotated[float, typer.Option(min=0, help="How long to wait for a person (a guard's phone) to "
                                             "acknowledge before the drill acknowledges itself.")] = 60.0,
) -> None:
    """Press a panic button through the real MQTT path and time it until raised, delivered, acknowledged."""
    from campusguard.drill import run_drill

    settings = _settings()
    report = run_drill(settings.database_url, settings.mqtt_url, school, respond_s=respond_s)
    if report.incident_id is None:
        _echo(f"drill at {school}: NO INCIDENT within the timeout (button {report.device_id})")
        raise typer.Exit(1)
    _echo(f"drill at {school} (button {report.device_id}): incident {report.incident_id}")
    _echo(f"  raised after        {report.raised_ms:8.0f} ms")
    for d in report.deliveries:
        state = "delivered" if d["ok"] else f"FAILED ({d['error']})"
        _echo(f"  {d['notifier']:<18} {d['ms']:8.0f} ms  {state}")
    for person in report.responses:
        seen = f"{person.seen_ms:8.0f} ms" if person.seen_ms is not None else "     not seen"
        acked = f"{person.acknowledged_ms:8.0f} ms" if person.acknowledged_ms is not None else "not acknowledged"
        _echo(f"  {person.user_id:<18} seen {seen}   acknowledged {acked}")
    _echo(f"  acknowledged after  {report.acknowledged_ms:8.0f} ms by {report.acknowledged_by}")
    raise typer.Exit(0 if report.ok else 1)


def _unwind_on_sigterm() -> None:
    """Make SIGTERM unwind the stack as Ctrl-C does, so ``finally`` blocks stop the children.

    Without it SIGTERM's default action ends the process on the spot. uvicorn catches SIGTERM while it serves,
    but after its own shutdown it restores the handler it found and raises the signal again: with the default
    handler, the demo died there and left every stage running, holding its ports and raising incidents.
    """
    import signal

    def unwind(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, unwind)


def _stop_children(children: Sequence[subprocess.Popen[Any]], grace_s: float = 30.0) -> None:
    """Ask every child to stop (SIGTERM: each drains what it holds), then kill any that outstays ``grace_s``."""
    for child in children:
        if child.poll() is None:
            child.terminate()
    for child in children:
        try:
            child.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


@app.command()
def serve() -> None:
    """Run the web app (API and pages) with the configured settings."""
    from campusguard.runtime import run_app

    run_app(_settings())


@app.command()
def demo(
    example: Annotated[Example, typer.Option(help="Which example to run: the Chinese city (zh-CN, Beijing time) "
                                             "or the English district.")] = Example.CITY,
    site: Annotated[Path | None, typer.Option(help="A site file to load instead of the example.")] = None,
    cameras: Annotated[bool, typer.Option("--cameras/--no-cameras", help="Serve two generated camera clips over "
                                          "RTSP and run a vision worker on them.")] = True,
    rtsp_port: Annotated[int, typer.Option(help="Port of the demo's RTSP camera server.")] = 8554,
) -> None:
    """Run the whole product on a simulated city or district: every stage, buses, buttons, phones and two cameras."""
    from campusguard.runtime import run_app
    from store.auth_repo import demo_school

    _unwind_on_sigterm()  # first: from here on every child started is stopped by the `finally` below
    if site is None:
        site = EXAMPLES / f"{example.value}.yaml"
    elif site.resolve() != (EXAMPLES / "city.yaml").resolve():
        example = Example.DISTRICT  # a site file of one's own runs as the district always did
    # A trial keeps a day of video, not the 30 a school keeps: a laptop's disk holds a day of the two cameras, and
    # a month would raise "recording storage short" for each at start (true of the laptop, noise in a demo). Set
    # for every process alike, so the scorecard's retention criterion says what the recorder does.
    os.environ.setdefault("CAMPUSGUARD_VISION__VIDEO__RETENTION_DAYS", "1")
    settings = _settings(mode=Mode.DEMO, site_file=site)
    _echo(f"[1/5] database: migrating (site: {site.name})")
    _migrate(settings)
    clips = DEMO_CLIPS.get(example)
    camera_ids, server, site_file = _demo_cameras(settings, site, rtsp_port, clips) if cameras else ([], None, site)
    # One clock: the district runs at real time, its service day laid around now and repeated by the simulator,
    # which writes each day's timetable here (the stages' site file) and loads it.
    started, site_to_load = _demo_timetable(settings, site_file)
    _echo(f"[3/5] site: loading {site_to_load.name} (the timetable of {site_file.name}, laid around now)")
    _load(settings, site_to_load)
    # The demo's guards walk their patrol rounds (campusguard/simulate/patrol_rounds.py): today's so far at once,
    # before the alert stage starts and would find them all missed; then the rest as they fall due.
    import threading

    from campusguard.simulate.patrol_rounds import walk_due, walk_forever
    with connect(settings.database_url, autocommit=True) as conn:
        walk_due(conn, datetime.now(UTC))
    threading.Thread(target=walk_forever, args=(settings.database_url, threading.Event()), name="demo-patrols",
                     daemon=True).start()
    # Last month's history and its bulletins (campusguard/simulate/last_month.py), as if the city had run all of
    # it: the scorecard and the monthly bulletin have a month to judge. Before the stages, which would see it live.
    from campusguard.simulate.last_month import demo_month
    last_month, archived = demo_month(settings.database_url, settings.vision.video, datetime.now(UTC))
    _echo(f"      last month {last_month}: history in place, {archived} bulletin documents archived")
    password = settings.admin_password.get_secret_value() if settings.admin_password else ""
    env = {**os.environ, "CAMPUSGUARD_MODE": "demo", "CAMPUSGUARD_SITE_FILE": str(site_to_load),
           "CAMPUSGUARD_DATA_DIR": str(settings.data_dir), "CAMPUSGUARD_DATABASE_URL": settings.database_url,
           "CAMPUSGUARD_MQTT_URL": settings.mqtt_url,
           # The district's JT/T 808 and GT06 buses: ingest listens, the simulator's terminals connect (issue 19).
           "CAMPUSGUARD_INGEST__JT808_ENABLED": "true", "CAMPUSGUARD_INGEST__GT06_ENABLED": "true"}
    # Demo alerts go out over MQTT, where a siren gateway (or `mosquitto_sub -t 'campusguard/alerts/v1/#'`) hears them.
    env["CAMPUSGUARD_ALERTS__NOTIFIERS"] = json.dumps([{"type": "mqtt", "url": settings.mqtt_url}])
    commands = [["ingest", "--workers", "1"], ["geo"], ["alerts"],
                ["simulate", "--site", str(site_file), "--repeat", "--site-out", str(site_to_load), "--load",
                 "--start", started.isoformat()]]
    if camera_ids:
        commands.append(["vision", *(f"--camera={c}" for c in camera_ids)])
        # The same cameras for people: recorded by stream copy, clipped on their incidents, relayed live by the
        # web app (docs/video.md); the demo's cameras send H.264 with a burnt-in clock, as an IP camera would.
        commands.append(["video", *(f"--camera={c}" for c in camera_ids)])
    _echo(f"[4/5] stages: {', '.join(c[0] for c in commands)}")
    stages = [subprocess.Popen([sys.executable, "-m", "campusguard", *args], env=env)  # noqa: S603
              for args in commands]
    _echo("[5/5] web app")
    _echo("")
    # The city speaks Chinese from the sign-in page on (each of its people's accounts is zh-CN too).
    lang = "?lang=zh-CN" if example is Example.CITY else ""
    _echo(f"campusguard demo: http://{settings.http_host}:{settings.http_port}/{lang}")
    _echo(f"  scorecard: http://{settings.http_host}:{settings.http_port}/scorecard"
          f"{lang or '?'}{'&' if lang else ''}month={last_month}   (last month's, with its archived bulletins)")
    _echo(f"  login: admin / {password}   (HTTP Basic, for scripts)")
    # One school for every printed line: its guard signs in, its button is pressed, its drill is run.
    with connect(settings.database_url) as conn:
        chosen = demo_school(conn, DEMO_SCHOOL.get(example))
    school, button = chosen if chosen else (None, None)
    for what, user, secret in _demo_logins(settings, school, CITY_TITLES if example is Example.CITY else None):
        _echo(f"  login: {user} / {secret}   ({what})")
    _echo(f"  ingest: MQTT at {settings.mqtt_url}, OsmAnd HTTP on port {settings.ingest.http_port}; try")
    if button is not None:
        _echo(f"    mosquitto_pub -t zigbee2mqtt/{button} -m '{{\"action\":\"hold\"}}'   (a panic at {school})")
    _echo("  alerts: mosquitto_sub -t 'campusguard/alerts/v1/#'")
    if camera_ids:
        _echo(f"  cameras: {', '.join(camera_ids)} over RTSP on port {rtsp_port} (a gate crowd, a person down;"
              " H.264, recorded, live from the map's camera popup)")
    if school is not None:
        _echo(f"  drill:  CAMPUSGUARD_MODE=demo .venv/bin/campusguard drill --school {school}")
    _echo("  Ctrl-C stops it.")
    try:
        run_app(settings)
    finally:
        _stop_children([*reversed(stages), *([server] if server is not None else [])])
