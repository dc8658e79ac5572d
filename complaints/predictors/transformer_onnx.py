"""The transformer kind at serving time: ONNX Runtime and ``tokenizers``, no torch.

The artifact holds an int8 ONNX encoder (token ids → pooled embedding), the tokenizer and the task's
linear head. Sessions are shared by encoder content, and the embeddings of the last batch are kept, so
the three tasks of one complaint run the encoder once when their versions share it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

from complaints.predictors.base import Predictor

KIND = "transformer-onnx"
_BATCH = 32


def _softmax(logits: np.ndarray) -> np.ndarray:
    logits = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(logits)
    return exp / exp.sum(axis=1, keepdims=True)


def hierarchical_issue_proba(issue: np.ndarray, team: np.ndarray, issue_given_team: np.ndarray) -> np.ndarray:
    """P(issue | text) weighted by Σ_team P(team | text) P(issue | team), renormalised."""
    joint = issue * (team @ issue_given_team)
    return joint / joint.sum(axis=1, keepdims=True)


class _Encoder:
    """One ONNX session and tokenizer per distinct encoder, remembering the last batch it embedded."""

    _shared: dict[str, "_Encoder"] = {}

    def __init__(self, path: Path, max_length: int):
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(path / "encoder.onnx"), options, providers=["CPUExecutionProvider"])
        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length)
        self.tokenizer.no_padding()
        self._last: tuple[tuple[str, ...], np.ndarray] | None = None

    @classmethod
    def for_artifact(cls, path: Path, max_length: int) -> "_Encoder":
        digest = hashlib.sha256((path / "encoder.onnx").read_bytes() + (path / "tokenizer.json").read_bytes())
        key = f"{digest.hexdigest()}:{max_length}"
        if key not in cls._shared:
            cls._shared[key] = cls(path, max_length)
        return cls._shared[key]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        key = tuple(texts)
        if self._last is not None and self._last[0] == key:
            return self._last[1]
        encodings = self.tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))  # batch similar lengths
        embeddings: np.ndarray | None = None
        for start in range(0, len(order), _BATCH):
            rows = order[start:start + _BATCH]
            width = max(len(encodings[i].ids) for i in rows)
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for r, i in enumerate(rows):
                n = len(encodings[i].ids)
                ids[r, :n] = encodings[i].ids
                mask[r, :n] = 1
            output = self.session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
            if embeddings is None:
                embeddings = np.empty((len(texts), output.shape[1]), dtype=np.float32)
            embeddings[rows] = output
        self._last = (key, embeddings)
        return embeddings


class TransformerOnnxPredictor(Predictor):
    def __init__(self, path: Path, meta: dict):
        super().__init__(path, meta)
        self.encoder = _Encoder.for_artifact(path, int(meta["max_length"]))
        heads = np.load(path / "heads.npz")
        self.weight, self.bias = heads["weight"], heads["bias"]
        self.hierarchy = None
        if "hierarchy" in meta:
            self.hierarchy = (heads["team_weight"], heads["team_bias"], heads["issue_given_team"])

    def raw_proba(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, len(self.labels)))
        embeddings = self.encoder.embed(texts)
        proba = _softmax(embeddings @ self.weight.T + self.bias)
        if self.hierarchy is not None:
            team_weight, team_bias, issue_given_team = self.hierarchy
            proba = hierarchical_issue_proba(proba, _softmax(embeddings @ team_weight.T + team_bias), issue_given_team)
        return proba
