"""Detector backends: one module per model family, each with its config (``type: Literal[...]``) and detector.

``DETECTORS`` maps a config's ``type`` to its detector class, and ``DetectorConfig`` is the discriminated union
a camera's settings use. Adding a family is adding a module here (a ``*Config`` with a ``type`` literal and a
detector class whose ``config_class`` names it), listing it in ``_MODULES`` and in the union; a test fails if a
module is left out of either.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from pydantic import TypeAdapter

from vision.config import DetectorConfig, DetectorConfigBase
from vision.detectors import nanodet, yolo
from vision.detectors.base import Detector

_MODULES: Final = (nanodet, yolo)


def _registry() -> dict[str, Callable[[Any], Detector]]:
    """Collect each module's detector class under its config's ``type`` value."""
    found: dict[str, Callable[[Any], Detector]] = {}
    for module in _MODULES:
        for obj in vars(module).values():
            config_class = getattr(obj, "config_class", None)
            if isinstance(obj, type) and obj.__module__ == module.__name__ and config_class is not None:
                found[config_class.model_fields["type"].default] = obj
    return found


DETECTORS: Final[Mapping[str, Callable[[Any], Detector]]] = _registry()

_CONFIG_ADAPTER: Final[TypeAdapter[DetectorConfig]] = TypeAdapter(DetectorConfig)


def parse_config(raw: Mapping[str, Any]) -> DetectorConfigBase:
    """Validate a detector config from a dict (YAML, JSON), choosing the class by its ``type``."""
    config: DetectorConfigBase = _CONFIG_ADAPTER.validate_python(raw)
    return config


def build_detector(config: DetectorConfigBase | Mapping[str, Any]) -> Detector:
    """Build the detector a config (or a raw dict) describes; this opens its model."""
    chosen = config if isinstance(config, DetectorConfigBase) else parse_config(config)
    kind = getattr(chosen, "type", None)
    if not isinstance(kind, str) or kind not in DETECTORS:
        raise ValueError(f"no detector of type {kind!r}; known: {sorted(DETECTORS)}")
    return DETECTORS[kind](chosen)


__all__ = [
    "DETECTORS",
    "Detector",
    "DetectorConfig",
    "DetectorConfigBase",
    "build_detector",
    "parse_config",
]
