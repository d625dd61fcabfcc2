"""The figures a benchmark prints and the report ``make bench`` writes."""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from campusguard.settings import Mode, Settings


@dataclass(frozen=True, slots=True)
class Figure:
    """One measured figure beside its baseline from the same run."""

    name: str
    value: float
    unit: str
    baseline_name: str
    baseline_value: float

    @property
    def ratio(self) -> float:
        """How many times the baseline the figure is."""
        return self.value / self.baseline_value if self.baseline_value else float("inf")

    def line(self) -> str:
        """One human-readable line."""
        return (f"{self.name}: {self.value:,.0f} {self.unit} vs {self.baseline_name}: "
                f"{self.baseline_value:,.0f} {self.unit} -> {self.ratio:.1f}x")


def bench_settings() -> Settings:
    """Build settings for a benchmark run: services from the environment, throw-away demo secrets."""
    return Settings(mode=Mode.DEMO, data_dir=Path(tempfile.mkdtemp(prefix="cg-bench-")))


def markdown(figures: list[Figure]) -> str:
    """Render figures as a Markdown table."""
    rows = ["| figure | value | baseline | baseline value | ratio |", "|---|---|---|---|---|"]
    rows += [f"| {f.name} | {f.value:,.0f} {f.unit} | {f.baseline_name} | {f.baseline_value:,.0f} {f.unit} "
             f"| {f.ratio:.1f}x |" for f in figures]
    return "\n".join(rows) + "\n"


def main(run: Callable[[bool], list[Figure]], description: str | None, argv: Sequence[str] | None = None) -> None:
    """Run one benchmark from its command line and print its figures; ``--short`` runs the reduced form.

    The reduced form (each module's ``SHORT`` sizes) is what ``make test`` runs (tests/test_bench_short.py): the
    same production path and the same baselines on smaller sizes, so a benchmark that no longer runs to the end
    is found the day it breaks, not the next time someone runs ``make bench``. Its figures mean nothing.
    """
    parser = argparse.ArgumentParser(description=(description or "").strip().splitlines()[0] if description else None)
    parser.add_argument("--short", action="store_true", help="the reduced sizes make test runs (seconds, not minutes)")
    for figure in run(parser.parse_args(argv).short):
        print(figure.line())
