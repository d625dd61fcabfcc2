"""bench/REPORT.md: a run rewrites its own section's figures and keeps every hand-written note and section."""

from __future__ import annotations

import importlib.util
import sys
import types
from datetime import UTC, datetime

import pytest

from bench.report import HEADER, MEASURED, Figure, measured_part, module_name, update_report

REPORT = """# Benchmark report

Run at 2026-11-23 15:28 UTC; old header.

## bench.alpha

Alpha: what it measures.

| figure | value | baseline | baseline value | ratio |
|---|---|---|---|---|
| old alpha | 5 ms | naive | 50 ms | 0.1x |

Re-run alone at 16:55 UTC: a note people wrote.

## bench.beta

Beta: what it measures.

Setup written by hand before the tables.

| incident type | recall |
|---|---:|
| panic | 100% |

| figure | value | baseline | baseline value | ratio |
|---|---|---|---|---|
| old beta | 7 ms | naive | 9 ms | 0.8x |

After the tables.
"""


def _measured(name: str, value: float) -> str:
    figures = [Figure(f"new {name}", value, "ms", "naive", 100)]
    return measured_part(name, "Doc line.", figures, datetime(2026, 12, 6, 20, 0, tzinfo=UTC), "a 2-core test box")


def test_a_run_replaces_its_figures_and_keeps_the_notes_and_other_sections() -> None:
    text = update_report(REPORT, "bench.alpha", _measured("bench.alpha", 3))
    alpha, beta = text.split("## bench.alpha")[1].split("## bench.beta")
    assert "new bench.alpha | 3 ms | naive | 100 ms | 0.03x" in alpha
    assert "old alpha" not in alpha
    assert "Re-run alone at 16:55 UTC: a note people wrote." in alpha
    assert f"{MEASURED}2026-12-06 20:00 UTC on a 2-core test box." in alpha
    assert "old beta | 7 ms" in beta and "After the tables." in beta  # untouched
    assert text.startswith(HEADER) and "old header" not in text


def test_hand_made_tables_and_prose_around_the_figures_stay_in_order() -> None:
    text = update_report(REPORT, "bench.beta", _measured("bench.beta", 4))
    beta = text.split("## bench.beta")[1]
    marks = ("new bench.beta", "Setup written by hand", "| panic | 100% |", "After the tables.")
    order = [beta.index(mark) for mark in marks]
    assert order == sorted(order)
    assert "old beta" not in beta


def test_a_second_run_is_idempotent_and_a_new_benchmark_is_appended() -> None:
    once = update_report(REPORT, "bench.gamma", _measured("bench.gamma", 1))
    twice = update_report(once, "bench.gamma", _measured("bench.gamma", 1))
    assert once == twice
    assert once.count("## bench.gamma") == 1 and once.rstrip().endswith("| 0.01x |")
    assert update_report("", "bench.gamma", _measured("bench.gamma", 1)).startswith(HEADER)



def test_a_benchmark_run_with_dash_m_writes_its_own_section_not_mains(monkeypatch: pytest.MonkeyPatch) -> None:
    # `python -m bench.ingest` runs the module as __main__ (its spec still says bench.ingest): the first runs of
    # --report wrote three benchmarks, one over the other, into a section called "__main__".
    main = types.ModuleType("__main__")
    main.__spec__ = importlib.util.find_spec("bench.ingest")
    exec("def run(short):\n    return []\n", main.__dict__)
    monkeypatch.setitem(sys.modules, "__main__", main)
    assert module_name(main.run) == "bench.ingest"
    assert module_name(measured_part) == "bench.report"
