"""The predictor contract: calibrated class probabilities in, (label, score) decisions out.

Each model kind computes its raw probabilities; every kind is then calibrated the same way, by the
temperature fitted on out-of-fold answers at training (``temperature`` in model.json: probabilities
p^(1/T), renormalised, which is softmax(logits / T)). So a score of 0.8 means about 80% right for every
version, and a threshold keeps its meaning across versions. A version without one is served uncalibrated.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path

import numpy as np

from complaints.schema import NEGATIVE, POSITIVE
from complaints.thresholds import served_threshold


class Predictor(ABC):
    """A loaded model version with the operating point tuned with it (``threshold``; None when it was trained
    without one). What a decision uses is ``complaints.thresholds.served_threshold``'s to say."""

    def __init__(self, path: Path, meta: dict):
        self.path = path
        self.meta = meta
        self.labels: list[str] = list(meta["labels"])
        self.binary = self.labels == [NEGATIVE, POSITIVE]
        self.temperature = float(meta.get("temperature") or 1.0)
        tuned = meta.get("decision_threshold")
        self.threshold: float | None = float(tuned) if tuned is not None else None

    @cached_property
    def training_fingerprints(self) -> frozenset[str]:
        """Narratives the version was trained on; read only when evaluating, never on the serving path."""
        file = self.path / "training_fingerprints.json"
        return frozenset(json.loads(file.read_text())) if file.exists() else frozenset()

    @abstractmethod
    def raw_proba(self, texts: Sequence[str]) -> np.ndarray:
        """The kind's own probabilities, shape (len(texts), len(self.labels))."""

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Calibrated probabilities, shape (len(texts), len(self.labels))."""
        return calibrated(self.raw_proba(texts), self.temperature)

    def predict(self, texts: Sequence[str], threshold: float | None = None) -> list[tuple[str, float]]:
        """(label, score) per text. Binary: score is P(yes), "yes" at or above ``threshold`` (None: the version's
        own, as ``served_threshold`` resolves it); multi-class: the top class and its probability (the threshold
        is the router's)."""
        proba = self.predict_proba(texts)
        if self.binary:
            cut = served_threshold(threshold, self.threshold, binary=True)
            return [(POSITIVE if p >= cut else NEGATIVE, float(p)) for p in proba[:, 1]]
        top = proba.argmax(axis=1)
        return [(self.labels[i], float(proba[row, i])) for row, i in enumerate(top)]


def calibrated(proba: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(log(proba) / temperature): temperature scaling of probabilities whatever produced them."""
    if temperature == 1.0 or proba.size == 0:
        return proba
    logits = np.log(np.clip(proba, 1e-12, 1.0)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    scaled = np.exp(logits)
    return scaled / scaled.sum(axis=1, keepdims=True)
