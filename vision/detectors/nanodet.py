"""NanoDet-m backend: the committed 416x416 COCO detector (vision/models/nanodet-m.onnx).

The model's input and outputs are described in vision/models/README.md: a BGR frame letterboxed to 416 (padding
right/bottom in black), normalised per channel; for each of strides 8, 16 and 32 a ``[1, N, 80]`` tensor of
class scores (already sigmoid) and a ``[1, N, 44]`` tensor of box-side distributions (4 sides x 11 bins of
logits). :func:`decode` turns those into boxes in one vectorised pass over all 3,549 cells.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from vision.config import NanoDetConfig
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

INPUT_SIZE = 416
STRIDES = (8, 16, 32)
BINS = 11
"""Each box side is a distribution over 0..10 strides from the cell centre (the GFL head's ``reg_max`` + 1)."""
MEAN_BGR = np.array([103.53, 116.28, 123.675], np.float32)
STD_BGR = np.array([57.375, 57.12, 58.395], np.float32)


@lru_cache(maxsize=4)
def cell_centres(size: int = INPUT_SIZE) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Centre x, centre y and stride of every output cell, strides 8, 16, 32 concatenated in that order.

    Cell ``i`` of a stride-``s`` grid ``n`` cells wide is centred at ``((i % n + 0.5) * s, (i // n + 0.5) * s)``
    (NanoDet-m's legacy GFL centre, +0.5).
    """
    xs, ys, strides = [], [], []
    for stride in STRIDES:
        n = size // stride
        idx = np.arange(n * n)
        xs.append((idx % n + 0.5) * stride)
        ys.append((idx // n + 0.5) * stride)
        strides.append(np.full(n * n, stride))
    arrays = tuple(np.concatenate(a).astype(np.float32) for a in (xs, ys, strides))
    for array in arrays:
        array.flags.writeable = False  # shared by every call through the cache
    return arrays[0], arrays[1], arrays[2]


def preprocess(image: Image) -> tuple[FloatArray, Letterbox]:
    """BGR frame → ``[1, 3, 416, 416]`` normalised input, and how the frame was fitted into it."""
    canvas, fitted = letterbox(image, INPUT_SIZE, fill=0, centre=False)
    # Planar copy first, then normalise in place: half the time of normalising HWC and copying it to CHW.
    planar = canvas.transpose(2, 0, 1).astype(np.float32, order="C")
    planar -= MEAN_BGR[:, None, None]
    planar *= (1.0 / STD_BGR)[:, None, None]
    return planar[None], fitted


def decode(
    outputs: Sequence[FloatArray], threshold: float, size: int = INPUT_SIZE
) -> tuple[FloatArray, FloatArray, IntArray]:
    """Candidate boxes from the six raw outputs (``cls_8, cls_16, cls_32, box_8, box_16, box_32``).

    Each cell keeps its best class; cells scoring below ``threshold`` are dropped before the (costlier) box
    decode. Returns ``(boxes [K, 4] as x1, y1, x2, y2 in input pixels clipped to the input, scores [K],
    class ids [K])``; no NMS yet.
    """
    cls = np.concatenate([np.asarray(o, np.float32)[0] for o in outputs[: len(STRIDES)]])
    reg = np.concatenate([np.asarray(o, np.float32)[0] for o in outputs[len(STRIDES) :]])
    cx, cy, stride = cell_centres(size)
    if cls.shape[0] != cx.shape[0] or reg.shape != (cx.shape[0], 4 * BINS):
        raise ValueError(f"unexpected NanoDet output shapes {cls.shape} / {reg.shape} for input size {size}")
    scores = cls.max(axis=1)
    class_ids = cls.argmax(axis=1).astype(np.int64)
    keep = scores >= threshold
    logits = reg[keep].reshape(-1, 4, BINS)
    # Softmax over the bins, then the expectation: the side's distance in strides.
    weights = np.exp(logits - logits.max(axis=2, keepdims=True))
    weights /= weights.sum(axis=2, keepdims=True)
    distance = (weights @ np.arange(BINS, dtype=np.float32)) * stride[keep][:, None]
    x, y = cx[keep], cy[keep]
    boxes = np.stack([x - distance[:, 0], y - distance[:, 1], x + distance[:, 2], y + distance[:, 3]], axis=1)
    return np.clip(boxes, 0, size).astype(np.float32), scores[keep].astype(np.float32), class_ids[keep]


class NanoDetDetector:
    """NanoDet-m run with onnxruntime; see :class:`NanoDetConfig`."""

    config_class = NanoDetConfig

    def __init__(self, config: NanoDetConfig) -> None:
        """Open the model and read its label list from the file's metadata."""
        self.config = config
        self._session = open_session(
            config.model_path, intra_op_threads=config.intra_op_threads, inter_op_threads=config.inter_op_threads
        )
        meta = self._session.get_modelmeta().custom_metadata_map
        if "labels" not in meta:
            raise ModelLoadError(f"{config.model_path} carries no 'labels' metadata; is it the NanoDet export?")
        self._labels: tuple[str, ...] = tuple(json.loads(meta["labels"]))
        self._input = self._session.get_inputs()[0].name
        # Outputs are fetched by name so a re-export that orders them differently still decodes right.
        self._outputs = [f"cls_{s}" for s in STRIDES] + [f"box_{s}" for s in STRIDES]
        check_labels(config, self._labels)

    @property
    def labels(self) -> tuple[str, ...]:
        """The 80 COCO labels, by class index."""
        return self._labels

    def detect(self, image: Image) -> list[Detection]:
        """Objects in a BGR frame, best score first, boxes in its pixels."""
        x, fitted = preprocess(image)
        outputs = self._session.run(self._outputs, {self._input: x})
        candidates = decode(outputs, self.config.lowest_threshold())
        return finish(self.config, self._labels, candidates, fitted, image)
