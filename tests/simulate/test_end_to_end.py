"""A short accelerated run through real Mosquitto, the real ingest worker (MQTT and OsmAnd HTTP) and geo."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from campusguard.settings import Settings
from campusguard.simulate.model import Role
from campusguard.simulate.runner import SimOptions, run_simulation
from domain.site import load_site
from geo.engine import GeoEngine
from geo.service import GeoService
from tests.simulate.helpers import bus_with, district, speeding_span
from tests.support.ingest import EXAMPLE, ingest_settings, prepare_database, running_worker, scalar, wait_for
from tests.support.mqtt import PrivateBroker

pytestmark = pytest.mark.slow


@pytest.fixture
def pipeline(fresh_database_url: str, private_mqtt: PrivateBroker, tmp_path: Path) -> Iterator[Settings]:
    prepare_database(fresh_database_url)
    settings = ingest_settings(fresh_database_url, private_mqtt.url, tmp_path)
    service = GeoService(settings, GeoEngine.from_site(load_site(EXAMPLE)), list(range(settings.ingest.geo_shards)),
                         "cg-test-sim-geo", tick_s=1e9)
    thread = threading.Thread(target=service.run)
    thread.start()
    wait_for(service.connected.is_set, 20, "the geo service's connection")
    try:
        with running_worker(settings, serve_http=True):
            yield settings
    finally:
        service.stop()
        thread.join(timeout=60)


def count(url: str, query: str, *params: object) -> int:
    value = scalar(url, query, *params)
    assert isinstance(value, int)
    return value


def last_finished_weekday(now: dt.datetime) -> dt.date:
    """The latest weekday before today (local): its whole morning run lies in ingest's 7-day window."""
    day = now.astimezone(dt.UTC).date() - dt.timedelta(days=1)
    while day.weekday() >= 5:
        day -= dt.timedelta(days=1)
    return day


def test_a_simulated_morning_is_stored_and_judged_by_the_real_pipeline(pipeline: Settings) -> None:
    plan = district()
    day = last_finished_weekday(dt.datetime.now(dt.UTC))
    deviator, speeder = bus_with(plan, Role.DEVIATING), bus_with(plan, Role.SPEEDING)
    osmand_bus = next(e.bus.id for e in plan.entries if e.role is Role.NORMAL
                      and any(d.source == "osmand" for d in e.devices))
    deviating_trip, speeding_trip = plan.trip(deviator, day), plan.trip(speeder, day)
    assert deviating_trip is not None and deviating_trip.detour is not None and speeding_trip is not None
    detour, speeding = deviating_trip.detour, speeding_span(plan, speeding_trip)
    start = min(detour[0], speeding[0]) - dt.timedelta(seconds=90)
    until = max(detour[1], speeding[1]) + dt.timedelta(seconds=90)
    options = SimOptions(EXAMPLE, pipeline.mqtt_url, f"http://127.0.0.1:{pipeline.ingest.http_port}/",
                         speedup=120.0, start=start, until=until, panics=False,
                         buses=frozenset({deviator, speeder, osmand_bus}), tick_s=0.1)
    lines: list[str] = []
    summary = run_simulation(options, lines.append)
    assert summary.ended == until and summary.sent["campusguard"] > 0 and summary.sent["osmand"] > 0
    assert any("connected" in line for line in lines) and any("first fixes" in line for line in lines)
    url = pipeline.database_url

    def events(kind: str) -> int:
        return count(url, "SELECT count(*) FROM device_events WHERE kind = %s", kind)

    wait_for(lambda: events("geo.route_deviated") >= 1 and events("geo.overspeed_started") >= 1, 90,
             "the deviation and the overspeed")
    deviated = scalar(url, "SELECT d.bus_id FROM device_events e JOIN devices d ON d.id = e.device_id"
                           " WHERE e.kind = 'geo.route_deviated'")
    assert deviated == deviator
    for source in ("campusguard", "osmand", "owntracks"):  # the guard's phone speaks OwnTracks
        assert count(url, "SELECT count(*) FROM positions WHERE source = %s", source) > 0, source
    assert scalar(url, "SELECT count(*) FROM dead_letters") == 0
