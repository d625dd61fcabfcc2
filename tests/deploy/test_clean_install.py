"""The product as a deployment installs it starts every long-running command.

``pip install .`` with no extras into a clean venv, run from outside the source tree.

Before, the command line imported ``httpx`` (then a dev-only dependency) for the webhook notifier, so a
production install could not even print ``--help``; and the dev harnesses shipped inside product packages.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import venv
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devtools.devservices import free_port
from tests.support.postgres import scratch_database

REPO = Path(__file__).resolve().parents[2]
SERVICES = ("ingest", "geo", "alerts", "serve", "vision")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding campusguard as ``pip install .`` installs it; returns its bin directory."""
    root = tmp_path_factory.mktemp("clean-venv")
    venv.create(root, with_pip=True)
    bin_dir = root / "bin"
    # From a copy of the sources alone: building in the checkout would reuse (and leave) its build/ folder,
    # whose stale copies of moved modules a wheel would carry.
    source = tmp_path_factory.mktemp("source") / "campusguard"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", ".run", "build", "*.egg-info", "node_modules", "__pycache__", ".*_cache", ".hypothesis"))
    done = subprocess.run([str(bin_dir / "pip"), "install", "--quiet", "--disable-pip-version-check", str(source)],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-4000:]
    return bin_dir


def test_the_command_line_starts_and_no_harness_is_installed(installed: Path, tmp_path: Path) -> None:
    done = subprocess.run([str(installed / "campusguard"), "--help"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert "ingest" in done.stdout and "serve" in done.stdout
    probe = ("import importlib.util as u; print([m for m in ('devtools', 'tests', 'bench', 'domain', 'store')"
             " if u.find_spec(m)])")
    found = subprocess.run([str(installed / "python"), "-c", probe], cwd=tmp_path, capture_output=True, text=True,
                           timeout=60, check=True).stdout.strip()
    assert found == "['domain', 'store']"


@pytest.fixture
def environment(installed: Path, service_urls: object, tmp_path: Path) -> Iterator[dict[str, str]]:
    with scratch_database(service_urls.database_url) as url:  # type: ignore[attr-defined]
        env = {k: v for k, v in os.environ.items() if not k.startswith("CAMPUSGUARD_")}
        env |= {"CAMPUSGUARD_MODE": "demo", "CAMPUSGUARD_DATABASE_URL": url, "CAMPUSGUARD_DATA_DIR": str(tmp_path),
                "CAMPUSGUARD_MQTT_URL": service_urls.mqtt_url,  # type: ignore[attr-defined]
                "CAMPUSGUARD_SITE_FILE": str(REPO / "examples" / "district.yaml"),
                "CAMPUSGUARD_HTTP_PORT": str(free_port()), "CAMPUSGUARD_INGEST__HTTP_PORT": str(free_port()),
                "CAMPUSGUARD_INGEST__METRICS_PORT": "0", "CAMPUSGUARD_INGEST__CLIENT_ID": f"clean-{os.getpid()}"}
        for args in (["db", "migrate"], ["site", "load", env["CAMPUSGUARD_SITE_FILE"]]):
            done = subprocess.run([str(installed / "campusguard"), *args], cwd=tmp_path, env=env,
                                  capture_output=True, text=True, timeout=300)
            assert done.returncode == 0, done.stderr[-4000:]
        yield env


def test_every_service_starts_and_stops(installed: Path, environment: dict[str, str], tmp_path: Path) -> None:
    logs = {name: tmp_path / f"{name}.log" for name in SERVICES}
    procs = {}
    for name in SERVICES:
        with logs[name].open("w") as log:  # the child holds its own copy of the descriptor
            procs[name] = subprocess.Popen([str(installed / "campusguard"), name], cwd=tmp_path, env=environment,
                                           stdout=subprocess.DEVNULL, stderr=log)
    try:
        base = f"http://127.0.0.1:{environment['CAMPUSGUARD_HTTP_PORT']}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.5)
        time.sleep(5)  # every stage connected and working a while
        exited = {name: proc.returncode for name, proc in procs.items() if proc.poll() is not None}
        assert exited == {}, {name: logs[name].read_text()[-2000:] for name in exited}
    finally:
        for proc in procs.values():
            proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
    for name, log in logs.items():
        assert "Traceback" not in log.read_text(), f"{name}:\n{log.read_text()[-3000:]}"
    assert all(proc.returncode is not None for proc in procs.values())


def test_the_interpreter_is_not_the_source_tree(installed: Path) -> None:
    # The checks above mean something only if the venv's campusguard is the installed copy.
    where = subprocess.run([str(installed / "python"), "-c", "import campusguard; print(campusguard.__file__)"],
                           cwd="/", capture_output=True, text=True, check=True).stdout
    assert "site-packages" in where and not where.startswith(str(REPO))
    assert sys.prefix != str(installed.parent)
