"""CSV exports of a year: streamed from a server-side cursor against built in memory, rows/s and peak RSS.

Each export runs in a fresh child process (spawned, not forked), so its memory is its own and not the parent's;
a thread samples the child's resident set every few milliseconds while the export runs, and the growth is the
peak sample less the resident set just before the export.
The streamed forms are what the API sends (``command_ui.routers.audit`` and ``incidents``: the store's
server-side cursor, CSV chunks written as they are made); the in-memory forms are what they did before: every
row read, the whole file built, then sent.

``bench.year.run`` measures them over the year it loaded. ``python -m bench.year.export --scale 1.0`` measures
them alone over a year loaded without the buses' positions (its audit trail is the full year's, past 1 M rows,
in a few minutes rather than the quarter hour the positions take); ``--data DIR`` keeps that cluster.
"""

from __future__ import annotations

import argparse
import io
import multiprocessing
import resource
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg

EXPORTS = ("audit", "incidents")


@dataclass(frozen=True, slots=True)
class ExportRun:
    """One export's outcome: which, how, how many rows, how fast, how much memory it grew by."""

    name: str
    form: str
    rows: int
    rows_per_s: float
    rss_growth_mb: float


def _rss_mb() -> float:
    with Path("/proc/self/statm").open() as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


class _Peak(threading.Thread):
    """Samples the resident set until stopped; ``peak`` is the largest sample."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak = _rss_mb()
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.005):
            self.peak = max(self.peak, _rss_mb())


def _sink(chunks: object) -> int:
    size = 0
    for chunk in chunks:  # type: ignore[attr-defined]
        size += len(chunk)
    return size


def _child(url: str, name: str, streamed: bool) -> tuple[int, float, float]:
    from psycopg_pool import ConnectionPool

    from command_ui.routers import audit as audit_router
    from command_ui.routers import incidents as incidents_router
    from store import audit_repo, queries

    with psycopg.connect(url) as conn:
        before = _rss_mb()
        sampler = _Peak()
        sampler.start()
        began = time.perf_counter()
        if name == "audit":
            if streamed:
                with ConnectionPool(url, min_size=1, max_size=1) as pool:
                    _sink(audit_router._csv_chunks(pool, {"scope": "/"}))
                rows = conn.execute("SELECT count(*) FROM audit_log").fetchone()[0]  # type: ignore[index]
            else:
                out = io.StringIO()
                rows = audit_repo.export_csv(conn, out)
                _sink([out.getvalue()])
        else:
            found = queries.IncidentFilter()
            listed = queries.incidents_for_export(conn, "/", found)
            chunks = incidents_router._csv_lines(listed if streamed else list(listed))
            _sink(chunks)
            rows = conn.execute("SELECT count(*) FROM incidents").fetchone()[0]  # type: ignore[index]
        seconds = time.perf_counter() - began
        sampler.done.set()
        sampler.join()
    return rows, rows / max(seconds, 1e-9), max(sampler.peak - before, 0.0)


def measure(url: str) -> list[ExportRun]:
    """Run each export streamed, then in memory, each in a child process of its own."""
    context = multiprocessing.get_context("spawn")
    out = []
    with context.Pool(1, maxtasksperchild=1) as pool:
        for name in EXPORTS:
            for streamed in (True, False):
                rows, rate, growth = pool.apply(_child, (url, name, streamed))
                out.append(ExportRun(name, "streamed" if streamed else "in memory", rows, rate, growth))
    return out


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: load a year without its fleet (unless ``--data`` holds one), measure the exports, print them."""
    from bench.year.cluster import private_cluster
    from bench.year.generate import load_year
    from devtools.devservices import DATABASE_NAME

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 is the full year")
    parser.add_argument("--data", type=Path, default=None, help="keep the loaded cluster here and reuse it")
    args = parser.parse_args(argv)
    root = (args.data or Path(tempfile.mkdtemp(prefix="cg-year-export-"))).resolve()
    with private_cluster(root, keep=args.data is not None) as cluster:
        url = cluster.url(DATABASE_NAME)
        with psycopg.connect(url) as conn:
            kept = conn.execute("SELECT to_regclass('bench_year_plan') IS NOT NULL").fetchone()
            conn.commit()
            if not (kept and kept[0]):
                the_plan, loaded = load_year(conn, args.scale, with_fleet=False)
                print(f"{the_plan}; loaded {sum(loaded.rows.values()):,} rows in "
                      f"{sum(loaded.seconds.values()):.0f} s: {loaded.rows}")
        runs = measure(url)
    print("| export | rows | rows/s | peak RSS growth MB |\n|---|---|---|---|")
    for e in runs:
        print(f"| {e.name}, {e.form} | {e.rows:,} | {e.rows_per_s:,.0f} | {e.rss_growth_mb:.1f} |")


if __name__ == "__main__":
    main()
