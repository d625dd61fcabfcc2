"""Faces stage: CenterFace decoding on hand-built tensors and a real picture, and the pure blur_faces."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from skimage import data

from vision.detectors import build_detector
from vision.faces import FaceDetector, blur_faces, decode, preprocess
from vision.messages import Box, Image

ASTRONAUT_FACE = Box(182, 58, 270, 178)


def sample(name: str) -> Image:
    """One of scikit-image's bundled sample pictures (no download), as a BGR frame."""
    rgb = np.asarray(getattr(data, name)(), np.uint8)
    return np.ascontiguousarray(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


@pytest.fixture(scope="module")
def faces() -> FaceDetector:
    return FaceDetector(intra_op_threads=2)


def test_decode_of_hand_built_outputs() -> None:
    heatmap = np.zeros((1, 1, 8, 10), np.float32)
    scale = np.zeros((1, 2, 8, 10), np.float32)
    offset = np.zeros((1, 2, 8, 10), np.float32)
    heatmap[0, 0, 2, 3] = 0.9  # row 2, column 3
    scale[0, :, 2, 3] = (math.log(20 / 4), math.log(12 / 4))  # 20 high, 12 wide
    offset[0, :, 2, 3] = (0.25, -0.5)  # centre (3 - 0.5 + 0.5) * 4 = 12, (2 + 0.25 + 0.5) * 4 = 11
    heatmap[0, 0, 6, 6] = 0.4  # below the threshold
    boxes, scores = decode(heatmap, scale, offset, threshold=0.5)
    assert scores.tolist() == [pytest.approx(0.9)]
    assert boxes[0] == pytest.approx([12 - 6, 11 - 10, 12 + 6, 11 + 10], abs=1e-4)
    empty, none = decode(np.zeros_like(heatmap), scale, offset)
    assert empty.shape == (0, 4) and none.shape == (0,)


def test_preprocess_pads_to_multiples_of_32_in_rgb() -> None:
    frame = np.zeros((70, 100, 3), np.uint8)
    frame[..., 2] = 200  # BGR red
    x, scale = preprocess(frame)
    assert x.shape == (1, 3, 96, 128) and scale == 1.0
    assert x[0, 0, :70, :100].min() == 200 and x[0, 2].max() == 0  # red first, raw 0..255
    assert x[0, 0, 70:].max() == 0 and x[0, 0, :, 100:].max() == 0  # padding is black
    _, shrunk = preprocess(np.zeros((1000, 2000, 3), np.uint8), max_side=1280)
    assert shrunk == pytest.approx(0.64)


def test_centerface_finds_the_astronaut_face_and_nothing_on_grey(faces: FaceDetector) -> None:
    found = faces.faces(sample("astronaut"))
    assert len(found) == 1
    assert [found[0].x1, found[0].y1, found[0].x2, found[0].y2] == pytest.approx([182, 58, 270, 178], abs=4)
    assert faces.faces(np.full((480, 640, 3), 114, np.uint8)) == []


def test_large_frames_are_shrunk_and_boxes_mapped_back(faces: FaceDetector) -> None:
    big = np.asarray(cv2.resize(sample("astronaut"), (1536, 1536)), np.uint8)  # longer than MAX_SIDE
    found = faces.faces(big)
    expected = Box(ASTRONAUT_FACE.x1 * 3, ASTRONAUT_FACE.y1 * 3, ASTRONAUT_FACE.x2 * 3, ASTRONAUT_FACE.y2 * 3)
    assert len(found) == 1 and found[0].iou(expected) > 0.8


def test_blur_faces_changes_only_the_face_region() -> None:
    image = sample("astronaut")
    before = image.copy()
    out = blur_faces(image, [ASTRONAUT_FACE], margin=0.1)
    assert np.array_equal(image, before)  # the input is never modified
    grown = (173, 46, 279, 190)  # the face box grown by 10 % of its size on each side
    changed = np.any(out != image, axis=2)
    rows, cols = np.nonzero(changed)
    assert rows.min() >= grown[1] and rows.max() < grown[3]
    assert cols.min() >= grown[0] and cols.max() < grown[2]
    outside = np.ones(changed.shape, bool)
    outside[grown[1] : grown[3], grown[0] : grown[2]] = False
    assert not changed[outside].any()
    # Detail inside is gone: the Laplacian's variance (sharpness) drops by far more than half.
    face_before = cv2.cvtColor(image[58:178, 182:270], cv2.COLOR_BGR2GRAY)
    face_after = cv2.cvtColor(out[58:178, 182:270], cv2.COLOR_BGR2GRAY)
    assert cv2.Laplacian(face_after, cv2.CV_64F).var() < 0.5 * cv2.Laplacian(face_before, cv2.CV_64F).var()


def test_blur_faces_with_no_or_off_frame_boxes_returns_an_equal_copy() -> None:
    image = sample("chelsea")
    for boxes in ([], [Box(-50, -50, -10, -10)], [Box(100, 100, 100, 100)]):
        out = blur_faces(image, boxes)
        assert out is not image and np.array_equal(out, image)


def test_a_blurred_face_is_no_longer_found(faces: FaceDetector) -> None:
    image = sample("astronaut")
    assert faces.faces(blur_faces(image, faces.faces(image))) == []


def test_blurring_before_detection_would_hide_the_person() -> None:
    # Why the pipeline blurs only what it stores or sends, after detection: NanoDet misses the astronaut
    # once her face is pixelated (0.74 → no person above 0.3).
    detector = build_detector({"type": "nanodet", "labels": ["person"]})
    image = sample("astronaut")
    assert len(detector.detect(image)) == 1
    assert detector.detect(blur_faces(image, [ASTRONAUT_FACE])) == []
