"""The FastAPI application: built from settings, holding one connection pool for its lifetime."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from psycopg_pool import ConnectionPool

from campusguard import __version__
from command_ui.body_limit import BodyLimit
from command_ui.config import WebProcess
from command_ui.deps import CurrentUser
from command_ui.errors import ERROR_RESPONSES, install_error_handlers, refuse_nul
from command_ui.incident_hub import IncidentHub
from command_ui.live_hub import PositionHub
from command_ui.routers import (
    alarms,
    audit,
    auth,
    basemap,
    bulletins,
    buses,
    classes,
    compliance,
    geofences,
    health,
    incidents,
    live,
    ops,
    patrols,
    push,
    reports,
    responders,
    sites,
    snapshots,
    terminals,
    video,
    vision_scene,
    wall,
)
from command_ui.routers.responders import OwnPositions
from command_ui.security_headers import SecurityHeaders

STATIC = Path(__file__).resolve().parent / "static"
# Browser libraries come from npm (tools/ui), never from a CDN: the pages must work on a closed network.
NODE_MODULES = Path(__file__).resolve().parents[1] / "tools" / "ui" / "node_modules"
VENDOR = {
    "leaflet": NODE_MODULES / "leaflet" / "dist",
    "markercluster": NODE_MODULES / "leaflet.markercluster" / "dist",
    "echarts": NODE_MODULES / "echarts" / "dist",
    "mpegts": NODE_MODULES / "mpegts.js" / "dist",
}
LEAFLET = VENDOR["leaflet"]
PAGES = {"/": "map.html", "/guard": "guard.html", "/login": "login.html", "/history": "history.html",
         "/alarms": "alarms.html", "/audit": "audit.html", "/ops": "ops.html",
         "/wall": "wall.html",
         # A head teacher's class and the buses its pupils ride (command_ui/routers/classes.py).
         "/class": "class.html",
         # A guard's scan of a patrol checkpoint's code, and a school admin's printable codes (routers/patrols.py).
         "/patrol": "patrol.html",
         # Officers' safety scorecard of their schools, with the monthly bulletin (routers/compliance.py).
         "/scorecard": "scorecard.html",
         # The guard phone's service worker: served from the root so that its scope holds /guard (static/sw.js).
         "/sw.js": "sw.js"}


def _page(path: Path) -> Callable[[], FileResponse]:
    def serve() -> FileResponse:
        return FileResponse(path, headers={"Cache-Control": "no-cache"})
    return serve


def create_app(settings: WebProcess) -> FastAPI:
    """Build the app; the pool opens on startup and closes on shutdown."""
    # open=False: the pool starts with the app, so building an app (tests, OpenAPI export) needs no database.
    # autocommit: each statement commits, and writes that must go together take an explicit transaction.
    pool = ConnectionPool(settings.database_url, min_size=1, max_size=10, open=False,
                          kwargs={"connect_timeout": 5, "autocommit": True})

    hub = PositionHub(settings.database_url)
    incident_feed = IncidentHub(settings.database_url)
    own_positions = OwnPositions(settings.database_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool.open(wait=False)
        # One position feed and one incident feed for every live socket of this process.
        feeds = [asyncio.create_task(hub.run()), asyncio.create_task(incident_feed.run())]
        try:
            yield
        finally:
            for feed in feeds:
                feed.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await feed
            own_positions.close()
            pool.close()

    # The schema is served behind authentication below; FastAPI's own /docs page would load its scripts
    # from a CDN, which a command centre must not depend on, so it is off.
    # Every error answers with one documented body (command_ui/errors.py); no text with NUL gets past the door.
    app = FastAPI(title="campusguard", version=__version__, lifespan=lifespan,
                  docs_url=None, redoc_url=None, openapi_url=None,
                  responses=ERROR_RESPONSES, dependencies=[Depends(refuse_nul)])
    install_error_handlers(app)
    app.state.settings = settings
    app.state.pool = pool
    app.state.hub = hub
    app.state.incidents = incident_feed
    app.state.own_positions = own_positions
    # A body over the limit is refused before anything reads it (command_ui/body_limit.py).
    app.add_middleware(BodyLimit, max_bytes=settings.web.max_body_bytes)
    # CSP and friends on every answer; a foreign page's POST or websocket refused (command_ui/security_headers.py).
    app.add_middleware(SecurityHeaders, tile_urls=settings.map.tile_urls(),
                       allowed_origins=settings.web.allowed_origins)
    app.include_router(health.router)
    app.include_router(auth.router)
    app.include_router(sites.router)
    app.include_router(geofences.router)
    app.include_router(incidents.router)
    app.include_router(audit.router)
    app.include_router(live.router)
    app.include_router(buses.router)
    app.include_router(classes.router)
    app.include_router(reports.router)
    app.include_router(basemap.router)
    app.include_router(snapshots.router)
    app.include_router(responders.router)
    app.include_router(vision_scene.router)
    app.include_router(alarms.router)
    app.include_router(ops.router)
    app.include_router(terminals.router)
    app.include_router(push.router)
    app.include_router(wall.router)
    app.include_router(video.router)
    app.include_router(patrols.router)
    # The safety scorecard and the monthly bulletin (routers/compliance.py).
    app.include_router(compliance.router)
    # The archive of monthly bulletins, kept by the monthly job and on demand (routers/bulletins.py).
    app.include_router(bulletins.router)

    @app.get("/api/v1/openapi.json", include_in_schema=False)
    def openapi(user: CurrentUser) -> dict[str, Any]:
        return app.openapi()

    # The pages hold no data: each asks /api/v1/auth/me and goes to /login when that answers 401.
    for name, folder in VENDOR.items():
        if folder.is_dir():
            app.mount(f"/vendor/{name}", StaticFiles(directory=folder), name=f"vendor-{name}")
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for route, page in PAGES.items():
        app.add_api_route(route, _page(STATIC / page), include_in_schema=False)

    return app
