"""The baseline model at serving time: TF-IDF features and a linear classifier in plain numpy.

Training (``model/baseline.py``) fits scikit-learn's TfidfVectorizers (word n-grams, and character n-grams
inside word boundaries) joined by a FeatureUnion, and LogisticRegression, and exports their parameters as
arrays and vocabulary lists (no pickle: a registry download is never executable). This module reproduces
scikit-learn's transform exactly; a test holds the two to the same probabilities. Versions trained before
character n-grams (one word block, ``vocabulary.json``) load as a single block, so a rollback still serves.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from complaints.predictors.base import Predictor


@dataclass(frozen=True)
class _Block:
    """One vectorizer's features: where they start in the weight vector, and how they are counted."""

    offset: int
    vocabulary: dict[str, int]
    idf: np.ndarray
    analyzer: str  # "word" | "char_wb"
    ngram_range: tuple[int, int]
    token_pattern: re.Pattern | None
    sublinear_tf: bool
    weight: float

    def terms(self, text: str) -> Iterator[str]:
        low, high = self.ngram_range
        if self.analyzer == "word":
            tokens = self.token_pattern.findall(text)
            for n in range(low, high + 1):
                for start in range(len(tokens) - n + 1):
                    yield " ".join(tokens[start:start + n])
            return
        for word in text.split():  # scikit-learn's char_wb: n-grams of " word ", a short word counted once
            padded = f" {word} "
            for n in range(low, high + 1):
                if len(padded) <= n:
                    yield padded
                    break
                for start in range(len(padded) - n + 1):
                    yield padded[start:start + n]

    def features(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """(indices into the weight vector, values) of the text's features in this block."""
        counts = Counter(index for term in self.terms(text) if (index := self.vocabulary.get(term)) is not None)
        indices = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
        tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
        if self.sublinear_tf:
            tf = 1.0 + np.log(tf)
        values = tf * self.idf[indices]
        norm = np.linalg.norm(values)
        return indices + self.offset, (values / norm if norm > 0 else values) * self.weight


class TfidfLinearPredictor(Predictor):
    def __init__(self, path: Path, meta: dict):
        super().__init__(path, meta)
        arrays = np.load(path / "weights.npz")
        self.coef = arrays["coef"]  # (classes or 1, features of every block)
        self.intercept = arrays["intercept"]
        self.blocks: list[_Block] = []
        offset = 0
        for spec in meta.get("features") or [_legacy_word_block(meta)]:
            name = spec["name"]
            file = path / ("vocabulary.json" if name == "legacy" else f"vocabulary-{name}.json")
            terms = json.loads(file.read_text(encoding="utf-8"))
            pattern = re.compile(spec["token_pattern"]) if spec["analyzer"] == "word" else None
            self.blocks.append(_Block(offset, {term: i for i, term in enumerate(terms)},
                                      arrays["idf" if name == "legacy" else f"idf_{name}"], spec["analyzer"],
                                      tuple(spec["ngram_range"]), pattern, bool(spec["sublinear_tf"]),
                                      float(spec["weight"])))
            offset += len(terms)

    def features(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """(indices, values) of the text's non-zero features: what the linear layer (and its SHAP values) see."""
        parts = [block.features(text.lower()) for block in self.blocks]
        return np.concatenate([i for i, _ in parts]), np.concatenate([v for _, v in parts])

    def raw_proba(self, texts: Sequence[str]) -> np.ndarray:
        logits = np.empty((len(texts), self.coef.shape[0]))
        for row, text in enumerate(texts):
            indices, values = self.features(text)
            logits[row] = self.coef[:, indices] @ values + self.intercept
        return probabilities(logits)


def probabilities(logits: np.ndarray) -> np.ndarray:
    """A linear layer's logits as probabilities: one column, binary logistic regression's weight vector for the
    positive class (a sigmoid); several, a softmax."""
    if logits.shape[1] == 1:
        positive = 1.0 / (1.0 + np.exp(-logits[:, 0]))
        return np.column_stack([1.0 - positive, positive])
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


def _legacy_word_block(meta: dict) -> dict:
    """The one word block of a version exported before feature blocks."""
    return {"name": "legacy", "analyzer": "word", "ngram_range": meta["ngram_range"],
            "token_pattern": meta["token_pattern"], "sublinear_tf": meta["sublinear_tf"], "weight": 1.0}
