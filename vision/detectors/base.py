"""What every detector backend shares: the :class:`Detector` protocol, common config, letterbox and NMS.

A backend turns a BGR frame into :class:`~vision.messages.Detection` objects whose boxes are in that frame's
pixels. The steps around the network are the same for every single-shot detector, so they live here as pure
array functions: :func:`letterbox` (fit the frame into the square network input keeping its aspect),
:func:`nms` (per-class non-maximum suppression) and :meth:`DetectorConfigBase.select` (score thresholds and
the label allow-list).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np
import numpy.typing as npt

from vision.config import DetectorConfigBase
from vision.messages import Box, Detection, Image

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]


class Detector(Protocol):
    """An object detector: one BGR picture in, the objects found in it out."""

    @property
    def labels(self) -> tuple[str, ...]:
        """Every label the model can emit, by class index."""
        ...

    def detect(self, image: Image) -> list[Detection]:
        """Objects in ``image``, best score first, boxes in its pixel coordinates."""
        ...


def select(config: DetectorConfigBase, labels: tuple[str, ...], class_ids: IntArray, scores: FloatArray
           ) -> npt.NDArray[np.bool_]:
    """Mask of the candidates to keep: above their label's threshold and in the allow-list.

    The allow-list filters after each box took its best class, rather than masking classes before the
    argmax, so a box the model thinks is a dog never turns into the allowed "cat" it scored lower.
    """
    per_class = np.array([config.label_thresholds.get(name, config.score_threshold) for name in labels], np.float32)
    keep = scores >= per_class[class_ids]
    if config.labels is not None:
        allowed = np.array([name in config.labels for name in labels], np.bool_)
        keep &= allowed[class_ids]
    return keep


@dataclass(frozen=True, slots=True)
class Letterbox:
    """How a frame was fitted into the network input: ``input = frame * scale + (pad_x, pad_y)``."""

    scale: float
    pad_x: float
    pad_y: float

    def to_frame(self, boxes: FloatArray, width: int, height: int) -> FloatArray:
        """Map ``[K, 4]`` input-pixel boxes back to frame pixels, clipped to the frame."""
        pad = np.array([self.pad_x, self.pad_y, self.pad_x, self.pad_y], np.float32)
        out = (boxes - pad) / np.float32(self.scale)
        limits = np.array([width, height, width, height], np.float32)
        return np.clip(out, 0.0, limits).astype(np.float32)


def letterbox(image: Image, size: int, *, fill: int = 0, centre: bool = False) -> tuple[Image, Letterbox]:
    """Resize ``image`` so its long side is ``size`` and pad it to a ``size`` square.

    NanoDet was trained with the padding right/bottom in black; Ultralytics models with it split evenly on both
    sides in grey (114) — ``centre`` and ``fill`` choose. Shrinking uses area averaging (no aliasing on
    detailed frames), enlarging bilinear.
    """
    height, width = image.shape[:2]
    scale = size / max(height, width)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(image, (new_w, new_h), interpolation=interpolation)
    pad_x = (size - new_w) // 2 if centre else 0
    pad_y = (size - new_h) // 2 if centre else 0
    canvas = np.full((size, size, 3), fill, np.uint8)
    canvas[pad_y : pad_y + new_h, pad_x : pad_x + new_w] = resized
    return canvas, Letterbox(scale=scale, pad_x=float(pad_x), pad_y=float(pad_y))


def nms(boxes: FloatArray, scores: FloatArray, iou: float, class_ids: IntArray | None = None) -> IntArray:
    """Return the indices of the boxes greedy non-maximum suppression keeps, best score first.

    With ``class_ids`` boxes only suppress boxes of their own class: each class is shifted to its own region
    of the plane (the "batched NMS" trick), so one vectorised pass handles every class at once.
    """
    if len(boxes) == 0:
        return np.zeros(0, np.int64)
    work = boxes.astype(np.float64)
    if class_ids is not None:
        span = float(work.max() - work.min()) + 1.0
        work = work + (class_ids.astype(np.float64) * span)[:, None]
    x1, y1, x2, y2 = work.T
    areas = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size:
        best, rest = int(order[0]), order[1:]
        keep.append(best)
        inter_w = np.clip(np.minimum(x2[best], x2[rest]) - np.maximum(x1[best], x1[rest]), 0, None)
        inter_h = np.clip(np.minimum(y2[best], y2[rest]) - np.maximum(y1[best], y1[rest]), 0, None)
        inter = inter_w * inter_h
        union = areas[best] + areas[rest] - inter
        overlap = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
        order = rest[overlap <= iou]
    return np.array(keep, np.int64)


def to_detections(
    labels: tuple[str, ...], boxes: FloatArray, scores: FloatArray, class_ids: IntArray
) -> list[Detection]:
    """Wrap decoded arrays as :class:`Detection` messages, best score first."""
    order = np.argsort(-scores, kind="stable")
    return [
        Detection(
            label=labels[int(class_ids[i])],
            score=float(scores[i]),
            box=Box(float(boxes[i, 0]), float(boxes[i, 1]), float(boxes[i, 2]), float(boxes[i, 3])),
        )
        for i in order
    ]


def finish(
    config: DetectorConfigBase,
    labels: tuple[str, ...],
    candidates: tuple[FloatArray, FloatArray, IntArray],
    fitted: Letterbox,
    image: Image,
) -> list[Detection]:
    """Thresholds, allow-list, per-class NMS and the way back to frame pixels for decoded candidates.

    ``candidates`` are ``(boxes [K, 4] in network-input pixels, scores [K], class ids [K])``.
    """
    boxes, scores, class_ids = candidates
    keep = select(config, labels, class_ids, scores)
    boxes, scores, class_ids = boxes[keep], scores[keep], class_ids[keep]
    kept = nms(boxes, scores, config.nms_iou, class_ids)
    height, width = image.shape[:2]
    in_frame = fitted.to_frame(boxes[kept], width, height)
    return to_detections(labels, in_frame, scores[kept], class_ids[kept])


def check_labels(config: DetectorConfigBase, labels: tuple[str, ...]) -> None:
    """Refuse an allow-list or per-label threshold naming a label the model cannot emit (a typo would hide it)."""
    named = set(config.labels or ()) | set(config.label_thresholds)
    unknown = named - set(labels)
    if unknown:
        raise ValueError(f"labels {sorted(unknown)} are not among the model's labels")
