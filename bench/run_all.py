"""Run every benchmark in bench/ and write bench/REPORT.md with each figure, its baseline and the ratio.

Each benchmark's section is rewritten as it finishes (its table, when and on what machine), keeping the notes
written under it and every other section (``bench.report.update_report``).
"""

from __future__ import annotations

import importlib

from bench.report import REPORT, Figure, machine, write_report

# Each module exposes run() -> list[Figure]; add a module here when adding a benchmark.
# bench.faults and bench.alert_quality last: about 30 minutes of fault runs, then 52 minutes of a simulated day.
BENCHMARKS = ("bench.store_write", "bench.ingest", "bench.geo", "bench.vision", "bench.fanout",
              "bench.alert_latency", "bench.trackers", "bench.faults", "bench.alert_quality")


def main() -> None:
    """Run the benchmarks, print their figures and write the report."""
    for name in BENCHMARKS:
        module = importlib.import_module(name)
        where = machine()
        figures: list[Figure] = module.run()
        for figure in figures:
            print(f"{name}: {figure.line()}")
        write_report(name, module.__doc__, figures, where)
    print(f"wrote {REPORT}")


if __name__ == "__main__":
    main()
