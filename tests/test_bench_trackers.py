"""bench.trackers' short form: JT/T 808, GT06 and MQTT terminals against the real ingest, nothing lost.

Fifty terminals per path for 10 s and a burst of three fixes each, over real TCP into `campusguard ingest`
(its receiver, two writers and the JT/T 808 and GT06 listeners) on real PostgreSQL and a private Mosquitto.
Every fix sent must be acknowledged and every acknowledged fix stored, once. Nothing is asserted on a timing
(this machine is shared, and fifty terminals measure nothing); the figures are printed (shown when it fails).
"""

from __future__ import annotations

import math

import pytest

from bench.trackers import PATHS, SHORT, figures, measure, print_figures
from devtools.devservices import ServiceUrls
from tests.support.secrets import TEST_ADMIN_PASSWORD, TEST_SECRET_KEY


@pytest.mark.slow
def test_the_short_form_stores_every_fix_it_acknowledged(service_urls: ServiceUrls,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    results = measure(SHORT, service_urls.database_url, PATHS, TEST_SECRET_KEY, TEST_ADMIN_PASSWORD)
    print_figures(figures(results))
    out = capsys.readouterr().out  # shown when the test fails
    assert [r.path for r in results] == list(PATHS)
    for result in results:
        sent = result.steady_fixes + result.burst_fixes
        assert sent == SHORT.terminals * (round(SHORT.steady_s / SHORT.interval_s) + SHORT.burst), result
        assert result.acked == sent, f"{result.path}: {sent - result.acked} fixes never acknowledged"
        assert result.stored == result.acked, f"{result.path}: {result.acked} acknowledged, {result.stored} stored"
        assert math.isfinite(result.steady_p99_ms) and math.isfinite(result.kib_per_connection), result
    assert "| jt808 | 50 |" in out and "| gt06 | 50 |" in out and "| mqtt | 50 |" in out
    assert "GT06 over TCP: rows stored" in out and "JT/T 808 over TCP: acknowledgement p99" in out
