"""The figures a benchmark prints and the report ``make bench`` writes.

bench/REPORT.md has one section per benchmark: its heading, the module's first docstring line, a line saying
when and on what machine the table was measured, the table, and then notes written by hand (what ran beside
it, what a profile showed, earlier runs). A run rewrites only the measured part of its own section and keeps
the notes and every other section, so running one benchmark alone (``--report``) or all of them (``make bench``)
never drops what people wrote.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from campusguard.settings import Mode, Settings

TABLE_HEAD = "| figure | value | baseline | baseline value | ratio |"


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

    @property
    def ratio_text(self) -> str:
        """The ratio as printed: two decimals below 10x, so 0.85x against a 0.9x target never reads as 0.9x."""
        return f"{self.ratio:.2f}x" if self.ratio < 10 else f"{self.ratio:.1f}x"

    def line(self) -> str:
        """One human-readable line."""
        return (f"{self.name}: {self.value:,.0f} {self.unit} vs {self.baseline_name}: "
                f"{self.baseline_value:,.0f} {self.unit} -> {self.ratio_text}")


def bench_settings() -> Settings:
    """Build settings for a benchmark run: services from the environment, throw-away demo secrets."""
    return Settings(mode=Mode.DEMO, data_dir=Path(tempfile.mkdtemp(prefix="cg-bench-")))


def markdown(figures: list[Figure]) -> str:
    """Render figures as a Markdown table."""
    rows = [TABLE_HEAD, "|---|---|---|---|---|"]
    rows += [f"| {f.name} | {f.value:,.0f} {f.unit} | {f.baseline_name} | {f.baseline_value:,.0f} {f.unit} "
             f"| {f.ratio_text} |" for f in figures]
    return "\n".join(rows) + "\n"


REPORT = Path(__file__).resolve().parent / "REPORT.md"
HEADER = ("# Benchmark report\n\nEvery figure is compared with a baseline measured in the same run on the same machine;"
          " each section says when and where it ran.\n")
MEASURED = "Measured at "


def machine() -> str:
    """Describe this machine as a report needs it: CPU model, cores, memory, and how busy it was."""
    model = platform.processor() or platform.machine()
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = ""
    with contextlib.suppress(OSError, ValueError, IndexError):
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kib / 1024 / 1024:.0f} GiB"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    return f"{model}, {os.cpu_count()} cores{memory}, load average {load:.1f} at the start"


def measured_part(name: str, description: str | None, figures: list[Figure], when: datetime, where: str) -> str:
    """Render the part of a section a run owns: heading, description, when and where, the table."""
    doc = (description or "").strip().splitlines()[0] if description else ""
    return (f"## {name}\n\n{doc}\n\n{MEASURED}{when:%Y-%m-%d %H:%M} UTC on {where}.\n\n"
            f"{markdown(figures)}")


def _notes(section: str) -> str:
    """Take a section's hand-written lines: all but its heading, description, measured line and figures table.

    Hand-made tables (another table head) and prose before or after the figures stay where they were.
    """
    lines = section.splitlines()[3:]
    kept: list[str] = []
    in_figures = False
    for line in lines:
        if line.startswith(TABLE_HEAD):
            in_figures = True
        elif in_figures and not line.startswith("|"):
            in_figures = False
        if not in_figures and not line.startswith(MEASURED):
            kept.append(line)
    return "\n".join(kept).strip()


def update_report(text: str, name: str, measured: str) -> str:
    """Put a run's measured part into a report's text: its own section's table replaced, its notes kept."""
    _, *sections = (text or HEADER).split("\n## ")
    out, found = [HEADER], False  # the head says how to read the sections; each says when it ran
    for body in sections:
        section = "## " + body
        if body.split("\n", 1)[0].strip() == name:
            found = True
            notes = _notes(section)
            section = measured + (f"\n{notes}\n" if notes else "")
        out.append(section.rstrip("\n") + "\n")
    if not found:
        out.append(measured)
    return "\n".join(out)


def write_report(name: str, description: str | None, figures: list[Figure], where: str, path: Path = REPORT) -> None:
    """Write one benchmark's figures into its section of bench/REPORT.md, keeping everything else."""
    measured = measured_part(name, description, figures, datetime.now(UTC), where)
    path.write_text(update_report(path.read_text() if path.exists() else "", name, measured))


def module_name(run: Callable[..., object]) -> str:
    """Name the benchmark a ``run`` belongs to as its section does: ``bench.ingest``, also when run as ``-m``."""
    module = sys.modules.get(run.__module__)
    spec = getattr(module, "__spec__", None)
    return spec.name if spec is not None else run.__module__  # ``python -m bench.x``: __main__, spec bench.x


def main(run: Callable[[bool], list[Figure]], description: str | None, argv: Sequence[str] | None = None) -> None:
    """Run one benchmark from its command line and print its figures; ``--short`` runs the reduced form.

    The reduced form (each module's ``SHORT`` sizes) is what ``make test`` runs (tests/test_bench_short.py): the
    same production path and the same baselines on smaller sizes, so a benchmark that no longer runs to the end
    is found the day it breaks, not the next time someone runs ``make bench``. Its figures mean nothing.
    """
    parser = argparse.ArgumentParser(description=(description or "").strip().splitlines()[0] if description else None)
    parser.add_argument("--short", action="store_true", help="the reduced sizes make test runs (seconds, not minutes)")
    parser.add_argument("--report", action="store_true", help="write the figures into bench/REPORT.md (full form)")
    args = parser.parse_args(argv)
    if args.report and args.short:
        parser.error("--report writes measured figures: the short form's mean nothing")
    where = machine()  # before the run: how busy the machine was when it started
    figures = run(args.short)
    for figure in figures:
        print(figure.line())
    if args.report:
        write_report(module_name(run), description, figures, where)
        print(f"wrote {REPORT}")
