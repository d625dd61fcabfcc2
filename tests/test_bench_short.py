"""Every benchmark's short form runs to the end, so none rots unseen until the next ``make bench``.

Each benchmark module runs its reduced sizes (``run(short=True)``, the same as ``python -m bench.X --short``):
the same production processes and the same baselines as the full run, on a fraction of the work. A benchmark
that hangs, raises, or measures nothing fails here. Issue 21 found one such: ``bench.ingest``'s naive baseline
published fixes three days old into a database with partitions two days back, and waited forever.

Nothing is asserted on a timing (this machine is shared and the sizes are too small to mean anything); the
figures are printed for whoever looks (``pytest -s``). ``bench.faults`` and ``bench.alert_quality`` have reduced
forms of their own (tests/ingest/test_fault_run.py, tests/test_alert_quality.py).
"""

from __future__ import annotations

import importlib
import math

import pytest

from bench.report import Figure
from devtools.devservices import DATABASE_URL_VAR, MQTT_URL_VAR, ServiceUrls

BENCHMARKS = ("bench.store_write", "bench.ingest", "bench.geo", "bench.vision", "bench.fanout",
              "bench.alert_latency", "bench.year.run")


@pytest.mark.parametrize("name", BENCHMARKS)
def test_the_short_form_runs_to_the_end(name: str, service_urls: ServiceUrls, monkeypatch: pytest.MonkeyPatch) -> None:
    # The benchmarks take their services from the environment, as under `make bench`.
    monkeypatch.setenv(DATABASE_URL_VAR, service_urls.database_url)
    monkeypatch.setenv(MQTT_URL_VAR, service_urls.mqtt_url)
    figures: list[Figure] = importlib.import_module(name).run(short=True)
    for figure in figures:
        print(f"{name} (short): {figure.line()}")  # noqa: T201 - for the reader of `pytest -s`, as the bench prints
    assert figures, f"{name} measured nothing"
    for figure in figures:
        assert math.isfinite(figure.value), figure
        # Zero is a real measurement where zero is the goal (false findings per camera-hour): never below.
        assert figure.value >= 0, figure
        assert math.isfinite(figure.baseline_value), figure
        assert figure.baseline_value > 0, figure
    assert any(figure.value > 0 for figure in figures), figures
