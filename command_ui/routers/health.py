"""Health: the one route without authentication, so probes and load balancers can call it.

It tells only whether the service, its database and its feed of incidents to live screens work, nothing about
the district.
"""

from __future__ import annotations

import psycopg
from fastapi import APIRouter, Request, Response, status

from campusguard import __version__
from command_ui.schemas import Health
from store.migrate import MigrationError, current_flavor

router = APIRouter(tags=["health"])


@router.get("/health")
def health(request: Request, response: Response) -> Health:
    """Report whether the service can reach its database and is feeding live screens."""
    feed = request.app.state.incidents.state()
    try:
        with request.app.state.pool.connection(timeout=2.0) as conn:
            try:
                storage: str | None = current_flavor(conn).value
            except MigrationError:
                storage = None  # reachable, not migrated yet
    except (psycopg.Error, TimeoutError, OSError):
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        return Health(status="degraded", database="unavailable", storage=None, live_feed=feed, version=__version__)
    if feed == "stale":
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return Health(status="degraded" if feed == "stale" else "ok", database="ok", storage=storage,
                  live_feed=feed, version=__version__)
