"""The predictor contract: class probabilities in, (label, score) decisions out."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path

import numpy as np

from complaints.schema import NEGATIVE, POSITIVE


class Predictor(ABC):
    """A loaded model version. Binary models decide at their tuned ``decision_threshold``."""

    def __init__(self, path: Path, meta: dict):
        self.path = path
        self.meta = meta
        self.labels: list[str] = list(meta["labels"])
        self.binary = self.labels == [NEGATIVE, POSITIVE]
        self.decision_threshold = float(meta.get("decision_threshold") or 0.5)

    @cached_property
    def training_fingerprints(self) -> frozenset[str]:
        """Narratives the version was trained on; read only when evaluating, never on the serving path."""
        file = self.path / "training_fingerprints.json"
        return frozenset(json.loads(file.read_text())) if file.exists() else frozenset()

    @abstractmethod
    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Probabilities, shape (len(texts), len(self.labels))."""

    def predict(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        """(label, score) per text. Binary: score is P(yes); multi-class: the top class's probability."""
        proba = self.predict_proba(texts)
        if self.binary:
            return [(POSITIVE if p >= self.decision_threshold else NEGATIVE, float(p)) for p in proba[:, 1]]
        top = proba.argmax(axis=1)
        return [(self.labels[i], float(proba[row, i])) for row, i in enumerate(top)]
