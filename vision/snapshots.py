"""Snapshots: the JPEG evidence of a vision event, once as seen and once with every face blurred.

The boxes that caused the event are drawn on both, so a guard sees at a glance what the camera meant. Faces
are found on the undrawn frame (a box edge across a face must not hide it from the face detector) and
blurred in the copy that screens show by default; the original is kept for the roles allowed to identify
someone, and every view of either is audited by the API.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2

from vision.faces import FaceDetector, blur_faces
from vision.messages import Box, Image

JPEG_QUALITY = 85
_COLOUR = (0, 0, 255)  # red in BGR: evidence boxes stand out on any scene


@dataclass(frozen=True, slots=True)
class Snapshot:
    """An encoded snapshot pair and what it holds."""

    width: int
    height: int
    faces: int
    blurred: bytes
    original: bytes

    def as_row(self) -> tuple[int, int, int, bytes, bytes]:
        """Give the values ``store.vision_repo.store_event`` takes."""
        return (self.width, self.height, self.faces, self.blurred, self.original)


def draw_boxes(image: Image, boxes: tuple[Box, ...]) -> Image:
    """Return a copy of the frame with the evidence boxes drawn."""
    drawn = image.copy()
    thickness = max(2, image.shape[1] // 320)
    for box in boxes:
        cv2.rectangle(drawn, (round(box.x1), round(box.y1)), (round(box.x2), round(box.y2)), _COLOUR, thickness)
    return drawn


def encode_jpeg(image: Image) -> bytes:
    """Encode a BGR frame as JPEG."""
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:  # pragma: no cover - only for an empty or non-image array
        raise ValueError("could not encode the frame as JPEG")
    return bytes(data.tobytes())


def make_snapshot(image: Image, boxes: tuple[Box, ...], faces: FaceDetector | None) -> Snapshot:
    """Build the snapshot pair of one event; without a face detector both copies are the same picture."""
    found = faces.faces(image) if faces is not None else []
    original = draw_boxes(image, boxes)
    blurred = draw_boxes(blur_faces(image, found), boxes) if found else original
    height, width = image.shape[:2]
    jpeg = encode_jpeg(original)
    return Snapshot(width, height, len(found), encode_jpeg(blurred) if found else jpeg, jpeg)
