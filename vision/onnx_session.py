"""Open an onnxruntime session for one model file, with bounded threads and the best provider installed.

Every vision model (detectors, pose, faces) goes through :func:`open_session`, so thread limits and the choice
of execution provider are decided in one place. The CUDA provider is used when the installed onnxruntime build
has it (the ``onnxruntime-gpu`` wheel); otherwise the CPU provider. CPU stays in the list after CUDA so that
nodes CUDA cannot run still fall back to it inside the same session.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import onnxruntime as ort  # type: ignore[import-untyped]  # ships no type information

CUDA_PROVIDER = "CUDAExecutionProvider"
CPU_PROVIDER = "CPUExecutionProvider"


class ModelLoadError(RuntimeError):
    """A model file exists but onnxruntime could not load it (not ONNX, truncated, unsupported operators)."""


def choose_providers(available: list[str] | None = None) -> list[str]:
    """Return the execution providers to ask for, best first: CUDA when ``available`` has it, then always CPU."""
    have = ort.get_available_providers() if available is None else available
    return [CUDA_PROVIDER, CPU_PROVIDER] if CUDA_PROVIDER in have else [CPU_PROVIDER]


def open_session(path: Path | str, *, intra_op_threads: int = 2, inter_op_threads: int = 1) -> Any:
    """Open ``path`` as an ``onnxruntime.InferenceSession`` limited to the given thread counts.

    Raises :class:`FileNotFoundError` when the file is missing and :class:`ModelLoadError` when onnxruntime
    refuses it; both name the path, since a camera's config is the usual place the mistake was made.
    """
    model = Path(path)
    if not model.is_file():
        raise FileNotFoundError(f"ONNX model not found: {model}")
    if intra_op_threads < 1 or inter_op_threads < 1:
        raise ValueError(f"thread counts must be at least 1, got {intra_op_threads}/{inter_op_threads}")
    options = ort.SessionOptions()
    options.intra_op_num_threads = intra_op_threads
    options.inter_op_num_threads = inter_op_threads
    # Warnings about unused initialisers and the like are noise in a camera log; errors still raise.
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(str(model), options, providers=choose_providers())
    except Exception as error:  # onnxruntime raises its own pybind classes, not a common base we can name
        raise ModelLoadError(f"cannot load {model} as an ONNX model: {error}") from error
