"""``campusguard ingest --workers N``: N worker processes sharing one MQTT subscription, restarted if they die.

Each worker is a separate process (the GIL would make threads share one core), keeps its index across
restarts so it resumes its own MQTT session and spool, and worker 0 also serves the OsmAnd HTTP port.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from types import FrameType

log = logging.getLogger(__name__)

RESTART_DELAY_S = 1.0


def worker_command(index: int, serve_http: bool) -> list[str]:
    """Build the command line of one worker process."""
    command = [sys.executable, "-m", "campusguard", "ingest-worker", "--index", str(index)]
    return command + (["--http"] if serve_http else [])


def supervise(workers: int, serve_http: bool = True) -> int:
    """Run and watch the workers until SIGTERM/SIGINT; returns the exit status."""
    # The children read the worker count from the settings to choose shared or exclusive subscriptions.
    env = dict(os.environ, CAMPUSGUARD_INGEST__WORKERS=str(workers))
    return _supervise(workers, serve_http, env)


def _supervise(workers: int, serve_http: bool, env: dict[str, str]) -> int:
    stopping = False

    def _stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    procs: dict[int, subprocess.Popen[bytes]] = {}
    for index in range(workers):
        procs[index] = subprocess.Popen(worker_command(index, serve_http and index == 0), env=env)  # noqa: S603
    log.info("ingest: %d workers started", workers)
    while not stopping:
        time.sleep(0.2)
        for index, proc in list(procs.items()):
            code = proc.poll()
            if code is None or stopping:
                continue
            # A killed worker loses nothing (its spool and MQTT session wait for it); bring it back.
            log.error("ingest worker %d exited with %s; restarting in %.0f s", index, code, RESTART_DELAY_S)
            time.sleep(RESTART_DELAY_S)
            procs[index] = subprocess.Popen(worker_command(index, serve_http and index == 0), env=env)  # noqa: S603
    for proc in procs.values():
        proc.send_signal(signal.SIGTERM)
    for proc in procs.values():
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
    return 0
