"""A year of a city: load it, then time what people do with it, warm and cold, beside the naive forms.

Everything runs in a PostgreSQL cluster of the benchmark's own (``bench.year.cluster``), so a cold measurement
can restart the server. Warm: the same question asked ``warm`` times over (parameters drawn afresh each time)
after one unmeasured call; cold: the server restarted and a new connection opened before each single call.
Run: ``make bench-scale`` (``SCALE=0.1`` by default) or
``python -m bench.year.run --scale 0.1 --data .run/year`` (``--data`` keeps the loaded cluster for the next run;
``--short``: the tiny form ``make test`` runs).
"""

from __future__ import annotations

import argparse
import platform
import random
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg

from bench.report import Figure
from bench.year import cases, export
from bench.year.cluster import private_cluster, restart
from bench.year.generate import AUDIT_COLUMNS, AUDIT_TYPES, Loaded, Plan, load_people, load_year, plan_of, timed_copy
from bench.year.incidents import chained
from devtools.devservices import DATABASE_NAME, PostgresCluster
from domain.audit import GENESIS, AuditRecord
from store.config import RetentionSettings, StorageBackend
from store.migrate import migrate

MIGRATION_0036 = ("audit_log_target",)
"""The indexes migration 0036 adds; the before figures are taken with them dropped in a rolled-back transaction."""


@dataclass(frozen=True, slots=True)
class Sizes:
    """How much each measurement does."""

    scale: float
    warm: int
    cold: int


FULL = Sizes(scale=0.1, warm=30, cold=5)
SHORT = Sizes(scale=0.0005, warm=3, cold=1)


@dataclass(frozen=True, slots=True)
class Timing:
    """p50 and p95 of one form of one question, warm and cold, in milliseconds."""

    warm_p50: float
    warm_p95: float
    cold_p50: float
    cold_p95: float


def _p95(samples: Sequence[float]) -> float:
    return statistics.quantiles(samples, n=20, method="inclusive")[18] if len(samples) > 1 else samples[0]


def _warm(conn: psycopg.Connection, query: cases.Query, runs: int, seed: int) -> list[float]:
    rng = random.Random(seed)
    query(conn, rng)  # plans and pages in
    samples = []
    for _ in range(runs):
        began = time.perf_counter()
        query(conn, rng)
        samples.append((time.perf_counter() - began) * 1000)
        conn.rollback()
    return samples


def _cold(cluster: PostgresCluster, query: cases.Query, runs: int, seed: int) -> list[float]:
    rng = random.Random(seed)
    samples = []
    for _ in range(runs):
        restart(cluster)
        with psycopg.connect(cluster.url(DATABASE_NAME)) as conn:
            began = time.perf_counter()
            query(conn, rng)
            samples.append((time.perf_counter() - began) * 1000)
    return samples


def _timing(cluster: PostgresCluster, query: cases.Query, sizes: Sizes, warm_runs: int) -> Timing:
    with psycopg.connect(cluster.url(DATABASE_NAME)) as conn:
        warm = _warm(conn, query, warm_runs, seed=1)
    cold = _cold(cluster, query, sizes.cold, seed=2)
    return Timing(statistics.median(warm), _p95(warm), statistics.median(cold), _p95(cold))


def _without_0036(cluster: PostgresCluster, query: cases.Query, runs: int) -> float:
    """Warm p95 with migration 0036's indexes dropped inside a transaction that is then rolled back."""
    with psycopg.connect(cluster.url(DATABASE_NAME)) as conn:
        for index in MIGRATION_0036:
            conn.execute(f"DROP INDEX IF EXISTS {index}")
        samples = []
        rng = random.Random(1)
        query(conn, rng)
        for _ in range(runs):
            began = time.perf_counter()
            query(conn, rng)
            samples.append((time.perf_counter() - began) * 1000)
        conn.rollback()
    return _p95(samples)


@dataclass(frozen=True, slots=True)
class Measured:
    """One question's figures: the production form, the naive form, and the production form before 0036."""

    case: cases.Case
    production: Timing
    naive: Timing
    before_0036: float


def measure(cluster: PostgresCluster, sizes: Sizes) -> list[Measured]:
    """Time every case's two forms."""
    with psycopg.connect(cluster.url(DATABASE_NAME)) as conn:
        ctx = cases.context(conn)
    out = []
    for case in cases.cases(ctx):
        production = _timing(cluster, case.production, sizes, sizes.warm)
        naive = _timing(cluster, case.naive, sizes, max(3, sizes.warm // 5))
        before = _without_0036(cluster, case.production, max(3, sizes.warm // 3))
        out.append(Measured(case, production, naive, before))
    return out


def figures(measured: list[Measured], exports: list[export.ExportRun]) -> list[Figure]:
    """Build the figures as ``bench.report`` prints them (p95, production against naive)."""
    out = []
    for m in measured:
        out.append(Figure(f"{m.case.name}, warm p95", m.production.warm_p95, "ms", m.case.naive_name,
                          m.naive.warm_p95))
        out.append(Figure(f"{m.case.name}, cold p95", m.production.cold_p95, "ms", m.case.naive_name,
                          m.naive.cold_p95))
    for streamed, buffered in zip(exports[::2], exports[1::2], strict=True):
        # The row count is in the name: at scale 1.0 the audit export passes 1 M rows, a smaller year's fewer.
        rows = f"{streamed.name} CSV export of {streamed.rows:,} rows"
        out.append(Figure(f"{rows}, streamed", streamed.rows_per_s, "rows/s", "built in memory", buffered.rows_per_s))
        out.append(Figure(f"{rows}, peak RSS growth, streamed", streamed.rss_growth_mb, "MB", "built in memory",
                          max(buffered.rss_growth_mb, 1e-3)))
    return out


def markdown(the_plan: Plan, loaded: Loaded | None, measured: list[Measured], exports: list[export.ExportRun],
             sizes: Sizes) -> str:
    """Render the report's section: the machine, the load, every question's p50/p95 beside its naive form."""
    lines = [f"Machine: {platform.node()}, {platform.machine()}, {platform.python_implementation()} "
             f"{platform.python_version()}; scale {the_plan.scale} ({the_plan.copies} fleet copies over "
             f"{the_plan.days} days); warm n={sizes.warm}, cold n={sizes.cold}.", ""]
    if loaded is not None:
        lines += ["| table | rows | seconds | rows/s |", "|---|---|---|---|"]
        lines += [f"| {t} | {n:,} | {loaded.seconds[t]:.1f} | {n / loaded.seconds[t]:,.0f} |"
                  for t, n in loaded.rows.items()]
        lines += [f"| all (ANALYZE {loaded.seconds['analyze']:.1f} s) | {sum(loaded.rows.values()):,} | "
                  f"{sum(v for k, v in loaded.seconds.items() if k != 'analyze'):.1f} | {loaded.rate():,.0f} |", ""]
    lines += ["| question | warm p50 / p95 ms | cold p50 / p95 ms | naive form | naive warm p50 / p95 ms "
              "| naive cold p50 / p95 ms | warm p95 before 0036 |", "|---|---|---|---|---|---|---|"]
    for m in measured:
        p, n = m.production, m.naive
        lines.append(f"| {m.case.name} | {p.warm_p50:.1f} / {p.warm_p95:.1f} | {p.cold_p50:.1f} / {p.cold_p95:.1f} "
                     f"| {m.case.naive_name} | {n.warm_p50:.1f} / {n.warm_p95:.1f} | {n.cold_p50:.1f} / "
                     f"{n.cold_p95:.1f} | {m.before_0036:.1f} |")
    lines += ["", "| export | rows | rows/s | peak RSS growth MB |", "|---|---|---|---|"]
    lines += [f"| {e.name}, {e.form} | {e.rows:,} | {e.rows_per_s:,.0f} | {e.rss_growth_mb:.1f} |" for e in exports]
    return "\n".join(lines) + "\n"


def top_up(conn: psycopg.Connection, the_plan: Plan, seed: int = 21) -> Loaded | None:
    """Add what the scorecard reads to a year kept from before ``bench.year.people``; None when it has it.

    The year's audit records are then chained again with people's, in time order as a live trail is: appended
    after the kept ones, people's records would all sit at the newest ids, and a newest-first search would read
    past every one of them (it did: 84 ms instead of 3 ms for the newest acknowledgements at scale 0.3).
    """
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM patrol_scans), EXISTS (SELECT 1 FROM (SELECT at < lag(at) OVER (ORDER BY id)"
        " AS back FROM audit_log WHERE at < %s) t WHERE back)", (the_plan.end,)).fetchone()
    assert row is not None
    has_people, out_of_order = row
    if has_people and not out_of_order:
        return None
    loaded = Loaded()
    added = [] if has_people else load_people(conn, the_plan, loaded, random.Random(seed + 1))
    _rechain(conn, the_plan, added, loaded)
    began = time.perf_counter()
    conn.execute("ANALYZE")
    conn.commit()
    loaded.seconds["analyze"] = time.perf_counter() - began
    return loaded


def _rechain(conn: psycopg.Connection, the_plan: Plan, added: list[tuple[AuditRecord, str]], loaded: Loaded) -> None:
    # The records before the year's (the site load's, stamped when it ran, after the year's end) stay first.
    rows = conn.execute("SELECT at, actor, action, target, detail, scope_path, at >= %s FROM audit_log ORDER BY id",
                        (the_plan.end,)).fetchall()
    first = next((n for n, r in enumerate(rows) if not r[6]), len(rows))
    kept = [(AuditRecord(r[0], r[1], r[2], r[3], r[4]), r[5]) for r in rows]
    ordered = kept[:first] + sorted(kept[first:] + added, key=lambda a: a[0].at)
    # The benchmark's own cluster: the append-only guard is lifted for this one rewrite, as migration 0027 does.
    conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_truncate")
    conn.execute("TRUNCATE audit_log")
    conn.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_truncate")
    timed_copy(conn, loaded)("audit_log", AUDIT_COLUMNS, AUDIT_TYPES, chained(iter(ordered), GENESIS))


def run(short: bool = False, scale: float | None = None, data: Path | None = None) -> list[Figure]:
    """Load (unless ``data`` already holds a loaded year), measure, print the section; return the figures."""
    sizes = SHORT if short else FULL
    if scale is not None:
        sizes = Sizes(scale, sizes.warm, sizes.cold)
    root = (data or Path(tempfile.mkdtemp(prefix="cg-year-"))).resolve()
    with private_cluster(root, keep=data is not None) as cluster:
        with psycopg.connect(cluster.url(DATABASE_NAME)) as conn:
            loaded_before = conn.execute("SELECT to_regclass('bench_year_plan') IS NOT NULL").fetchone()
            conn.commit()
            loaded: Loaded | None = None
            if loaded_before and loaded_before[0]:
                # A kept year gets the migrations written since it was loaded (new indexes), as a deployment would.
                migrate(conn, StorageBackend.PLAIN, RetentionSettings())
                the_plan = plan_of(conn)
                loaded = top_up(conn, the_plan)
            else:
                the_plan, loaded = load_year(conn, sizes.scale)
        measured = measure(cluster, sizes)
        exports = export.measure(cluster.url(DATABASE_NAME))
    print(markdown(the_plan, loaded, measured, exports, sizes))
    return figures(measured, exports)


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: ``--scale``, ``--data DIR`` (keep the cluster there), ``--short``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--short", action="store_true", help="the tiny form make test runs")
    parser.add_argument("--scale", type=float, default=None, help="1.0 is the full year (about 50 M positions)")
    parser.add_argument("--data", type=Path, default=None, help="keep the loaded cluster here and reuse it")
    args = parser.parse_args(argv)
    for figure in run(args.short, args.scale, args.data):
        print(figure.line())


if __name__ == "__main__":
    main()
