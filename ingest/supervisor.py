"""``campusguard ingest --workers N``: the ingest processes of one host, restarted if they die.

In the default, exclusive layout that is one receiver (the MQTT session and the device ports: OsmAnd HTTP,
JT/T 808, GT06), the priority lane's process (panic buttons, :mod:`ingest.priority`) and N writers (one spool
each); in the shared layout, N workers in one MQTT shared group, worker
0 serving the device ports. Each device port is switched on its own (:class:`DevicePorts`).
Each process is separate (the GIL would make threads share one core) and keeps its index across restarts, so
it resumes its own spool (and MQTT session). Before starting any, the supervisor moves what spools of a
larger worker count still hold into the spools of this one (``ingest.spool.repartition``), so scaling down
strands nothing.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from ingest.spool import repartition

log = logging.getLogger(__name__)

RESTART_DELAY_S = 1.0
RECEIVER = -1  # the receiver's slot among the supervised processes
PRIORITY = -2  # the priority lane's
SLOT_NAMES = {RECEIVER: "receiver", PRIORITY: "priority lane"}


@dataclass(frozen=True, slots=True)
class DevicePorts:
    """Which device ports the hosting process serves, each switched on its own (settings must enable it too)."""

    http: bool = True
    jt808: bool = True
    gt06: bool = True

    def flags(self) -> list[str]:
        """Write them as the hidden worker and receiver commands take them."""
        return [f"--{'' if on else 'no-'}{name}" for name, on in (("http", self.http), ("jt808", self.jt808),
                                                                  ("gt06", self.gt06))]


NO_PORTS = DevicePorts(False, False, False)


def worker_command(index: int, ports: DevicePorts | bool, role: str = "worker") -> list[str]:
    """Build the command line of one worker or writer process (``ports``: True/False for all or none)."""
    command = [sys.executable, "-m", "campusguard", "ingest-worker", "--index", str(index), "--role", role]
    return command + _ports(ports).flags()


def receiver_command(partitions: int, ports: DevicePorts | bool) -> list[str]:
    """Build the command line of the receiver."""
    command = [sys.executable, "-m", "campusguard", "ingest-receiver", "--partitions", str(partitions)]
    return command + _ports(ports).flags()


def priority_command(partitions: int) -> list[str]:
    """Build the command line of the priority lane's process."""
    return [sys.executable, "-m", "campusguard", "ingest-priority", "--partitions", str(partitions)]


def _ports(ports: DevicePorts | bool) -> DevicePorts:
    if isinstance(ports, DevicePorts):
        return ports
    return DevicePorts() if ports else NO_PORTS


def commands(workers: int, ports: DevicePorts | bool, shared: bool, priority: bool = True) -> dict[int, list[str]]:
    """Every process of the layout by slot: writers (or workers) 0..N-1, the receiver when exclusive.

    With ``priority`` the exclusive layout also runs the priority lane's process (a shared worker keeps both
    lanes in itself).
    """
    hosted = _ports(ports)
    if shared:
        return {i: worker_command(i, hosted if i == 0 else NO_PORTS) for i in range(workers)}
    layout = {i: worker_command(i, NO_PORTS, "writer") for i in range(workers)}
    return layout | {RECEIVER: receiver_command(workers, hosted)} | (
        {PRIORITY: priority_command(workers)} if priority else {})


def supervise(workers: int, ports: DevicePorts | bool = True, *, shared: bool = False,
              spool_dir: Path | None = None, priority: bool = True) -> int:
    """Run and watch the processes until SIGTERM/SIGINT; returns the exit status."""
    if spool_dir is not None:
        repartition(spool_dir, workers)
    # The children read the worker count from the settings (the receiver's partitions, the retired sessions).
    env = dict(os.environ, CAMPUSGUARD_INGEST__WORKERS=str(workers))
    return _supervise(commands(workers, ports, shared, priority), env)


def _supervise(layout: dict[int, list[str]], env: dict[str, str]) -> int:
    stopping = False

    def _stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    procs: dict[int, subprocess.Popen[bytes]] = {}
    for slot, command in layout.items():
        procs[slot] = subprocess.Popen(command, env=env)  # noqa: S603
    log.info("ingest: %d processes started", len(procs))
    while not stopping:
        time.sleep(0.2)
        for index, proc in list(procs.items()):
            code = proc.poll()
            if code is None or stopping:
                continue
            # A killed process loses nothing (its spool and MQTT session wait for it); bring it back.
            log.error("ingest process %s exited with %s; restarting in %.0f s",
                      SLOT_NAMES.get(index, index), code, RESTART_DELAY_S)
            time.sleep(RESTART_DELAY_S)
            procs[index] = subprocess.Popen(layout[index], env=env)  # noqa: S603
    for proc in procs.values():
        proc.send_signal(signal.SIGTERM)
    for proc in procs.values():
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
    return 0
