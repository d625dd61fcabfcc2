"""Run every benchmark in bench/ and write bench/REPORT.md with each figure, its baseline and the ratio."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime
from pathlib import Path

from bench.report import Figure, markdown

# Each module exposes run() -> list[Figure]; add a module here when adding a benchmark.
# bench.faults and bench.alert_quality last: about 30 minutes of fault runs, then 52 minutes of a simulated day.
BENCHMARKS = ("bench.store_write", "bench.ingest", "bench.geo", "bench.vision", "bench.fanout",
              "bench.alert_latency", "bench.trackers", "bench.faults", "bench.alert_quality")
REPORT = Path(__file__).resolve().parent / "REPORT.md"


def main() -> None:
    """Run the benchmarks, print their figures and write the report."""
    sections = [f"# Benchmark report\n\nRun at {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; every figure is compared "
                "with a baseline measured in the same run on the same machine.\n"]
    for name in BENCHMARKS:
        module = importlib.import_module(name)
        figures: list[Figure] = module.run()
        for figure in figures:
            print(f"{name}: {figure.line()}")
        doc = (module.__doc__ or "").strip().splitlines()[0]
        sections.append(f"## {name}\n\n{doc}\n\n{markdown(figures)}")
    REPORT.write_text("\n".join(sections))
    print(f"wrote {REPORT}")


if __name__ == "__main__":
    main()
