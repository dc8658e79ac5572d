"""The baseline model at serving time: TF-IDF features and a linear classifier in plain numpy.

Training (``model/baseline.py``) fits scikit-learn's TfidfVectorizer and LogisticRegression and exports
their parameters as arrays and a vocabulary list (no pickle: a registry download is never executable).
This module reproduces scikit-learn's transform exactly; a test holds the two to the same probabilities.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from complaints.predictors.base import Predictor


class TfidfLinearPredictor(Predictor):
    def __init__(self, path: Path, meta: dict):
        super().__init__(path, meta)
        arrays = np.load(path / "weights.npz")
        self.idf = arrays["idf"]
        self.coef = arrays["coef"]  # (classes or 1, vocabulary)
        self.intercept = arrays["intercept"]
        terms = json.loads((path / "vocabulary.json").read_text(encoding="utf-8"))
        self.vocabulary = {term: index for index, term in enumerate(terms)}
        self.token_pattern = re.compile(meta["token_pattern"])
        self.ngram_min, self.ngram_max = meta["ngram_range"]
        self.sublinear_tf = bool(meta["sublinear_tf"])

    def _features(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        tokens = self.token_pattern.findall(text.lower())
        counts: Counter[int] = Counter()
        for n in range(self.ngram_min, self.ngram_max + 1):
            for start in range(len(tokens) - n + 1):
                index = self.vocabulary.get(" ".join(tokens[start:start + n]))
                if index is not None:
                    counts[index] += 1
        indices = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
        tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
        if self.sublinear_tf:
            tf = 1.0 + np.log(tf)
        values = tf * self.idf[indices]
        norm = np.linalg.norm(values)
        return indices, values / norm if norm > 0 else values

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        logits = np.empty((len(texts), self.coef.shape[0]))
        for row, text in enumerate(texts):
            indices, values = self._features(text)
            logits[row] = self.coef[:, indices] @ values + self.intercept
        if self.coef.shape[0] == 1:  # binary logistic regression: one weight vector for the positive class
            positive = 1.0 / (1.0 + np.exp(-logits[:, 0]))
            return np.column_stack([1.0 - positive, positive])
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)
