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

EXAMPLE_SITE = Path(__file__).resolve().parent.parent / "examples" / "district.yaml"
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
) -> None:
    """Run ingest: one MQTT receiver and N writers (or N shared-subscription workers) and the OsmAnd listener."""
    from ingest.supervisor import supervise

    settings = _settings()
    raise typer.Exit(supervise(workers or settings.ingest.workers, http,
                               shared=settings.ingest.subscription == "shared",
                               spool_dir=settings.data_dir / "spool"))


@app.command("ingest-worker", hidden=True)
def ingest_worker(
    index: Annotated[int, typer.Option(help="Index: names its spool (and a worker's MQTT session).")] = 0,
    http: Annotated[bool, typer.Option(help="Also serve the OsmAnd HTTP port (a worker only).")] = False,
    role: Annotated[str, typer.Option(help="worker (receives and writes) or writer (drains its spool).")] = "worker",
) -> None:
    """Run one ingest worker or writer in this process (the supervisor starts these)."""
    from ingest.worker import WorkerOptions, run_worker

    if role not in ("worker", "writer"):
        raise typer.BadParameter("--role is worker or writer")
    chosen: Literal["worker", "writer"] = "writer" if role == "writer" else "worker"
    run_worker(_settings(), WorkerOptions(index=index, serve_http=http, role=chosen))


@app.command("ingest-receiver", hidden=True)
def ingest_receiver(
    partitions: Annotated[int, typer.Option(min=1, help="How many writers' spools to spread envelopes over.")] = 1,
    http: Annotated[bool, typer.Option(help="Also serve the OsmAnd HTTP port.")] = False,
) -> None:
    """Run the ingest receiver in this process (the supervisor starts it)."""
    from ingest.worker import WorkerOptions, run_worker

    run_worker(_settings(), WorkerOptions(index=0, serve_http=http, role="receiver", partitions=partitions))


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
def alerts() -> None:
    """Run the alert service: events to incidents, notifications and escalation."""
    import signal

    from alerts.notifiers import build_notifier
    from alerts.rules import DEFAULT_RULES, load_rules
    from alerts.service import AlertService

    settings = _settings()
    service = AlertService(settings.database_url, load_rules(settings.alerts.rules_file or DEFAULT_RULES),
                           settings.alerts.escalation, [build_notifier(c) for c in settings.alerts.notifiers])
    signal.signal(signal.SIGTERM, lambda *_: service.stop())
    signal.signal(signal.SIGINT, lambda *_: service.stop())
    service.run()


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


def _demo_cameras(settings: Settings, site: Path,
                  port: int) -> tuple[list[str], subprocess.Popen[str] | None, Path]:
    """Serve the demo clips over RTSP and write the site copy that points two cameras at them."""
    from campusguard.simulate.cameras import (
        DEMO_CAMERAS,
        ClipServerError,
        site_with_cameras,
        start_clip_server,
        write_clips,
    )

    root = settings.data_dir / "demo-cameras"
    _echo(f"[2/5] cameras: rendering {len(DEMO_CAMERAS)} clips into {root} (once) and serving them over RTSP")
    write_clips(root, DEMO_CAMERAS)
    try:
        server, base = start_clip_server(root, port)
    except ClipServerError as exc:
        _echo(f"  no cameras in this demo: {exc}")
        return [], None, site
    urls = {camera: base + camera for camera in DEMO_CAMERAS}
    return list(DEMO_CAMERAS), server, site_with_cameras(site, settings.data_dir / "demo-site.yaml", urls)


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


def _demo_logins(settings: Settings, school: str | None) -> list[tuple[str, str, str]]:
    """Give a district officer, a guard of ``school`` and the auditor passwords kept in the data dir.

    Returns (role, id, password) for each.
    """
    import secrets

    from store.auth_repo import first_active_user

    path = settings.data_dir / "demo-logins.env"
    kept = dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line) if path.exists() else {}
    logins = []
    with connect(settings.database_url) as conn:
        for role in ("district_officer", "guard", "auditor"):
            user = first_active_user(conn, role, school if role == "guard" else None)
            if user is None:
                continue
            password = kept.get(user) or secrets.token_urlsafe(9)
            kept[user] = password
            _set_password(conn, user, password, actor="demo")
            logins.append((role, user, password))
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
    site: Annotated[Path, typer.Option(help="Site file to load.")] = EXAMPLE_SITE,
    cameras: Annotated[bool, typer.Option("--cameras/--no-cameras", help="Serve two generated camera clips over "
                                          "RTSP and run a vision worker on them.")] = True,
    rtsp_port: Annotated[int, typer.Option(help="Port of the demo's RTSP camera server.")] = 8554,
) -> None:
    """Run the whole product on a simulated district: every stage, buses, buttons, phones and two cameras."""
    from campusguard.runtime import run_app
    from store.auth_repo import demo_school

    _unwind_on_sigterm()  # first: from here on every child started is stopped by the `finally` below
    settings = _settings(mode=Mode.DEMO, site_file=site)
    _echo("[1/5] database: migrating")
    _migrate(settings)
    camera_ids, server, site_file = _demo_cameras(settings, site, rtsp_port) if cameras else ([], None, site)
    # One clock: the district runs at real time, its service day laid around now and repeated by the simulator,
    # which writes each day's timetable here (the stages' site file) and loads it.
    started, site_to_load = _demo_timetable(settings, site_file)
    _echo(f"[3/5] site: loading {site_to_load.name} (the timetable of {site_file.name}, laid around now)")
    _load(settings, site_to_load)
    password = settings.admin_password.get_secret_value() if settings.admin_password else ""
    env = {**os.environ, "CAMPUSGUARD_MODE": "demo", "CAMPUSGUARD_SITE_FILE": str(site_to_load),
           "CAMPUSGUARD_DATA_DIR": str(settings.data_dir), "CAMPUSGUARD_DATABASE_URL": settings.database_url,
           "CAMPUSGUARD_MQTT_URL": settings.mqtt_url}
    # Demo alerts go out over MQTT, where a siren gateway (or `mosquitto_sub -t 'campusguard/alerts/v1/#'`) hears them.
    env["CAMPUSGUARD_ALERTS__NOTIFIERS"] = json.dumps([{"type": "mqtt", "url": settings.mqtt_url}])
    commands = [["ingest", "--workers", "1"], ["geo"], ["alerts"],
                ["simulate", "--site", str(site_file), "--repeat", "--site-out", str(site_to_load), "--load",
                 "--start", started.isoformat()]]
    if camera_ids:
        commands.append(["vision", *(f"--camera={c}" for c in camera_ids)])
    _echo(f"[4/5] stages: {', '.join(c[0] for c in commands)}")
    stages = [subprocess.Popen([sys.executable, "-m", "campusguard", *args], env=env)  # noqa: S603
              for args in commands]
    _echo("[5/5] web app")
    _echo("")
    _echo(f"campusguard demo: http://{settings.http_host}:{settings.http_port}/")
    _echo(f"  login: admin / {password}   (HTTP Basic, for scripts)")
    # One school for every printed line: its guard signs in, its button is pressed, its drill is run.
    with connect(settings.database_url) as conn:
        chosen = demo_school(conn)
    school, button = chosen if chosen else (None, None)
    for role, user, secret in _demo_logins(settings, school):
        _echo(f"  login: {user} / {secret}   ({role.replace('_', ' ')}{f' of {school}' if role == 'guard' else ''})")
    _echo(f"  ingest: MQTT at {settings.mqtt_url}, OsmAnd HTTP on port {settings.ingest.http_port}; try")
    if button is not None:
        _echo(f"    mosquitto_pub -t zigbee2mqtt/{button} -m '{{\"action\":\"hold\"}}'   (a panic at {school})")
    _echo("  alerts: mosquitto_sub -t 'campusguard/alerts/v1/#'")
    if camera_ids:
        _echo(f"  cameras: {', '.join(camera_ids)} over RTSP on port {rtsp_port} (a gate crowd, a person down)")
    if school is not None:
        _echo(f"  drill:  CAMPUSGUARD_MODE=demo .venv/bin/campusguard drill --school {school}")
    _echo("  Ctrl-C stops it.")
    try:
        run_app(settings)
    finally:
        _stop_children([*reversed(stages), *([server] if server is not None else [])])
