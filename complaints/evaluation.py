"""Scoring models against true labels, with bootstrap confidence intervals and the business targets."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from complaints.deployment import Deployment
from complaints.predictors import load_predictor
from complaints.splits import fingerprint
from complaints.strategy import champions
from complaints.schema import POSITIVE, Complaint
from complaints.tasks import TaskSpec

TOLERANCE = 0.03  # the business accepts ML triage within 3 points of the human team
BOOTSTRAP_SAMPLES = 1000


def bootstrap_ci(hits: Sequence[bool], samples: int = BOOTSTRAP_SAMPLES, seed: int = 0) -> list[float]:
    """Percentile 95% interval of the mean of ``hits`` (accuracy, or recall over the positives)."""
    values = np.asarray(hits, dtype=float)
    if values.size == 0:
        return [float("nan"), float("nan")]
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, values.size, size=(samples, values.size))].mean(axis=1)
    return [round(float(np.percentile(means, 2.5)), 4), round(float(np.percentile(means, 97.5)), 4)]


def macro_f1(y_true: Sequence[str], y_pred: Sequence[str]) -> float:
    scores = []
    for label in sorted(set(y_true)):
        tp = sum(t == label and p == label for t, p in zip(y_true, y_pred))
        fp = sum(t != label and p == label for t, p in zip(y_true, y_pred))
        fn = sum(t == label and p != label for t, p in zip(y_true, y_pred))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return float(np.mean(scores)) if scores else float("nan")


def task_metrics(task: TaskSpec, y_true: Sequence[str], y_pred: Sequence[str], classes: int) -> dict:
    """Accuracy for a classifying task; recall and precision of the positive class for a flag task."""
    if task.binary:
        positives = [p == POSITIVE for t, p in zip(y_true, y_pred) if t == POSITIVE]
        flagged = [t == POSITIVE for t, p in zip(y_true, y_pred) if p == POSITIVE]
        recall = float(np.mean(positives)) if positives else float("nan")
        precision = float(np.mean(flagged)) if flagged else float("nan")
        return {
            "recall": round(recall, 4),
            "precision": round(precision, 4),
            "f1": round(2 * recall * precision / (recall + precision), 4) if recall + precision > 0 else 0.0,
            "ci95": bootstrap_ci(positives),
            "n": len(y_true), "positives": len(positives), "flagged": len(flagged),
        }
    hits = [t == p for t, p in zip(y_true, y_pred)]
    return {
        "accuracy": round(float(np.mean(hits)), 4) if hits else float("nan"),
        "ci95": bootstrap_ci(hits),
        "classes": classes,
        "macro_f1": round(macro_f1(y_true, y_pred), 4),
        "n": len(y_true),
    }


def check_targets(tasks: list[TaskSpec], metrics: dict[str, dict]) -> dict[str, dict]:
    """Each task's business target next to what was measured; passes within the tolerance."""
    results = {}
    for task in tasks:
        if not task.target or task.name not in metrics:
            continue
        (metric, target), = task.target.items()
        value = metrics[task.name].get(metric, float("nan"))
        results[task.name] = {"metric": metric, "target": target, "tolerance": TOLERANCE, "value": value,
                              "pass": bool(value >= target - TOLERANCE)}
    return results


def evaluate_champions(deployment: Deployment, complaints: list[Complaint], provenance_ids: set[str] = frozenset()
                       ) -> tuple[dict, list[dict]]:
    """Score every task's champion on ``complaints`` it was not trained on.

    Complaints whose narrative is in any champion's training set are left out (and counted), so a
    model is never credited for what it memorised; flag tasks also leave out ``provenance_ids``.
    Returns the report and one prediction row per evaluated complaint.
    """
    versions = champions(deployment)
    predictors = {t.name: load_predictor(deployment.registry.fetch(t.name, versions[t.name])) for t in deployment.tasks}
    seen = frozenset().union(*(p.training_fingerprints for p in predictors.values()))
    unseen = [c for c in complaints if fingerprint(c.narrative) not in seen]
    rows = [{"complaint_id": c.complaint_id} for c in unseen]
    metrics = {}
    for task in deployment.tasks:
        answers = predictors[task.name].predict([c.narrative for c in unseen])
        y_true, y_pred = [], []
        for row, complaint, (label, score) in zip(rows, unseen, answers):
            truth = task.label_of(complaint, deployment.taxonomy)
            row.update({f"{task.name}_true": truth or "", f"{task.name}_pred": label, f"{task.name}_score": round(score, 4)})
            if truth is not None and not (task.binary and complaint.complaint_id in provenance_ids):
                y_true.append(truth)
                y_pred.append(label)
        metrics[task.name] = task_metrics(task, y_true, y_pred, len(predictors[task.name].labels))
    report = {
        "n": len(unseen),
        "tasks": metrics,
        "targets": check_targets(deployment.tasks, metrics),
        "model_versions": versions,
        "excluded": {"seen_in_training": len(complaints) - len(unseen),
                     "all_tagged_source_rows_for_flags": len(provenance_ids & {c.complaint_id for c in unseen})},
    }
    return report, rows
