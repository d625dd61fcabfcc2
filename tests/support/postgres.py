"""Throw-away PostgreSQL for tests: scratch databases on a shared server, and whole private clusters.

The cluster handling is ``devtools.devservices``'s own (the code ``make test`` relies on), so the tests
exercise it rather than a copy.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from devtools.devservices import (
    DATABASE_NAME,
    PostgresCluster,
    ensure_database,
    find_postgres_bindir,
    free_port,
    postgres_owner,
)


@contextmanager
def scratch_database(server_url: str, prefix: str = "cg_test_") -> Iterator[str]:
    """Create an empty, uniquely named database on the server of ``server_url``; drop it afterwards."""
    name = f"{prefix}{secrets.token_hex(6)}"
    admin_url = make_conninfo(server_url, dbname="postgres")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_conninfo(server_url, dbname=name)
    finally:
        # FORCE: a test that leaked a connection must not leave its database behind.
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


class PrivateCluster:
    """A PostgreSQL cluster of a test's own, in a temp dir on a free loopback port.

    ``stop()`` and ``start()`` keep the port and the data, so a client can test reconnecting; ``close()``
    (or leaving the ``with`` block) stops it and deletes everything.
    """

    def __init__(self) -> None:
        """Create and start the cluster (initdb takes about a second)."""
        # mkdtemp is private (0700); the cluster code hands it to the postgres account when we are root.
        self._root = Path(tempfile.mkdtemp(prefix="cg-test-pg-"))
        try:
            self._cluster = PostgresCluster(
                bindir=find_postgres_bindir(), root=self._root, port=free_port(), owner=postgres_owner()
            )
            self._cluster.init()
            self.start()
            ensure_database(self.url)
        except BaseException:
            self.close()
            raise

    @property
    def url(self) -> str:
        """URL of the cluster's ``campusguard`` database."""
        return self._cluster.url(DATABASE_NAME)

    @property
    def port(self) -> int:
        """The loopback port it listens on, the same across restarts."""
        return self._cluster.port

    def start(self) -> None:
        """Start the server on the same port and data as before."""
        self._cluster.start()

    def stop(self) -> None:
        """Stop the server (fast shutdown: clients are disconnected)."""
        self._cluster.stop()

    def restart(self) -> None:
        """Stop and start again, as a database failover or upgrade would look to a client."""
        self.stop()
        self.start()

    def close(self) -> None:
        """Stop the server and delete its files; safe to call twice."""
        cluster: PostgresCluster | None = getattr(self, "_cluster", None)
        if cluster is not None:
            cluster.stop()
            # A long temp path puts the socket in a temp dir of its own.
            if not cluster.socket_dir.is_relative_to(self._root):
                shutil.rmtree(cluster.socket_dir, ignore_errors=True)
        shutil.rmtree(self._root, ignore_errors=True)

    def __enter__(self) -> PrivateCluster:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
