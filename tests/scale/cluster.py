"""Real campusguard processes for the scale-out test: the ingest supervisor, API replicas, the alert service.

Everything runs as the production command line would (``python -m campusguard ...``) with settings from the
environment, so the test exercises what a deployment runs; each process logs to a file of its own, whose tail
a failing test can show.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from devtools.devservices import free_port
from tests.support.secrets import TEST_ADMIN_PASSWORD, TEST_SECRET_KEY

SECRET_KEY = TEST_SECRET_KEY
ADMIN_PASSWORD = TEST_ADMIN_PASSWORD


def campusguard_env(database_url: str, mqtt_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a production-mode campusguard process against these services."""
    return dict(os.environ, CAMPUSGUARD_MODE="production", CAMPUSGUARD_DATABASE_URL=database_url,
                CAMPUSGUARD_MQTT_URL=mqtt_url, CAMPUSGUARD_DATA_DIR=str(data_dir),
                CAMPUSGUARD_SECRET_KEY=SECRET_KEY, CAMPUSGUARD_ADMIN_PASSWORD=ADMIN_PASSWORD, **extra)


def free_port_run(count: int) -> int:
    """Find ``count`` consecutive free loopback ports (worker n's metrics port is the first plus n)."""
    for _ in range(50):
        first = free_port()
        if all(_bindable(first + n) for n in range(count)):
            return first
    raise RuntimeError(f"no run of {count} free ports")


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@dataclass
class Processes:
    """Named child processes, each logging to ``<logs>/<name>.log``; :meth:`close` stops them all."""

    logs: Path
    running: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, name: str, args: list[str], env: Mapping[str, str]) -> subprocess.Popen[bytes]:
        """Start ``python -m campusguard <args>``."""
        with (self.logs / f"{name}.log").open("ab") as log:
            proc = subprocess.Popen([sys.executable, "-m", "campusguard", *args],
                                    env=dict(env), stdout=log, stderr=subprocess.STDOUT)
        self.running[name] = proc
        return proc

    def tail(self, name: str, lines: int = 30) -> str:
        """The last lines a process logged, for a failure message."""
        path = self.logs / f"{name}.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def close(self) -> None:
        """SIGTERM everything (the ingest supervisor drains its workers), then wait; kill what hangs."""
        for proc in self.running.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.running.values():
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def worker_pids(supervisor_pid: int) -> dict[int, int]:
    """Map worker index to the pid of the supervisor's live ``ingest-worker`` child with that index."""
    found: dict[int, int] = {}
    for task in Path(f"/proc/{supervisor_pid}/task").iterdir():
        children = (task / "children").read_text().split()
        for pid in map(int, children):
            try:
                argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except FileNotFoundError:
                continue  # exited between the two reads
            if b"ingest-worker" in argv and b"--index" in argv:
                found[int(argv[argv.index(b"--index") + 1])] = pid
    return found


def ingest_outcome(metrics_port: int, outcome: str) -> float | None:
    """Read one worker's ``campusguard_ingest_outcomes_total{outcome=...}``; None while it does not answer."""
    try:
        text = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=2).text
    except httpx.HTTPError:
        return None
    for family in text_string_to_metric_families(text):
        if family.name == "campusguard_ingest_outcomes":
            for sample in family.samples:
                if sample.name.endswith("_total") and sample.labels.get("outcome") == outcome:
                    return float(sample.value)
    return 0.0
