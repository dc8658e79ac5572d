"""The baseline model kind ``tfidf-linear``: TF-IDF word n-grams and logistic regression.

Trains in seconds on 2 CPU cores, so the pipeline runs end to end before any transformer exists. The
fitted parameters are exported as arrays for ``complaints.predictors.tfidf_linear`` (numpy only).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import Pipeline

from complaints.schema import NEGATIVE, POSITIVE

KIND = "tfidf-linear"
TOKEN_PATTERN = r"(?u)\b\w\w+\b"


@dataclass(frozen=True)
class BaselineConfig:
    ngram_max: int = 2
    min_df: int = 2
    max_features: int = 40_000
    c: float = 10.0
    max_iter: int = 300
    target_recall: float = 0.70  # flag tasks: the decision threshold is the highest one reaching this recall


def make_pipeline(config: BaselineConfig, binary: bool) -> Pipeline:
    return Pipeline([
        ("tfidf", TfidfVectorizer(lowercase=True, token_pattern=TOKEN_PATTERN, ngram_range=(1, config.ngram_max),
                                  min_df=config.min_df, max_features=config.max_features, sublinear_tf=True,
                                  dtype=np.float64)),
        ("linear", LogisticRegression(C=config.c, max_iter=config.max_iter,
                                      class_weight="balanced" if binary else None)),
    ])


def tune_threshold(pipeline: Pipeline, texts: list[str], labels: list[str], target_recall: float) -> dict:
    """Cross-validated P(yes) on the training set; the highest threshold whose recall reaches the target."""
    folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)
    proba = cross_val_predict(pipeline, texts, labels, cv=folds, method="predict_proba")[:, 1]
    positive = np.asarray(labels) == POSITIVE
    best = {"decision_threshold": 0.5, "cv_recall": 0.0, "cv_precision": 0.0}
    for threshold in np.round(np.arange(0.05, 0.96, 0.01), 2):
        flagged = proba >= threshold
        recall = float((flagged & positive).sum() / max(positive.sum(), 1))
        if recall >= target_recall:
            precision = float((flagged & positive).sum() / max(flagged.sum(), 1))
            best = {"decision_threshold": float(threshold), "cv_recall": round(recall, 4),
                    "cv_precision": round(precision, 4)}
    return best


def fit(texts: list[str], labels: list[str], binary: bool, output_dir: Path, config: BaselineConfig) -> dict:
    """Fit, export the artifacts into ``output_dir``, and return what was tuned (for the model card)."""
    if binary and set(labels) != {NEGATIVE, POSITIVE}:
        raise ValueError("a flag task needs both positive and negative examples")
    pipeline = make_pipeline(config, binary)
    tuned = tune_threshold(pipeline, texts, labels, config.target_recall) if binary else {}
    pipeline.fit(texts, labels)
    vectorizer, linear = pipeline.named_steps["tfidf"], pipeline.named_steps["linear"]
    output_dir.mkdir(parents=True, exist_ok=True)
    terms = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.get)
    (output_dir / "vocabulary.json").write_text(json.dumps(terms, ensure_ascii=False), encoding="utf-8")
    np.savez_compressed(output_dir / "weights.npz", idf=vectorizer.idf_, coef=linear.coef_.astype(np.float32),
                        intercept=linear.intercept_)
    meta = {
        "kind": KIND, "labels": [str(c) for c in linear.classes_], "token_pattern": TOKEN_PATTERN,
        "ngram_range": [1, config.ngram_max], "sublinear_tf": True, "config": asdict(config), **tuned,
    }
    (output_dir / "model.json").write_text(json.dumps(meta, indent=2, sort_keys=True), encoding="utf-8")
    return tuned
