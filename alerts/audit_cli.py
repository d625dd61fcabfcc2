"""The ``campusguard audit`` commands as plain functions: verify the chain, export records as CSV.

They return the process exit code rather than calling ``sys.exit``, so the typer wiring stays one line each
and tests can call them directly.
"""

from __future__ import annotations

from pathlib import Path

import typer

from domain.audit import AuditFilter
from store import audit_repo
from store.db import connect


def verify_command(database_url: str) -> int:
    """Check every record of the audit chain; 0 when intact, 1 at the first break (which is printed)."""
    with connect(database_url, autocommit=True) as conn:
        result = audit_repo.verify(conn)
    if result.ok:
        # The head hash is printed so it can be kept outside the database: only a later comparison with a
        # kept head shows records cut off the end or a chain rewritten from some point on.
        typer.echo(f"audit chain intact: {result.records} records, head {result.head_hash.hex()}")
        return 0
    typer.echo(
        f"audit chain BROKEN at record {result.broken_id} ({result.reason}): {result.explanation}", err=True
    )
    return 1


def export_command(database_url: str, out_path: Path, filters: AuditFilter | None = None) -> int:
    """Write the matching records to ``out_path`` as CSV; 0 on success."""
    chosen = filters or AuditFilter()
    with connect(database_url, autocommit=True) as conn, out_path.open("w", newline="", encoding="utf-8") as out:
        count = audit_repo.export_csv(
            conn, out, actor=chosen.actor, action=chosen.action, target=chosen.target,
            since=chosen.since, until=chosen.until,
        )
    typer.echo(f"exported {count} audit records to {out_path}")
    return 0
