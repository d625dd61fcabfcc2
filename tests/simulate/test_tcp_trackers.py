"""The simulator's JT/T 808 terminal and GT06 tracker against the real ingest worker over real TCP.

The example district's bus-02 carries a JT/T 808 terminal and bus-01 a GT06 tracker. Both drive through a
tunnel: the fixes they keep there arrive later (JT/T 808 as a 0x0704 blind-area batch, GT06 with 0x22's
re-upload flag) and are stored marked ``backlog``; the JT/T 808 driver presses the emergency button, which
stays set in the next reports, and the real alert service makes one panic incident of it. The terminal
registers once and authenticates with the code it kept; revoked, it registers again.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from alerts.escalation import EscalationPolicy
from alerts.rules import load_rules
from alerts.service import AlertService
from campusguard.settings import Settings
from campusguard.simulate.model import DeviceRef, SimFix, SimPress
from campusguard.simulate.runner import SimOptions, run_simulation
from campusguard.simulate.tcp_fleet import TrackerFleet, tracker_fleet
from campusguard.simulate.terminals import Gt06Tracker, Jt808Terminal, Tunnel
from devtools.devservices import free_port
from domain.site import load_site
from ingest.worker import Worker
from store.terminal_repo import revoke_codes
from tests.simulate.helpers import district
from tests.simulate.test_end_to_end import last_finished_weekday
from tests.support.ingest import EXAMPLE, ingest_settings, prepare_database, running_worker, scalar, wait_for
from tests.support.mqtt import PrivateBroker

JT808 = DeviceRef("bus-02-jt808", "", "jt808", "13805710002")
GT06 = DeviceRef("bus-01-gt06", "", "gt06", "868130040000001")
TUNNEL = Tunnel(every_s=600.0, length_s=60.0)


@pytest.fixture
def worker(fresh_database_url: str, private_mqtt: PrivateBroker, tmp_path: Path) -> Iterator[Worker]:
    prepare_database(fresh_database_url)
    settings: Settings = ingest_settings(fresh_database_url, private_mqtt.url, tmp_path, jt808_enabled=True,
                                         jt808_port=free_port(), gt06_enabled=True, gt06_port=free_port(),
                                         feed_geo=False)
    with running_worker(settings) as running:
        wait_for(lambda: all(listener.started for listener in running.tcp), 20, "the TCP listeners")
        yield running


def count(url: str, query: str, *params: object) -> int:
    value = scalar(url, query, *params)
    assert isinstance(value, int)
    return value


def fleet_for(worker: Worker) -> TrackerFleet:
    ports = {listener.protocol.name: listener.port for listener in worker.tcp}
    return tracker_fleet(load_site(EXAMPLE), ("127.0.0.1", ports["jt808"]), ("127.0.0.1", ports["gt06"]),
                         frozenset({"bus-01", "bus-02"}), TUNNEL)


def test_a_tunnel_backfills_as_backlog_and_an_sos_is_one_panic_incident(worker: Worker,
                                                                      fresh_database_url: str) -> None:
    db = fresh_database_url
    fleet = fleet_for(worker)
    assert sorted(fleet.terminals) == ["bus-01-gt06", "bus-02-jt808"]
    # A tunnel opens at every multiple of 600 s: t0 is the last such instant at least half an hour ago.
    t0 = datetime.fromtimestamp((datetime.now(UTC).timestamp() - 1800) // 600 * 600, UTC)
    offsets = [-20, -10, 0, 10, 20, 30, 40, 50, 70, 80]  # 0..50 in the tunnel (six fixes), the rest in signal
    for n, offset in enumerate(offsets):
        for device in (JT808, GT06):
            fleet.submit(SimFix(device, t0 + timedelta(seconds=offset), -96.70 + n / 1e4, 40.81, 30.0, 90.0, 4.0,
                                350.0, None))
    # The driver presses the emergency button; the terminal keeps the bit set in the next reports.
    fleet.submit(SimPress(JT808, t0 + timedelta(seconds=85), "sos"))
    for offset in (90, 100, 110, 120):
        fleet.submit(SimFix(JT808, t0 + timedelta(seconds=offset), -96.69, 40.81, 0.0, 90.0, 4.0, 350.0, None))
    fleet.close()
    counts = fleet.counts()
    assert counts["jt808 registered"] == 1 and counts["jt808 backfilled"] == 6 and counts["gt06 backfilled"] == 6

    def rows(device: str, backlog: bool) -> int:
        return count(db, "SELECT count(*) FROM positions WHERE device_id = %s AND backlog = %s", device, backlog)

    # Eight live fixes and the press, which carries the last position it had.
    wait_for(lambda: rows("bus-02-jt808", False) == 9 and rows("bus-01-gt06", False) == 4
             and rows("bus-01-gt06", True) == 6, 30, "every fix stored")
    assert rows("bus-02-jt808", True) == 6
    backlog_times = scalar(db, "SELECT array_agg(time ORDER BY time) FROM positions WHERE backlog"
                               " AND device_id = 'bus-02-jt808'")
    assert backlog_times == [t0 + timedelta(seconds=s) for s in (0, 10, 20, 30, 40, 50)]
    wait_for(lambda: count(db, "SELECT count(*) FROM device_events WHERE kind = 'panic'") == 1, 20, "the press")
    assert scalar(db, "SELECT device_id FROM device_events WHERE kind = 'panic'") == "bus-02-jt808"
    service = AlertService(db, load_rules(), EscalationPolicy(), [])
    service.decide_pending()
    assert count(db, "SELECT count(*) FROM incidents WHERE type = 'panic'") == 1


def test_a_revoked_terminal_registers_again_with_the_code_it_is_given(worker: Worker,
                                                                    fresh_database_url: str) -> None:
    db = fresh_database_url
    fleet = fleet_for(worker)
    terminal = fleet.terminals["bus-02-jt808"]
    assert isinstance(terminal, Jt808Terminal)
    now = datetime.now(UTC).replace(microsecond=0)
    fleet.submit(SimFix(JT808, now - timedelta(seconds=30), -96.7, 40.81, 20.0, 0.0, 4.0, 350.0, None))
    wait_for(lambda: terminal.counts["reports"] == 1, 60, "the first report")
    first = terminal.code
    with psycopg.connect(db, autocommit=True) as conn:
        assert revoke_codes(conn, "13805710002", "test") == 1
    # Ingest closes the terminal's connection; it reconnects, is refused with the old code and registers again.
    # Waited for: a report sent before the close lands would still go out (and be taken) on the old connection.
    jt808_port = next(listener for listener in worker.tcp if listener.protocol.name == "jt808")
    wait_for(lambda: jt808_port.connections == 0, 30, "ingest closing the revoked terminal's connection")
    fleet.submit(SimFix(JT808, now - timedelta(seconds=20), -96.7, 40.81, 20.0, 0.0, 4.0, 350.0, None))
    fleet.close()
    assert terminal.counts["authentication_refused"] == 1 and terminal.counts["registered"] == 2
    assert terminal.code is not None and terminal.code != first
    wait_for(lambda: count(db, "SELECT count(*) FROM positions WHERE device_id = 'bus-02-jt808'") == 2, 20,
             "both reports, the second after registering again")


def test_a_gt06_unit_on_beijing_time_is_stored_at_the_true_instant(worker: Worker, fresh_database_url: str) -> None:
    # bus-07-gt06's site record says clock_offset_min: 480; the simulated unit sends its local (GMT+8) time.
    ports = {listener.protocol.name: listener.port for listener in worker.tcp}
    fleet = tracker_fleet(load_site(EXAMPLE), None, ("127.0.0.1", ports["gt06"]), frozenset({"bus-07"}), None)
    tracker = fleet.terminals["bus-07-gt06"]
    assert isinstance(tracker, Gt06Tracker) and tracker.utc_offset == timedelta(hours=8)
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=2)
    fleet.submit(SimFix(DeviceRef("bus-07-gt06", "", "gt06", "868130040000007"), at, -96.7, 40.81, 25.0, 180.0,
                        4.0, 350.0, None))
    fleet.close()
    wait_for(lambda: scalar(fresh_database_url, "SELECT time FROM positions WHERE device_id = 'bus-07-gt06'") == at,
             20, "the fix at its true instant")


def test_the_simulation_drives_the_sites_tcp_trackers_through_the_runner(worker: Worker,
                                                                          fresh_database_url: str) -> None:
    plan = district()
    day = last_finished_weekday(datetime.now(UTC))
    trip = plan.trip("bus-02", day)
    assert trip is not None
    start = trip.depart + timedelta(minutes=1)
    ports = {listener.protocol.name: listener.port for listener in worker.tcp}
    settings = worker.settings
    options = SimOptions(EXAMPLE, settings.mqtt_url, f"http://127.0.0.1:{settings.ingest.http_port}/",
                         speedup=120.0, start=start, until=start + timedelta(minutes=4), panics=False,
                         buses=frozenset({"bus-01", "bus-02"}), tick_s=0.1,
                         jt808_address=("127.0.0.1", ports["jt808"]), gt06_address=("127.0.0.1", ports["gt06"]))
    lines: list[str] = []
    summary = run_simulation(options, lines.append)
    assert any("2 JT/T 808 and GT06 terminals over TCP" in line for line in lines)
    assert summary.sent["jt808 registered"] == 1 and summary.sent["jt808 reports"] > 0
    assert summary.sent["gt06 reports"] + summary.sent["gt06 backfilled"] > 0
    query = "SELECT count(DISTINCT device_id) FROM positions WHERE device_id IN ('bus-02-jt808', 'bus-01-gt06')"
    wait_for(lambda: count(fresh_database_url, query) == 2, 30, "both terminals' fixes")


def test_a_restarted_simulator_authenticates_with_the_codes_its_terminals_kept(worker: Worker, tmp_path: Path,
                                                                              fresh_database_url: str) -> None:
    # A used code holds the number: a terminal that forgot it could never connect again (a demo restart).
    codes = tmp_path / "sim" / "jt808-codes.json"
    ports = {listener.protocol.name: listener.port for listener in worker.tcp}
    now = datetime.now(UTC).replace(microsecond=0)
    counts = []
    for run in range(2):
        fleet = tracker_fleet(load_site(EXAMPLE), ("127.0.0.1", ports["jt808"]), None, frozenset({"bus-02"}), None,
                              codes)
        fleet.submit(SimFix(JT808, now - timedelta(seconds=60 - run), -96.7, 40.81, 20.0, 0.0, 4.0, 350.0, None))
        fleet.close()
        counts.append(fleet.counts())
    assert (counts[0]["jt808 registered"], counts[0]["jt808 reports"]) == (1, 1)
    assert (counts[1]["jt808 registered"], counts[1]["jt808 reports"]) == (0, 1)  # authenticated with the kept code
    assert codes.stat().st_mode & 0o777 == 0o600
    wait_for(lambda: count(fresh_database_url, "SELECT count(*) FROM positions WHERE device_id = 'bus-02-jt808'") == 2,
             20, "both runs' fixes")
