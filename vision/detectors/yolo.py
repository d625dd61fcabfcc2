"""Generic backend for Ultralytics-style YOLO ONNX exports (YOLOv8, YOLO11 and their kin).

A district can train its own model (say a kitchen-hygiene one: knife, phone, cat, gloves) and plug it in with
a config naming the file and its classes in training order. The export convention is:

- input ``[1, 3, S, S]`` float, RGB, pixel / 255, letterboxed (padding split evenly, grey 114);
- output ``[1, 4 + C, N]``: for each of N candidates ``cx, cy, w, h`` in input pixels, then C class scores
  already in 0..1 (no separate objectness).

The class names are not reliably in the file (older exports lack the ``names`` metadata), so the config
carries them and the loader checks their count against the output's shape.
"""

from __future__ import annotations

import cv2
import numpy as np

from vision.config import YoloConfig
from vision.detectors.base import (
    FloatArray,
    IntArray,
    Letterbox,
    check_labels,
    finish,
    letterbox,
)
from vision.messages import Detection, Image
from vision.onnx_session import ModelLoadError, open_session

DEFAULT_INPUT_SIZE = 640
PAD_GREY = 114
"""Ultralytics pads its letterbox with this grey; matching it avoids a band the model never saw in training."""


def preprocess(image: Image, size: int) -> tuple[FloatArray, Letterbox]:
    """BGR frame → ``[1, 3, size, size]`` RGB input in 0..1, and how the frame was fitted into it."""
    canvas, fitted = letterbox(image, size, fill=PAD_GREY, centre=True)
    rgb = cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB)
    planar = rgb.transpose(2, 0, 1).astype(np.float32, order="C")  # a CHW copy
    planar *= np.float32(1.0 / 255.0)
    return planar[None], fitted


def decode(output: FloatArray, num_classes: int, threshold: float) -> tuple[FloatArray, FloatArray, IntArray]:
    """Candidate boxes from a ``[1, 4 + C, N]`` output: ``(boxes [K, 4] x1, y1, x2, y2, scores [K], ids [K])``.

    Each candidate keeps its best class; those below ``threshold`` are dropped. Boxes stay in input pixels.
    """
    raw = np.asarray(output, np.float32)
    if raw.ndim != 3 or raw.shape[0] != 1 or raw.shape[1] != 4 + num_classes:
        raise ValueError(f"expected a YOLO output of shape [1, {4 + num_classes}, N], got {list(raw.shape)}")
    predictions = raw[0].T  # [N, 4 + C]: one row per candidate
    class_scores = predictions[:, 4:]
    scores = class_scores.max(axis=1)
    class_ids = class_scores.argmax(axis=1).astype(np.int64)
    keep = scores >= threshold
    cx, cy, w, h = predictions[keep, :4].T
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1).astype(np.float32)
    return boxes, scores[keep].astype(np.float32), class_ids[keep]


class YoloDetector:
    """A YOLO export run with onnxruntime; see :class:`YoloConfig`."""

    config_class = YoloConfig

    def __init__(self, config: YoloConfig) -> None:
        """Open the model and check its input and output shapes against the config."""
        self.config = config
        self._labels = tuple(config.classes)
        check_labels(config, self._labels)
        self._session = open_session(
            config.model_path, intra_op_threads=config.intra_op_threads, inter_op_threads=config.inter_op_threads
        )
        model_input = self._session.get_inputs()[0]
        self._input = model_input.name
        self._size = config.input_size or _static_side(model_input.shape) or DEFAULT_INPUT_SIZE
        out_shape = self._session.get_outputs()[0].shape
        if out_shape and len(out_shape) != 3:  # an empty shape means the file does not say; decode checks then
            raise ModelLoadError(f"{config.model_path}: expected a [1, 4 + C, N] output, the model has {out_shape}")
        if isinstance(out_shape[1], int) and out_shape[1] != 4 + len(self._labels):
            raise ModelLoadError(
                f"{config.model_path} scores {out_shape[1] - 4} classes but the config names {len(self._labels)}"
            )

    @property
    def labels(self) -> tuple[str, ...]:
        """The configured class names, by class index."""
        return self._labels

    @property
    def input_size(self) -> int:
        """Side of the square network input in pixels."""
        return self._size

    def detect(self, image: Image) -> list[Detection]:
        """Objects in a BGR frame, best score first, boxes in its pixels."""
        x, fitted = preprocess(image, self._size)
        (output,) = self._session.run(None, {self._input: x})[:1]
        candidates = decode(output, len(self._labels), self.config.lowest_threshold())
        return finish(self.config, self._labels, candidates, fitted, image)


def _static_side(shape: list[object]) -> int | None:
    """Return the square input side when the model fixes it (``[1, 3, S, S]``), else None."""
    if len(shape) == 4 and isinstance(shape[2], int) and shape[2] == shape[3]:
        return shape[2]
    return None
