"""Running the long-lived processes: the web app with its maintenance schedule.

The plain-PostgreSQL path needs partitions created ahead and expired ones dropped, and both paths need expired
snapshots deleted; APScheduler runs that in the web process so a small deployment needs no cron (TimescaleDB's
own jobs do the rest on its path).
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import psycopg
import uvicorn
from apscheduler.schedulers.background import BackgroundScheduler

from campusguard.settings import Settings
from command_ui import bulletin_archive
from command_ui.app import create_app
from store.db import connect
from store.maintenance import maintain
from vision.video.service import CameraFeed, VideoService

log = logging.getLogger(__name__)


def maintenance_pass(settings: Settings) -> None:
    """Run one maintenance pass; a failure is logged and retried at the next tick."""
    try:
        with connect(settings.database_url, max_wait_s=10) as conn:
            maintain(conn, datetime.now(UTC))
    except psycopg.Error:
        log.exception("maintenance pass failed; will retry at the next tick")


def run_app(settings: Settings) -> None:
    """Serve the app until interrupted, with the maintenance schedule running beside it."""
    scheduler = BackgroundScheduler(timezone=UTC)
    scheduler.add_job(maintenance_pass, "interval", seconds=settings.rollup_refresh_seconds,
                      args=[settings], max_instances=1, coalesce=True)
    # The monthly bulletin (command_ui/bulletin_archive.py): hourly, so the first hour of the 1st in any bureau's
    # timezone makes last month's, and a minute after start-up (the start itself stays quick), so a server that
    # was down on the 1st catches up.
    scheduler.add_job(bulletin_archive.run_pass, "cron", minute=5, args=[settings.database_url, settings.vision.video],
                      next_run_time=datetime.now(UTC) + timedelta(minutes=1), max_instances=1, coalesce=True)
    scheduler.start()
    server = uvicorn.Server(server_config(settings))
    try:
        with contextlib.suppress(KeyboardInterrupt):
            server.run()
    finally:
        scheduler.shutdown(wait=False)
    if not server.started:
        raise SystemExit(3)  # as uvicorn.run: the port was taken, or the app failed to start


def run_video(settings: Settings, cameras: Sequence[CameraFeed]) -> None:
    """Record cameras, apply retention and the disk budget, and clip camera incidents until SIGTERM or SIGINT."""
    service = VideoService(settings.database_url, settings.vision.video, cameras)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    service.start()
    try:
        stop.wait()
    finally:
        service.stop()


def server_config(settings: Settings) -> uvicorn.Config:
    """How uvicorn serves the app: the bound address, websocket compression, and whose forwarded headers count.

    ``X-Forwarded-For`` decides the address every audit record and the sign-in throttle see, so it is believed
    only from the proxies in ``trusted_proxies``; none by default, where uvicorn on its own would believe
    127.0.0.1 (and read ``FORWARDED_ALLOW_IPS`` from the environment, past the settings).
    """
    trusted = [entry for entry in settings.trusted_proxies.split(",") if entry]
    return uvicorn.Config(create_app(settings), host=settings.http_host, port=settings.http_port,
                          log_level="info", ws_per_message_deflate=settings.http_ws_deflate,
                          proxy_headers=bool(trusted), forwarded_allow_ips=trusted)
