"""Serving-side models: load a registered version and predict, with no training dependencies.

Each artifact directory has a ``model.json`` naming its ``kind``; the kind picks the loader.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

from complaints.predictors.base import Predictor

__all__ = ["Predictor", "load_predictor"]

# kind -> "module:class"; imported on demand so serving one kind never imports another's runtime.
KINDS = {
    "tfidf-linear": "complaints.predictors.tfidf_linear:TfidfLinearPredictor",
    "transformer-onnx": "complaints.predictors.transformer_onnx:TransformerOnnxPredictor",
}


def load_predictor(path: Path) -> Predictor:
    meta = json.loads((Path(path) / "model.json").read_text(encoding="utf-8"))
    kind = meta.get("kind")
    if kind not in KINDS:
        raise ValueError(f"{path}: unknown model kind {kind!r}; known kinds: {sorted(KINDS)}")
    module, cls = KINDS[kind].split(":")
    return getattr(importlib.import_module(module), cls)(Path(path), meta)
