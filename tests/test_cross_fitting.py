"""Out-of-fold answers: every training complaint is scored by a model fitted without it, and the version that
serves is the mean of those models."""

from datetime import date
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone

from complaints.predictors import load_predictor
from complaints.schema import Complaint
from complaints.splits import FOLDS, fingerprint, fold_of
from complaints.tasks import TaskSpec
from model import baseline
from model.cross_fitting import out_of_fold

TEAM = TaskSpec("team", "taxonomy.team", "tfidf-linear", "queue", threshold=0.5, target={"accuracy": 0.80})
FLAG = TaskSpec("vulnerable", "taxonomy.vulnerable", "tfidf-linear", "flag", queue="Vulnerable customers")
CONFIG = baseline.BaselineConfig(min_df=1)


def memorable(n: int = 300, seed: int = 0) -> list[tuple[str, str]]:
    """Narratives whose label only their own code word tells (drawn at random): a model can learn the training
    examples by heart and nothing it could use on another narrative."""
    rng = np.random.default_rng(seed)
    return [(f"my complaint about case{i}x", "Mortgage" if rng.random() < 0.5 else "Credit card") for i in range(n)]


def test_each_complaint_is_scored_by_a_fold_model_that_never_saw_it_and_their_mean_serves(tmp_path: Path):
    rows = memorable()
    texts, labels = [t for t, _ in rows], [y for _, y in rows]
    folds = [fold_of(t) for t in texts]
    classes, proba = baseline.cross_fit(texts, labels, folds, False, texts, folds, tmp_path / "team", CONFIG, processes=1)
    truth = np.array([classes.index(y) for y in labels])
    out_of_fold_hits = (proba.argmax(axis=1) == truth).mean()
    served = load_predictor(tmp_path / "team").raw_proba(texts)
    served_hits = (served.argmax(axis=1) == truth).mean()
    assert out_of_fold_hits < 0.65 < 0.95 < served_hits  # out of fold: chance; served: nine models of ten learnt each
    assert set(folds) == set(range(FOLDS))


def test_every_complaint_of_any_task_is_scored_for_every_task(tmp_path: Path):
    complaints = [Complaint(f"c{i}", date(2024, 1, 2), text) for i, (text, _) in enumerate(memorable(200, seed=1))]
    team_only = complaints[7]  # the flag has no label for it: it is still scored, its truth unknown
    examples = {"team": [(c, "Mortgage" if i % 3 else "Credit card") for i, c in enumerate(complaints)],
                "vulnerable": [(c, "yes" if i % 5 == 0 else "no") for i, c in enumerate(complaints) if c != team_only]}

    def cross_fit(task, rows, texts, folds, folder):
        return baseline.cross_fit([c.narrative for c, _ in rows], [y for _, y in rows],
                                  [fold_of(c.narrative) for c, _ in rows], task.binary, texts, folds, folder, CONFIG,
                                  processes=1)

    answers = out_of_fold([TEAM, FLAG], examples, cross_fit, tmp_path)
    assert answers.keys == sorted(fingerprint(c.narrative) for c in complaints) and answers.folds == FOLDS
    assert answers.classes == {"team": ["Credit card", "Mortgage"], "vulnerable": ["no", "yes"]}
    assert answers.raw["vulnerable"].shape == (200, 2)
    assert answers.raw["vulnerable"].sum(axis=1) == pytest.approx(np.ones(200))
    assert answers.labels["vulnerable"][answers.texts.index(team_only.narrative)] is None
    assert (tmp_path / "team" / "model.json").exists() and (tmp_path / "vulnerable" / "weights.npz").exists()


def test_a_class_a_fold_never_saw_gets_no_probability_from_that_folds_model(tmp_path: Path):
    rows = memorable(100, seed=2)
    rare = next(i for i, (t, _) in enumerate(rows) if fold_of(t) == 0)  # its only example sits in fold 0
    texts = [t for t, _ in rows]
    labels = [("Rare" if i == rare else y) for i, (_, y) in enumerate(rows)]
    folds = [fold_of(t) for t in texts]
    classes, proba = baseline.cross_fit(texts, labels, folds, False, texts, folds, tmp_path / "m", CONFIG, processes=1)
    in_fold_0 = np.array(folds) == 0
    assert (proba[in_fold_0, classes.index("Rare")] == 0).all()  # fold 0's model learnt without it
    assert "Rare" in load_predictor(tmp_path / "m").labels  # the other nine learnt it: the served mean has it


def test_the_version_that_serves_is_the_mean_of_the_fold_models_the_point_was_tuned_on(tmp_path: Path):
    """Its logits are the fold models' mean: no model that learnt from more examples than they did, and so no
    surer than they are, serves the operating point tuned on their answers."""
    rows = memorable(200, seed=3)
    texts, labels = [t for t, _ in rows], [y for _, y in rows]
    folds = np.array([fold_of(t) for t in texts])
    baseline.cross_fit(texts, labels, folds.tolist(), False, texts, folds.tolist(), tmp_path / "m", CONFIG, processes=1)
    served = load_predictor(tmp_path / "m").raw_proba(texts)
    pipeline = baseline.make_pipeline(CONFIG, False)
    features = pipeline.named_steps["tfidf"].fit_transform(texts)
    margins = np.mean([clone(pipeline.named_steps["linear"]).fit(features[folds != f], np.array(labels)[folds != f])
                       .decision_function(features) for f in range(FOLDS)], axis=0)
    refit = baseline.make_pipeline(CONFIG, False).fit(texts, labels).predict_proba(texts)
    assert served[:, 1] == pytest.approx(1 / (1 + np.exp(-margins)), abs=1e-4)
    assert np.abs(served - refit).max() > 1e-2
