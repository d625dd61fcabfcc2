"""The OsmAnd listener takes requests only from ``ingest.http_allow``: real HTTP from two loopback addresses.

Linux answers all of 127.0.0.0/8 on the loopback, so a client bound to 127.0.0.2 is a stranger to a listener
that allows 127.0.0.1 alone. What the stranger sends is refused (403), counted and dead-lettered with its
reason, and never stored: neither its fix nor its SOS.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import REGISTRY

from campusguard.settings import Mode, Settings
from domain.site.validate import load_site
from ingest.config import IngestSettings
from ingest.http_source import RequestPolicy
from ingest.worker import Worker
from tests.support.ingest import EXAMPLE, ingest_settings, prepare_database, running_worker, scalar, wait_for
from tests.support.mqtt import PrivateBroker

STRANGER = "127.0.0.2"


@pytest.fixture
def db(fresh_database_url: str) -> str:
    prepare_database(fresh_database_url)
    return fresh_database_url


@pytest.fixture
def settings(db: str, private_mqtt: PrivateBroker, tmp_path: Path) -> Settings:
    return ingest_settings(db, private_mqtt.url, tmp_path, http_allow=["127.0.0.1/32"])


@pytest.fixture
def worker(settings: Settings) -> Iterator[Worker]:
    with running_worker(settings) as running:
        yield running


def refused_counted() -> float:
    labels = {"reason": "source_not_allowed"}
    return REGISTRY.get_sample_value("campusguard_ingest_http_refused_total", labels) or 0.0


def count(url: str, query: str) -> int:
    value = scalar(url, query)
    assert isinstance(value, int)
    return value


def test_a_request_from_outside_the_allowed_networks_is_refused_and_dead_lettered(
    worker: Worker, settings: Settings, db: str
) -> None:
    trackers = [t for e in load_site(EXAMPLE).iter_schools() for b in e.school.buses for t in b.trackers]
    device = next(t.external_id for t in trackers if t.id == "bus-04-osmand")
    url = f"http://127.0.0.1:{settings.ingest.http_port}/"
    now = int(time.time())
    counted = refused_counted()
    with httpx.Client(transport=httpx.HTTPTransport(local_address=STRANGER)) as stranger:
        fix = stranger.get(url, params={"id": device, "lat": 40.79, "lon": -96.63, "timestamp": now})
        sos = stranger.post(url, content=f"id={device}&alarm=sos&timestamp={now}",
                            headers={"content-type": "application/x-www-form-urlencoded"})
    assert (fix.status_code, sos.status_code) == (403, 403)
    assert fix.text == (f"refused: source_not_allowed: {STRANGER} is outside the networks the listener takes "
                        "(ingest.http_allow)\n")
    assert refused_counted() - counted == 2
    # From an allowed address the same device is heard.
    assert httpx.get(url, params={"id": device, "lat": 40.791, "lon": -96.631, "timestamp": now + 1}).status_code == 200

    wait_for(lambda: count(db, "SELECT count(*) FROM dead_letters") == 2, 20, "two dead letters")
    wait_for(lambda: count(db, "SELECT count(*) FROM positions") == 1, 20, "the allowed fix")
    assert scalar(db, "SELECT array_agg(DISTINCT reason) FROM dead_letters") == ["source_not_allowed"]
    assert scalar(db, "SELECT array_agg(DISTINCT source) FROM dead_letters") == ["osmand-http"]
    # The query is kept for the operator; the body was never read.
    assert scalar(db, "SELECT count(*) FROM dead_letters WHERE position('timestamp=' in topic) > 0") == 1
    assert scalar(db, "SELECT max(length(payload)) FROM dead_letters") == 0
    wait_for(lambda: worker.spool is not None and worker.spool.depth() == 0, 20, "the spool to drain")
    assert scalar(db, "SELECT lat FROM positions") == 40.791
    assert count(db, "SELECT count(*) FROM device_events WHERE kind = 'panic'") == 0


def test_the_policy_matches_networks_of_both_families() -> None:
    allow = IngestSettings(http_allow=["10.0.0.0/8", "192.0.2.7", "2001:db8::/32"]).http_allow
    policy = RequestPolicy(4096, tuple(allow))
    assert policy.allows("10.200.3.4") and policy.allows("192.0.2.7") and policy.allows("2001:db8::1")
    assert policy.allows("::ffff:10.1.2.3")  # an IPv4 peer of a dual-stack socket
    assert not policy.allows("192.0.2.8") and not policy.allows("2001:db9::1") and not policy.allows("::1")
    assert not policy.allows(None) and not policy.allows("testclient")
    everywhere = RequestPolicy(4096, tuple(IngestSettings().http_allow))
    assert everywhere.allows("203.0.113.9") and everywhere.allows("2001:db8::1")


def test_the_allow_list_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CAMPUSGUARD_INGEST__HTTP_ALLOW", '["10.20.0.0/16", "fd00::/8"]')
    allow = Settings(mode=Mode.DEMO, data_dir=tmp_path, _env_file=None).ingest.http_allow
    assert [str(network) for network in allow] == ["10.20.0.0/16", "fd00::/8"]
    monkeypatch.setenv("CAMPUSGUARD_INGEST__HTTP_ALLOW", '["10.20.0.1/16"]')  # host bits set: a typo, refused
    with pytest.raises(ValueError, match="http_allow"):
        Settings(mode=Mode.DEMO, data_dir=tmp_path, _env_file=None)
