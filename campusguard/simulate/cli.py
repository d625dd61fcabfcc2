"""``campusguard simulate``: the simulated district against any deployment, through real MQTT and HTTP.

Registered in ``campusguard/cli.py`` as ``app.command()(simulate)``. Broker and OsmAnd URLs come from the
command line or, when not given, from :class:`~campusguard.settings.Settings` (``CAMPUSGUARD_MQTT_URL``,
``CAMPUSGUARD_INGEST__HTTP_HOST``/``__HTTP_PORT``); so do the JT/T 808 and GT06 listeners' addresses
(``CAMPUSGUARD_INGEST__TCP_HOST``, ``__JT808_PORT``, ``__GT06_PORT``, when enabled).
"""

from __future__ import annotations

import datetime as dt
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import ValidationError

if TYPE_CHECKING:
    from campusguard.simulate.cycles import Cycle

EXAMPLE_SITE = Path(__file__).resolve().parents[2] / "examples" / "district.yaml"


def _defaults(site: Path | None, mqtt_url: str | None, http_url: str | None) -> tuple[Path, str, str]:
    if site is not None and mqtt_url is not None and http_url is not None:
        return site, mqtt_url, http_url
    from campusguard.settings import Settings

    try:
        settings = Settings()
    except ValidationError as exc:
        for error in exc.errors():
            typer.echo(f"configuration error: {error['msg']}", err=True)
        typer.echo("(or give --site, --mqtt-url and --http-url)", err=True)
        raise typer.Exit(2) from None
    return (site or settings.site_file or EXAMPLE_SITE, mqtt_url or settings.mqtt_url,
            http_url or f"http://{settings.ingest.http_host}:{settings.ingest.http_port}/")


def _address(given: str | None, protocol: str) -> tuple[str, int] | None:
    """Read ``host:port``; not given, the listener's address from settings when that listener is enabled."""
    if given is not None:
        host, _, port = given.rpartition(":")
        if not host or not port.isdigit():
            raise typer.BadParameter(f"--{protocol} is host:port, e.g. 127.0.0.1:7611")
        return host, int(port)
    from campusguard.settings import Settings

    try:
        ingest = Settings().ingest
    except ValidationError:
        return None
    if protocol == "jt808":
        return (ingest.tcp_host, ingest.jt808_port) if ingest.jt808_enabled else None
    return (ingest.tcp_host, ingest.gt06_port) if ingest.gt06_enabled else None


def _codes_file() -> Path | None:
    """Where simulated JT/T 808 terminals keep their codes: the data directory, as a terminal keeps its flash."""
    from campusguard.settings import Settings

    try:
        return Settings().data_dir / "simulator" / "jt808-codes.json"
    except ValidationError:
        return None


def _start(text: str | None) -> dt.datetime | None:
    if text is None:
        return None
    if text == "now":
        return dt.datetime.now(dt.UTC)
    parsed = dt.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        raise typer.BadParameter("give the start with its UTC offset, e.g. 2024-05-29T06:50:00-05:00")
    return parsed.astimezone(dt.UTC)


def _database_loader() -> Callable[[Cycle], None]:
    """Load each day's timetable into the database, so the pages show the times the buses keep."""
    from campusguard.settings import Settings
    from store.db import connect
    from store.site_repo import load_site

    url = Settings().database_url

    def load(cycle: Cycle) -> None:
        with connect(url) as conn:
            load_site(conn, cycle.plan.site, actor="simulate", source=f"service day {cycle.index + 1}")
    return load


def simulate(
    site: Annotated[Path | None, typer.Option(help="Site file (default: settings.site_file, else the example).")]
    = None,
    mqtt_url: Annotated[str | None, typer.Option(help="MQTT broker (default: settings.mqtt_url).")] = None,
    http_url: Annotated[str | None, typer.Option(help="OsmAnd HTTP endpoint (default: the ingest HTTP port).")]
    = None,
    speedup: Annotated[float, typer.Option(min=1.0, help="Run the simulated clock this many times faster until "
                                           "it catches up with real time.")] = 1.0,
    seed: Annotated[int, typer.Option(help="Seed for roles, noise and panics: the same seed, the same run.")] = 1,
    duration: Annotated[float | None, typer.Option(help="Stop after this many wall-clock seconds.")] = None,
    start: Annotated[str | None, typer.Option(help="Simulated start, ISO-8601 with offset, or 'now'; default: "
                                              "the departure of the most recent run.")] = None,
    panics: Annotated[bool, typer.Option("--panics/--no-panics", help="Press Zigbee panic buttons now and then.")]
    = True,
    panic_every: Annotated[float, typer.Option(min=10.0, help="Mean wall-clock seconds between panic presses.")]
    = 300.0,
    scenario: Annotated[bool, typer.Option("--scenario/--no-scenario", help="Script the late, deviating, speeding, "
                                           "silent and no-child-check buses.")] = True,
    bus: Annotated[list[str] | None, typer.Option(help="Simulate only these buses (repeatable).")] = None,
    repeat: Annotated[bool, typer.Option("--repeat/--no-repeat", help="Real time, one clock: lay each service day "
                                         "around its start (the first at --start, default now) and repeat it "
                                         "forever. Needs --site-out.")] = False,
    site_out: Annotated[Path | None, typer.Option(help="With --repeat: write each day's timetable here (the "
                                                  "stages' site file); with --load, also load it into the "
                                                  "database.")] = None,
    load: Annotated[bool, typer.Option("--load/--no-load", help="With --repeat: load each day's timetable into "
                                       "the database (settings.database_url).")] = False,
    imperfect: Annotated[bool, typer.Option("--imperfect/--perfect", help="Devices as real ones are: multipath, "
                                            "dropouts with backlogs, reordering, duplicates.")] = False,
    jt808: Annotated[str | None, typer.Option(help="JT/T 808 listener host:port for the site's jt808 terminals "
                                              "(default: settings, when ingest.jt808_enabled).")] = None,
    gt06: Annotated[str | None, typer.Option(help="GT06 listener host:port for the site's gt06 trackers "
                                             "(default: settings, when ingest.gt06_enabled).")] = None,
) -> None:
    """Run a simulated district through the real ingest paths: buses, a guard's phone, panic buttons."""
    from campusguard.simulate.imperfect import REAL_DEVICES, Imperfections
    from campusguard.simulate.runner import SimOptions, run_simulation
    from domain.site import SiteInvalid

    site_file, mqtt, http = _defaults(site, mqtt_url, http_url)
    if repeat and site_out is None:
        raise typer.BadParameter("--repeat needs --site-out: the stages must read the timetable the buses keep")
    options = SimOptions(site_file, mqtt, http, speedup, seed, _start(start), None, duration, scenario, panics,
                         panic_every, frozenset(bus) if bus else None, repeat=repeat, site_out=site_out,
                         on_cycle=_database_loader() if load else None,
                         imperfections=REAL_DEVICES if imperfect else Imperfections(),
                         jt808_address=_address(jt808, "jt808"), gt06_address=_address(gt06, "gt06"),
                         terminal_codes=_codes_file())
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        summary = run_simulation(options, lambda line: typer.echo(line, err=True), stop)
    except SiteInvalid as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    except ValueError as exc:
        typer.echo(f"simulate: {exc}", err=True)
        raise typer.Exit(2) from None
    sent = ", ".join(f"{k} {v}" for k, v in sorted(summary.sent.items())) or "nothing"
    typer.echo(f"simulated {summary.started.isoformat(timespec='seconds')} to "
               f"{summary.ended.isoformat(timespec='seconds')}: sent {sent}", err=True)
