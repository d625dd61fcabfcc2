"""A process imports only what it runs.

Reading the settings or starting ingest, geo or the alert stage loads neither onnxruntime nor OpenCV, and an
ingest writer not even the web framework (before, every process loaded all of them).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
VISION = {"onnxruntime", "cv2", "norfair"}
WEB = {"fastapi", "uvicorn", "starlette"}

# What each command imports when it runs: the command line itself, then the modules its function imports.
COMMANDS: dict[str, tuple[list[str], set[str]]] = {
    "settings": (["campusguard.settings"], VISION | WEB | {"httpx", "shapely"}),
    "ingest-worker (writer)": (["campusguard.cli", "ingest.supervisor", "ingest.worker"], VISION | WEB | {"httpx"}),
    "geo": (["campusguard.cli", "geo.service"], VISION | WEB | {"httpx"}),
    "alerts": (["campusguard.cli", "alerts.notifiers", "alerts.rules", "alerts.service"], VISION | WEB),
    "db migrate": (["campusguard.cli", "store.migrate", "store.maintenance"], VISION | WEB | {"httpx", "shapely"}),
}


def loaded(modules: list[str]) -> set[str]:
    """Top-level packages a fresh interpreter holds after importing ``modules``."""
    code = ("import importlib, json, sys\n"
            f"for name in {modules!r}: importlib.import_module(name)\n"
            "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout))


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_command_loads_only_what_it_runs(command: str) -> None:
    modules, forbidden = COMMANDS[command]
    assert loaded(modules) & forbidden == set()


def test_the_vision_stage_does_load_its_engine() -> None:
    # The check above would pass vacuously if nothing ever loaded them.
    assert loaded(["vision.worker", "vision.detectors"]) >= VISION
