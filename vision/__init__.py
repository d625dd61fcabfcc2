"""Vision: per-camera decode, motion gate, ONNX detection, tracking and zone rules."""
