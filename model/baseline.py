"""The model kind ``tfidf-linear``: TF-IDF word n-grams (and, optionally, character n-grams) and a linear
classifier: logistic regression, or a linear SVM whose margins the serving code turns into probabilities
(softmax, calibrated by the temperature fitted on out-of-fold answers like every version's).

The champion recipe (the defaults: word 1-2 grams, logistic regression) trains in minutes on 2 CPU cores;
character n-grams multiply the features each complaint has by about ten and logistic regression's time with
them, for no gain here (docs/recorded-results.md, "Ablation"). The fitted parameters are exported as arrays for
``complaints.predictors.tfidf_linear`` (numpy only): one block of features per vectorizer, each
L2-normalised and weighted as scikit-learn's FeatureUnion does.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import LinearSVC

from complaints.predictors.tfidf_linear import probabilities
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


def with_options(config: BaselineConfig, options: dict | None) -> BaselineConfig:
    """``config`` with a task's ``options`` (tasks.yaml) over it: one task's recipe may differ from the others'."""
    options, settings = dict(options or {}), {f.name for f in fields(BaselineConfig)}
    if unknown := set(options) - settings:
        raise ValueError(f"unknown {KIND} options {sorted(unknown)}: the settings are {sorted(settings)}")
    if options.get("char_ngrams") is not None:
        options["char_ngrams"] = tuple(options["char_ngrams"])
    return replace(config, **options)


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
              LinearSVC(C=config.c, max_iter=config.max_iter * 10, class_weight=class_weight,
                        random_state=0))  # its coordinate descent draws an order: the same data, the same version
    return Pipeline([("tfidf", FeatureUnion(blocks, transformer_weights={name: weight for name, _ in blocks})),
                     ("linear", linear)])


def fit(texts: list[str], labels: list[str], binary: bool, output_dir: Path, config: BaselineConfig) -> None:
    """Fit one model on every example and export it into ``output_dir`` (calibration and thresholds come later:
    model/train.py serves ``cross_fit``'s model; this one is the ablation's)."""
    _check_labels(labels, binary)
    pipeline = make_pipeline(config, binary).fit(texts, labels)
    linear = pipeline.named_steps["linear"]
    _export(pipeline.named_steps["tfidf"], linear.coef_, linear.intercept_, [str(c) for c in linear.classes_],
            output_dir, config)


def cross_fit(texts: list[str], labels: list[str], folds: Sequence[int], binary: bool, scored: Sequence[str],
              scored_folds: Sequence[int], output_dir: Path, config: BaselineConfig, processes: int | None = None
              ) -> tuple[list[str], np.ndarray]:
    """One linear model per fold, fitted on the other folds' examples, all over one vocabulary fitted on them
    all. Returns the classes and the probabilities of ``scored``, each text by the model of its fold
    (``scored_folds``), which did not learn from it.

    The version that serves is the fold models' mean (their logits' mean: one linear model), so what serves is
    what the operating point was tuned on. A refit on every example learns from more of them than any fold
    model, is surer than they are, and realised more than the tuning promised (docs/lifecycle.md). The fits
    run in ``processes`` at once (default: one per core)."""
    _check_labels(labels, binary)
    pipeline = make_pipeline(config, binary)
    union, linear = pipeline.named_steps["tfidf"], pipeline.named_steps["linear"]
    features, y, folds = union.fit_transform(texts), np.asarray(labels), np.asarray(folds)
    fold_ids = sorted(set(folds.tolist()))
    models = Parallel(n_jobs=min(len(fold_ids), processes or os.cpu_count() or 1))(
        delayed(clone(linear).fit)(features[folds != f], y[folds != f]) for f in fold_ids)
    classes = sorted(set(labels))
    weights = [_aligned(model, classes) for model in models]
    _export(union, np.nanmean([coef for coef, _ in weights], axis=0),
            np.nanmean([intercept for _, intercept in weights], axis=0), classes, output_dir, config)
    scored_features, scored_folds = union.transform(list(scored)), np.asarray(scored_folds)
    proba = np.zeros((len(scored), len(classes)))
    for f, (coef, intercept) in zip(fold_ids, weights):
        rows = np.flatnonzero(scored_folds == f)
        proba[rows] = probabilities(scored_features[rows] @ np.nan_to_num(coef, nan=0.0).T
                                     + np.nan_to_num(intercept, nan=-np.inf))
    return classes, proba


def _check_labels(labels: list[str], binary: bool) -> None:
    if binary and set(labels) != {NEGATIVE, POSITIVE}:
        raise ValueError("a flag task needs both positive and negative examples")


def _aligned(model, classes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """A model's weights with one row per class of ``classes`` (NaN where its fold never saw the class);
    a two-class task's one row as it is. A fold that saw two classes or more has one row too: its logit z of
    the second class becomes the softmax logits -z/2 and z/2, the same probabilities."""
    coef_, intercept_ = model.coef_, np.atleast_1d(model.intercept_)
    if coef_.shape[0] == 1:
        if len(classes) == 2:
            if list(model.classes_) != classes:
                raise ValueError("a fold of a two-class task lacks one of its classes")
            return coef_, intercept_
        coef_, intercept_ = np.vstack([-coef_ / 2, coef_ / 2]), np.concatenate([-intercept_ / 2, intercept_ / 2])
    coef = np.full((len(classes), coef_.shape[1]), np.nan)
    intercept = np.full(len(classes), np.nan)
    rows = [classes.index(c) for c in model.classes_]
    coef[rows], intercept[rows] = coef_, intercept_
    return coef, intercept


def _export(union: FeatureUnion, coef: np.ndarray, intercept: np.ndarray, classes: list[str], output_dir: Path,
            config: BaselineConfig) -> None:
    """The fitted parameters as arrays and vocabulary lists for the numpy predictor (no pickle)."""
    output_dir.mkdir(parents=True, exist_ok=True)
    features, arrays = [], {}
    for name, vectorizer in union.transformer_list:
        terms = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.get)
        (output_dir / f"vocabulary-{name}.json").write_text(json.dumps(terms, ensure_ascii=False), encoding="utf-8")
        arrays[f"idf_{name}"] = vectorizer.idf_
        features.append({"name": name, "analyzer": vectorizer.analyzer, "ngram_range": list(vectorizer.ngram_range),
                         "token_pattern": vectorizer.token_pattern, "sublinear_tf": vectorizer.sublinear_tf,
                         "weight": union.transformer_weights[name], "size": len(terms)})
    np.savez_compressed(output_dir / "weights.npz", coef=np.asarray(coef, dtype=np.float32),
                        intercept=np.asarray(intercept), **arrays)
    meta = {"kind": KIND, "labels": classes, "features": features, "config": asdict(config)}
    (output_dir / "model.json").write_text(json.dumps(meta, indent=2, sort_keys=True), encoding="utf-8")
