"""The model kind ``tfidf-linear``: TF-IDF word n-grams (and, optionally, character n-grams) and a linear
classifier: logistic regression, or a linear SVM whose margins the serving code turns into probabilities
(softmax, calibrated by the temperature fitted on the validation slice like every version's).

The champion recipe (the defaults: word 1-2 grams, logistic regression) trains in minutes on 2 CPU cores;
character n-grams multiply the features each complaint has by about ten and logistic regression's time with
them, for no gain here (docs/recorded-results.md, "Ablation"). The fitted parameters are exported as arrays for
``complaints.predictors.tfidf_linear`` (numpy only): one block of features per vectorizer, each
L2-normalised and weighted as scikit-learn's FeatureUnion does.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import LinearSVC

from complaints.schema import NEGATIVE, POSITIVE

KIND = "tfidf-linear"
TOKEN_PATTERN = r"(?u)\b\w\w+\b"
CLASSIFIERS = ("logistic", "linear-svm")


@dataclass(frozen=True)
class BaselineConfig:
    ngram_max: int = 2  # word 1..n-grams
    min_df: int = 2
    max_features: int = 40_000
    char_ngrams: tuple[int, int] | None = None  # character n-grams inside word boundaries, e.g. (2, 5)
    char_min_df: int = 3
    char_max_features: int = 150_000
    classifier: str = "logistic"  # or "linear-svm"
    c: float = 10.0
    class_weight: str | None = None  # multi-class tasks; flag tasks are always balanced
    max_iter: int = 300


def make_pipeline(config: BaselineConfig, binary: bool) -> Pipeline:
    blocks = [("word", TfidfVectorizer(lowercase=True, token_pattern=TOKEN_PATTERN, ngram_range=(1, config.ngram_max),
                                       min_df=config.min_df, max_features=config.max_features, sublinear_tf=True,
                                       dtype=np.float64))]
    if config.char_ngrams:
        blocks.append(("char", TfidfVectorizer(lowercase=True, analyzer="char_wb", ngram_range=tuple(config.char_ngrams),
                                               min_df=config.char_min_df, max_features=config.char_max_features,
                                               sublinear_tf=True, dtype=np.float64)))
    weight = 1 / np.sqrt(len(blocks))  # each block has unit norm: the whole vector does too
    class_weight = "balanced" if binary else config.class_weight
    if config.classifier not in CLASSIFIERS:
        raise ValueError(f"classifier must be one of {CLASSIFIERS}, not {config.classifier!r}")
    linear = (LogisticRegression(C=config.c, max_iter=config.max_iter, class_weight=class_weight)
              if config.classifier == "logistic" else
              LinearSVC(C=config.c, max_iter=config.max_iter * 10, class_weight=class_weight))
    return Pipeline([("tfidf", FeatureUnion(blocks, transformer_weights={name: weight for name, _ in blocks})),
                     ("linear", linear)])


def fit(texts: list[str], labels: list[str], binary: bool, output_dir: Path, config: BaselineConfig) -> None:
    """Fit and export the artifacts into ``output_dir`` (calibration and thresholds come later, from the
    validation slice: model/train.py)."""
    if binary and set(labels) != {NEGATIVE, POSITIVE}:
        raise ValueError("a flag task needs both positive and negative examples")
    pipeline = make_pipeline(config, binary).fit(texts, labels)
    union, linear = pipeline.named_steps["tfidf"], pipeline.named_steps["linear"]
    output_dir.mkdir(parents=True, exist_ok=True)
    features, arrays = [], {}
    for name, vectorizer in union.transformer_list:
        terms = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.get)
        (output_dir / f"vocabulary-{name}.json").write_text(json.dumps(terms, ensure_ascii=False), encoding="utf-8")
        arrays[f"idf_{name}"] = vectorizer.idf_
        features.append({"name": name, "analyzer": vectorizer.analyzer, "ngram_range": list(vectorizer.ngram_range),
                         "token_pattern": vectorizer.token_pattern, "sublinear_tf": vectorizer.sublinear_tf,
                         "weight": union.transformer_weights[name], "size": len(terms)})
    np.savez_compressed(output_dir / "weights.npz", coef=linear.coef_.astype(np.float32),
                        intercept=linear.intercept_, **arrays)
    meta = {"kind": KIND, "labels": [str(c) for c in linear.classes_], "features": features, "config": asdict(config)}
    (output_dir / "model.json").write_text(json.dumps(meta, indent=2, sort_keys=True), encoding="utf-8")
