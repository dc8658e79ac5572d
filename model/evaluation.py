"""Scoring models against true labels, with bootstrap confidence intervals and the business targets: each
task's raw metrics, and the system block (model.operating_point) of the complaints routed as the
pipeline routes them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from complaints.deployment import Deployment
from complaints.operations import Operations
from model.operating_point import OPERATING_POINT, TaskAnswers, measure, system_metrics
from complaints.predictors import Predictor, load_predictor
from complaints.records import ALLOCATED, TaskPrediction
from complaints.routing import left_to_name, route
from complaints.splits import fingerprint
from complaints.strategy import champions, strategies
from complaints.schema import POSITIVE, Complaint
from complaints.tasks import TaskSpec
from complaints.thresholds import served_threshold

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


def task_metrics(task: TaskSpec, y_true: Sequence[str], y_pred: Sequence[str], classes: int,
                 scores: Sequence[float] | None = None) -> dict:
    """Accuracy for a classifying task; recall and precision of the positive class for a flag task, and
    with its scores (P(yes)) the threshold-free view: ROC AUC, and the precision and flag rate at the
    team's recall (its target)."""
    if task.binary:
        positives = [p == POSITIVE for t, p in zip(y_true, y_pred) if t == POSITIVE]
        flagged = [t == POSITIVE for t, p in zip(y_true, y_pred) if p == POSITIVE]
        recall = float(np.mean(positives)) if positives else float("nan")
        precision = float(np.mean(flagged)) if flagged else float("nan")
        metrics = {
            "recall": round(recall, 4),
            "precision": round(precision, 4),
            "f1": round(2 * recall * precision / (recall + precision), 4) if recall + precision > 0 else 0.0,
            "ci95": bootstrap_ci(positives),
            "n": len(y_true), "positives": len(positives), "flagged": len(flagged),
        }
        if scores is not None and positives and len(positives) < len(y_true):
            metrics |= ranking_metrics(np.asarray(y_true) == POSITIVE, np.asarray(scores, dtype=float),
                                       (task.target or {}).get("recall", 0.6))
        return metrics
    hits = [t == p for t, p in zip(y_true, y_pred)]
    return {
        "accuracy": round(float(np.mean(hits)), 4) if hits else float("nan"),
        "ci95": bootstrap_ci(hits),
        "classes": classes,
        "macro_f1": round(macro_f1(y_true, y_pred), 4),
        "n": len(y_true),
    }


def ranking_metrics(positive: np.ndarray, scores: np.ndarray, recall: float) -> dict:
    """ROC AUC (the chance a positive outscores a negative, ties half) and, flagging from the highest score
    down until ``recall`` of the positives are found, the precision and the share of complaints flagged."""
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    ranks = ((ends - counts + 1 + ends) / 2)[inverse]  # 1-based ranks, tied scores sharing their average
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    auc = (ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    found = np.cumsum(positive[np.argsort(-scores, kind="mergesort")])
    k = int(np.searchsorted(found, np.ceil(recall * n_pos - 1e-9))) + 1
    return {"auc": round(float(auc), 4), f"precision_at_recall_{recall:.2f}": round(float(found[k - 1] / k), 4),
            f"flag_rate_at_recall_{recall:.2f}": round(k / len(scores), 4)}


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


def evaluate_champions(deployment: Deployment, complaints: list[Complaint], provenance_ids: set[str] = frozenset(),
                       origins: dict[str, str] | None = None) -> tuple[dict, list[dict]]:
    """Score every task's champion on ``complaints`` it was not trained on, and the system they make: on all of
    them and, where ``origins`` (complaint id -> its data file) names several, on each origin's.

    Complaints whose narrative is in any champion's training set are left out (and counted), so a
    model is never credited for what it memorised; flag tasks also leave out ``provenance_ids``. Each
    complaint is routed as the pipeline routes it (the champions' thresholds, a release's where it sets
    one), so its row says where it would go (``status``, ``queue``) and the system block measures that.
    Returns the report and one prediction row per evaluated complaint.
    """
    operations = deployment.operations
    versions = champions(deployment)
    serving = strategies(deployment)
    predictors = {t.name: load_predictor(deployment.registry.fetch(t.name, versions[t.name])) for t in deployment.tasks}
    seen = frozenset().union(*(p.training_fingerprints for p in predictors.values()))
    unseen = [c for c in complaints if fingerprint(c.narrative) not in seen]
    rows = [{"complaint_id": c.complaint_id} for c in unseen]
    decided: list[dict[str, TaskPrediction]] = [{} for _ in unseen]
    metrics, answers, thresholds = {}, [], {}
    for task in deployment.tasks:
        predictor = predictors[task.name]
        threshold = thresholds[task.name] = served_threshold(serving[task.name].threshold, predictor.threshold,
                                                             task.threshold, binary=predictor.binary)
        predicted = predictor.predict([c.narrative for c in unseen], threshold)
        y_true, y_pred, y_score, hits, known = [], [], [], [], []
        for row, decisions, complaint, (label, score) in zip(rows, decided, unseen, predicted):
            truth = task.label_of(complaint, deployment.taxonomy)
            row.update({f"{task.name}_true": truth or "", f"{task.name}_pred": label, f"{task.name}_score": round(score, 4)})
            decisions[task.name] = TaskPrediction(task.name, label, score, versions[task.name], "champion",
                                                  threshold=threshold)
            scored = truth is not None and not (task.binary and complaint.complaint_id in provenance_ids)
            hits.append(truth == POSITIVE if task.binary else truth == label)
            known.append(scored)
            if scored:
                y_true.append(truth)
                y_pred.append(label)
                y_score.append(score)
        metrics[task.name] = task_metrics(task, y_true, y_pred, len(predictor.labels), y_score)
        answers.append(TaskAnswers(task, np.array([s for _, s in predicted]), np.array(hits), np.array(known)))
    to_name: list[set[str]] = []
    for row, decisions in zip(rows, decided):
        queue, status, reasons = route(deployment.tasks, decisions, operations.deferral)
        row.update({"status": status, "queue": queue})
        to_name.append(left_to_name(reasons))
    allocated = np.array([row["status"] == ALLOCATED for row in rows], dtype=bool)
    flagged = {t.name: np.array([row["queue"] == t.queue and row[f"{t.name}_pred"] == POSITIVE for row in rows],
                                dtype=bool) for t in deployment.tasks if t.binary}
    by_models = {a.task.name: allocated & ~np.array([a.task.name in names for names in to_name], dtype=bool)
                 for a in answers if not a.task.binary}
    system = system_metrics(answers, allocated, flagged, operations, by_models)
    origin_of = np.array([(origins or {}).get(c.complaint_id, "") for c in unseen])
    by_origin = {}
    for origin in sorted(set(origin_of)) if len(set(origin_of)) > 1 else []:
        rows_of = origin_of == origin
        by_origin[origin] = system_metrics([a.of(rows_of) for a in answers], allocated[rows_of],
                                           {name: mask[rows_of] for name, mask in flagged.items()}, operations,
                                           {name: mask[rows_of] for name, mask in by_models.items()})
    report = {
        "n": len(unseen),
        "tasks": metrics,
        "targets": check_targets(deployment.tasks, metrics),
        "system": {**system, "thresholds": thresholds},
        "origins": by_origin,
        "criteria": _criteria_points(answers, system, thresholds, predictors, operations),
        "model_versions": versions,
        "excluded": {"seen_in_training": len(complaints) - len(unseen),
                     "all_tagged_source_rows_for_flags": len(provenance_ids & {c.complaint_id for c in unseen})},
    }
    return report, rows


def _criteria_points(answers: list[TaskAnswers], served: dict, thresholds: dict[str, float],
                     predictors: dict[str, Predictor], operations: Operations) -> dict[str, dict]:
    """Per acceptance criterion, the point the champions were tuned to for it (the served one for the configured
    criterion; the others as their training run recorded them, where the champions come from one run) and what
    it makes of these complaints: automation, time and cost cut, and whether it meets its criterion here."""
    recorded = [json.loads(file.read_text(encoding="utf-8")).get("criteria", {})
                for file in (p.path / OPERATING_POINT for p in predictors.values()) if file.exists()]
    points = {operations.criterion: (thresholds, served)}
    if len(recorded) == len(predictors) and all(r == recorded[0] for r in recorded):
        for name, other in recorded[0].items():
            if name in operations.criteria:
                points[name] = (other["thresholds"], measure(answers, other["thresholds"],
                                                             replace(operations, criterion=name)))
    return {name: {"thresholds": point, "automation_rate": system["automation_rate"], "time_cut": system["time_cut"],
                   "cost_cut": system["cost_cut"], "meets": system["criteria"][name]}
            for name, (point, system) in points.items()}
