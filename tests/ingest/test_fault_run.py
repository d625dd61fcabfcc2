"""The fault run's reduced form, on the production processes in their default layout: nothing acknowledged lost.

``bench.faults`` starts its own PostgreSQL and Mosquitto, ``campusguard ingest`` with the default worker count
and ``campusguard alerts``, and publishes 10,000 QoS 1 fixes while (1) the broker is stopped for 5 s and the
receiver and a writer are SIGKILLed, and (2) the database is stopped under the alert stage while three panic
buttons are pressed. Each case must store exactly what the broker acknowledged, every press once, decide every
press after the database returns, and date each incident by its first press. Before the receiver layout a
shared subscription lost in-flight messages across the restart, and the alert stage exited with the database,
so no press was ever decided.
"""

from __future__ import annotations

import pytest

from bench.faults import QUICK, Case, run_case

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("case", QUICK, ids=[case.name for case in QUICK])
def test_nothing_acknowledged_is_lost(case: Case) -> None:
    outcome = run_case(case, messages=10_000, rate=2_000.0)
    assert outcome.acknowledged == 10_000, outcome.line()
    assert outcome.stored == outcome.acknowledged, outcome.line()
    assert outcome.duplicates == 0, outcome.line()
    assert outcome.dead_letters == 0, outcome.line()
    assert outcome.panics_pressed == case.panics, outcome.line()
    assert outcome.panics_stored == case.panics, outcome.line()
    assert outcome.panics_decided == case.panics, outcome.line()
    assert outcome.opened_at_first_press, outcome.notes
    assert outcome.ok
