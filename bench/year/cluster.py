"""A PostgreSQL cluster of the benchmark's own, so that "cold" can mean a restarted server.

The shared development server serves other people's tests; restarting it for a cold cache would break them.
The year is loaded into a private cluster (``devtools.devservices``'s own cluster code, as the tests use it),
kept in a directory of its own so a second run measures without loading again. Restarting it empties
PostgreSQL's shared buffers and every connection's plan and catalog caches; the operating system's page cache
stays warm (dropping it needs root and would slow every other process on the machine).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from devtools.devservices import (
    DATABASE_NAME,
    PostgresCluster,
    ensure_database,
    find_postgres_bindir,
    free_port,
    postgres_owner,
)


@contextmanager
def private_cluster(root: Path, keep: bool) -> Iterator[PostgresCluster]:
    """Start (creating if need be) a cluster under ``root``; stop it at the end, and delete it unless ``keep``."""
    cluster = PostgresCluster(bindir=find_postgres_bindir(), root=root, port=free_port(), owner=postgres_owner())
    try:
        cluster.init()
        cluster.start()
        ensure_database(cluster.url(DATABASE_NAME))
        yield cluster
    finally:
        cluster.stop()
        if not keep:
            shutil.rmtree(root, ignore_errors=True)


def restart(cluster: PostgresCluster) -> None:
    """Stop and start the cluster: PostgreSQL's own caches are cold afterwards."""
    cluster.stop()
    cluster.start()
