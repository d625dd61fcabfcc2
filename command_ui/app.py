"""The FastAPI application: built from settings, holding one connection pool for its lifetime."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from psycopg_pool import ConnectionPool

from campusguard import __version__
from campusguard.settings import Settings
from command_ui.deps import CurrentUser
from command_ui.routers import audit, auth, geofences, health, incidents, live, sites

_HOME = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>campusguard</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><h1>campusguard</h1><p>Signed in as {user}.</p><ul>
<li><a href="/api/v1/schools">Schools (GeoJSON)</a></li><li><a href="/api/v1/buses">Buses (GeoJSON)</a></li>
<li><a href="/api/v1/devices">Devices (GeoJSON)</a></li>
<li><a href="/api/v1/openapi.json">OpenAPI schema</a></li>
<li><a href="/health">Health</a></li></ul></body></html>"""


def create_app(settings: Settings) -> FastAPI:
    """Build the app; the pool opens on startup and closes on shutdown."""
    # open=False: the pool starts with the app, so building an app (tests, OpenAPI export) needs no database.
    # autocommit: each statement commits, and writes that must go together take an explicit transaction.
    pool = ConnectionPool(settings.database_url, min_size=1, max_size=10, open=False,
                          kwargs={"connect_timeout": 5, "autocommit": True})

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool.open(wait=False)
        try:
            yield
        finally:
            pool.close()

    # The schema is served behind authentication below; FastAPI's own /docs page would load its scripts
    # from a CDN, which a command centre must not depend on, so it is off.
    app = FastAPI(title="campusguard", version=__version__, lifespan=lifespan,
                  docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    app.state.pool = pool
    app.include_router(health.router)
    app.include_router(auth.router)
    app.include_router(sites.router)
    app.include_router(geofences.router)
    app.include_router(incidents.router)
    app.include_router(audit.router)
    app.include_router(live.router)

    @app.get("/api/v1/openapi.json", include_in_schema=False)
    def openapi(user: CurrentUser) -> dict[str, Any]:
        return app.openapi()

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def home(user: CurrentUser) -> str:
        return _HOME.format(user=user.id)

    return app
