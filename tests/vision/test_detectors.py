"""Detector stage: registry and config, decoders on hand-built tensors, NanoDet on real pictures, YOLO loader."""

from __future__ import annotations

import pkgutil
import typing
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from pydantic import ValidationError
from skimage import data

import vision.detectors
from vision.config import DEFAULT_MODEL, DetectorConfigBase, NanoDetConfig
from vision.detectors import DETECTORS, DetectorConfig, build_detector, nanodet, parse_config, yolo
from vision.detectors.base import Detector, letterbox, nms, select
from vision.messages import Box, Detection, Image
from vision.onnx_session import CPU_PROVIDER, CUDA_PROVIDER, ModelLoadError, choose_providers, open_session

ASTRONAUT_PERSON = Box(15, 14, 364, 508)


def sample(name: str) -> Image:
    """One of scikit-image's bundled sample pictures (no download), as a BGR frame."""
    rgb = np.asarray(getattr(data, name)(), np.uint8)
    return np.ascontiguousarray(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


@pytest.fixture(scope="module")
def detector() -> Detector:
    return build_detector({"type": "nanodet", "intra_op_threads": 2})


def persons(detections: list[Detection]) -> list[Detection]:
    return [d for d in detections if d.label == "person"]


# --- registry and configuration -------------------------------------------------------------------------------


def test_every_backend_module_is_registered_and_in_the_config_union() -> None:
    modules = {m.name for m in pkgutil.iter_modules(vision.detectors.__path__)} - {"base"}
    assert modules == set(DETECTORS) == {"nanodet", "yolo"}
    union = typing.get_args(typing.get_args(DetectorConfig)[0])
    assert {c.model_fields["type"].default for c in union} == set(DETECTORS)
    for cls in union:
        assert all(field.description for field in cls.model_fields.values()), cls


def test_parse_config_chooses_by_type_and_refuses_unknown_fields() -> None:
    config = parse_config({"type": "nanodet", "score_threshold": 0.4, "labels": ["person"]})
    assert isinstance(config, NanoDetConfig)
    assert config.model_path == DEFAULT_MODEL and config.model_path.is_file()
    with pytest.raises(ValidationError):
        parse_config({"type": "nanodet", "treshold": 0.4})
    with pytest.raises(ValidationError):
        parse_config({"type": "tensorrt"})
    with pytest.raises(ValidationError):
        parse_config({"type": "yolo", "model_path": "x.onnx", "classes": []})


def test_allow_list_naming_an_unknown_label_is_refused() -> None:
    with pytest.raises(ValueError, match="persn"):
        build_detector({"type": "nanodet", "labels": ["persn"]})


def test_select_applies_label_thresholds_and_allow_list() -> None:
    config = DetectorConfigBase(score_threshold=0.5, label_thresholds={"knife": 0.2}, labels=["knife", "cat"])
    labels = ("knife", "cat", "dog")
    ids = np.array([0, 1, 2, 1], np.int64)
    scores = np.array([0.25, 0.45, 0.9, 0.6], np.float32)
    assert config.lowest_threshold() == pytest.approx(0.2)
    assert select(config, labels, ids, scores).tolist() == [True, False, False, True]


# --- sessions --------------------------------------------------------------------------------------------------


def test_open_session_names_the_path_when_missing_or_not_onnx(tmp_path: Path) -> None:
    missing = tmp_path / "absent.onnx"
    with pytest.raises(FileNotFoundError, match=r"absent\.onnx"):
        open_session(missing)
    junk = tmp_path / "junk.onnx"
    junk.write_text("not a model")
    with pytest.raises(ModelLoadError, match=r"junk\.onnx"):
        open_session(junk, intra_op_threads=1)


def test_cuda_is_preferred_only_when_installed() -> None:
    assert choose_providers([CUDA_PROVIDER, CPU_PROVIDER]) == [CUDA_PROVIDER, CPU_PROVIDER]
    assert choose_providers([CPU_PROVIDER]) == [CPU_PROVIDER]


# --- shared helpers --------------------------------------------------------------------------------------------


def test_nms_suppresses_overlaps_within_a_class_only() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [0, 0, 10, 10], [50, 50, 60, 60]], np.float32)
    scores = np.array([0.9, 0.8, 0.7, 0.6], np.float32)
    assert nms(boxes, scores, 0.5).tolist() == [0, 3]
    assert nms(boxes, scores, 0.5, np.array([0, 0, 1, 0], np.int64)).tolist() == [0, 2, 3]
    assert nms(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), 0.5).tolist() == []


def test_letterbox_round_trip() -> None:
    frame = np.zeros((300, 600, 3), np.uint8)
    canvas, fitted = letterbox(frame, 416, fill=114, centre=True)
    assert canvas.shape == (416, 416, 3) and fitted.scale == pytest.approx(416 / 600)
    assert fitted.pad_x == 0 and fitted.pad_y == (416 - 208) // 2
    assert canvas[0, 0].tolist() == [114, 114, 114] and canvas[208, 208].tolist() == [0, 0, 0]
    box = np.array([[0, fitted.pad_y, 416, fitted.pad_y + 208]], np.float32)
    assert fitted.to_frame(box, 600, 300)[0] == pytest.approx([0, 0, 600, 300], abs=1.5)


# --- NanoDet ---------------------------------------------------------------------------------------------------


def nanodet_outputs(
    cells: dict[tuple[int, int], tuple[int, float, tuple[int, int, int, int]]],
) -> list[npt.NDArray[np.float32]]:
    """Six outputs with the given cells set: (stride, index) → (class, score, bins for left/top/right/bottom)."""
    cls = {s: np.zeros((1, (416 // s) ** 2, 80), np.float32) for s in nanodet.STRIDES}
    reg = {s: np.zeros((1, (416 // s) ** 2, 44), np.float32) for s in nanodet.STRIDES}
    for (stride, index), (label, score, bins) in cells.items():
        cls[stride][0, index, label] = score
        for side, b in enumerate(bins):
            reg[stride][0, index, side * 11 + b] = 60.0  # softmax of one dominant logit: the distance is b exactly
    return [cls[s] for s in nanodet.STRIDES] + [reg[s] for s in nanodet.STRIDES]


def test_nanodet_decode_of_hand_built_outputs() -> None:
    # stride 16, grid 26: cell 3 * 26 + 5 is centred at (5.5 * 16, 3.5 * 16) = (88, 56)
    outputs = nanodet_outputs(
        {
            (16, 3 * 26 + 5): (0, 0.8, (2, 3, 1, 4)),  # person: 32 left, 48 up, 16 right, 64 down
            (8, 0): (15, 0.5, (2, 2, 1, 1)),  # cat at the corner: clipped to the input
            (32, 100): (2, 0.2, (1, 1, 1, 1)),  # car below the threshold
        }
    )
    boxes, scores, ids = nanodet.decode(outputs, threshold=0.3)
    order = np.argsort(-scores)
    assert ids[order].tolist() == [0, 15]
    assert scores[order] == pytest.approx([0.8, 0.5])
    assert boxes[order[0]] == pytest.approx([88 - 32, 56 - 48, 88 + 16, 56 + 64], abs=1e-4)
    assert boxes[order[1]] == pytest.approx([0, 0, 4 + 8, 4 + 8], abs=1e-4)


def test_nanodet_decode_refuses_foreign_shapes() -> None:
    outputs = nanodet_outputs({})
    with pytest.raises(ValueError, match="unexpected NanoDet output"):
        nanodet.decode(outputs, 0.3, size=320)


def test_nanodet_finds_the_astronaut(detector: Detector) -> None:
    found = persons(detector.detect(sample("astronaut")))
    assert len(found) == 1
    assert found[0].score == pytest.approx(0.74, abs=0.03)
    assert found[0].box.iou(ASTRONAUT_PERSON) > 0.9


def test_nanodet_finds_the_cat_and_nothing_on_grey(detector: Detector) -> None:
    found = detector.detect(sample("chelsea"))
    assert found[0].label == "cat" and found[0].score == pytest.approx(0.55, abs=0.05)
    assert found[0].box.iou(Box(2, 3, 432, 296)) > 0.9
    assert detector.detect(np.full((480, 640, 3), 114, np.uint8)) == []
    assert detector.labels[0] == "person" and len(detector.labels) == 80


def test_nanodet_allow_list_and_label_threshold() -> None:
    image = sample("astronaut")
    only_people = build_detector({"type": "nanodet", "labels": ["person"]}).detect(image)
    assert [d.label for d in only_people] == ["person"]
    strict = build_detector({"type": "nanodet", "label_thresholds": {"person": 0.9}}).detect(image)
    assert persons(strict) == []


def test_a_person_on_the_floor_is_still_detected(detector: Detector) -> None:
    # The astronaut cut out onto a plain wall, turned a quarter to lie sideways: NanoDet scores such a person
    # far lower than an upright one (0.5 here, ~0.3 turned the other way), hence the 0.3 default threshold.
    canvas = np.full((640, 640, 3), 114, np.uint8)
    cut = sample("astronaut")[14:508, 15:364]
    top, left = (640 - cut.shape[0]) // 2, (640 - cut.shape[1]) // 2
    canvas[top : top + cut.shape[0], left : left + cut.shape[1]] = cut
    lying = np.ascontiguousarray(np.rot90(canvas))
    found = persons(detector.detect(lying))
    assert len(found) == 1 and found[0].score >= 0.3
    assert found[0].box.width > 1.3 * found[0].box.height


# --- YOLO loader ----------------------------------------------------------------------------------------------


def save_model(path: Path, nodes: list[onnx.NodeProto], size: int, out_channels: int, n: int) -> Path:
    graph = helper.make_graph(
        nodes,
        "tiny-yolo",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, out_channels, n])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def constant_yolo(path: Path, size: int, predictions: npt.NDArray[np.float32]) -> Path:
    """A model whose output is ``predictions`` ([1, 4 + C, N]) plus 0 x the input (so the input is used)."""
    nodes = [
        helper.make_node("Constant", [], ["zero"], value=numpy_helper.from_array(np.zeros(1, np.float32))),
        helper.make_node("Constant", [], ["fixed"], value=numpy_helper.from_array(predictions.astype(np.float32))),
        helper.make_node("ReduceMax", ["images"], ["peak"], axes=[1, 2, 3], keepdims=0),  # [1]
        helper.make_node("Mul", ["peak", "zero"], ["nothing"]),
        helper.make_node("Add", ["fixed", "nothing"], ["output0"]),
    ]
    return save_model(path, nodes, size, predictions.shape[1], predictions.shape[2])


def channel_probe_yolo(path: Path, size: int) -> Path:
    """Three classes whose scores are the brightest value of the input's channels 0, 1, 2; one fixed box."""
    box = numpy_helper.from_array(np.array([[[size / 2], [size / 2], [10], [10]]], np.float32))
    nodes = [
        helper.make_node("Constant", [], ["box"], value=box),
        helper.make_node("ReduceMax", ["images"], ["peaks"], axes=[2, 3], keepdims=0),  # [1, 3]
        helper.make_node("Constant", [], ["axis"], value=numpy_helper.from_array(np.array([2], np.int64))),
        helper.make_node("Unsqueeze", ["peaks", "axis"], ["scores"]),  # [1, 3, 1]
        helper.make_node("Concat", ["box", "scores"], ["output0"], axis=1),
    ]
    return save_model(path, nodes, size, 7, 1)


def test_yolo_decode_class_map_and_letterbox_inversion(tmp_path: Path) -> None:
    # columns: cx, cy, w, h, then scores for knife, phone, cat; input 320, frame 640 wide x 320 high:
    # scale 0.5, padding 80 above and below.
    candidates = np.array(
        [
            [160, 160, 100, 60, 0.9, 0.1, 0.0],  # knife → frame (220, 100)-(420, 220)
            [162, 161, 100, 60, 0.6, 0.0, 0.0],  # the same knife, weaker: suppressed
            [40, 90, 20, 40, 0.0, 0.2, 0.7],  # cat reaching into the padding → frame (60, 0)-(100, 60)
            [300, 200, 10, 10, 0.1, 0.2, 0.1],  # below the threshold
        ],
        np.float32,
    ).T[None]
    model = constant_yolo(tmp_path / "kitchen.onnx", 320, candidates)
    config = parse_config({"type": "yolo", "model_path": str(model), "classes": ["knife", "phone", "cat"]})
    detector = build_detector(config)
    assert isinstance(detector, yolo.YoloDetector) and detector.input_size == 320
    assert detector.labels == ("knife", "phone", "cat")
    found = detector.detect(np.zeros((320, 640, 3), np.uint8))
    assert [(d.label, round(d.score, 3)) for d in found] == [("knife", 0.9), ("cat", 0.7)]
    assert [found[0].box.x1, found[0].box.y1, found[0].box.x2, found[0].box.y2] == pytest.approx([220, 100, 420, 220])
    assert [found[1].box.x1, found[1].box.y1, found[1].box.x2, found[1].box.y2] == pytest.approx([60, 0, 100, 60])


def test_yolo_decode_function_directly() -> None:
    output = np.array([[10, 20, 4, 8, 0.1, 0.8]], np.float32).T[None]
    boxes, scores, ids = yolo.decode(output, 2, 0.5)
    assert boxes.tolist() == [[8, 16, 12, 24]] and scores == pytest.approx([0.8]) and ids.tolist() == [1]
    with pytest.raises(ValueError, match=r"\[1, 7, N\]"):
        yolo.decode(output, 3, 0.5)


def test_yolo_feeds_rgb_scaled_to_one(tmp_path: Path) -> None:
    detector = build_detector(
        {"type": "yolo", "model_path": str(channel_probe_yolo(tmp_path / "probe.onnx", 64)), "classes": ["r", "g", "b"]}
    )
    blue = np.zeros((50, 100, 3), np.uint8)
    blue[..., 0] = 255  # BGR: pure blue
    found = detector.detect(blue)
    assert [d.label for d in found] == ["b"]
    assert found[0].score == pytest.approx(1.0)


def test_yolo_class_count_must_match_the_model(tmp_path: Path) -> None:
    model = constant_yolo(tmp_path / "two.onnx", 64, np.zeros((1, 6, 3), np.float32))
    with pytest.raises(ModelLoadError, match="scores 2 classes but the config names 3"):
        build_detector({"type": "yolo", "model_path": str(model), "classes": ["a", "b", "c"]})
