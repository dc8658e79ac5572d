"""The training job: fit each task's model (of the kind its config declares) on the training split, calibrate
it and tune the operating point (every task's threshold, together) on out-of-fold answers over that split
(``model/cross_fitting.py``), score it on the held-out split with the serving code, with the system it makes
there beside what the tuning promised, write its model card, register it, and make it champion when the
task has none.

Every task is fitted and scored before any is registered, so a failed fit registers nothing. Analysts'
reallocations (the ``feedback`` table) override the file's labels and add the complaints they corrected,
so retraining adapts to what the ops team sees (``model/training_data.py``).
"""

from __future__ import annotations

import getpass
import hashlib
import json
import subprocess
import tempfile
from functools import partial
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from complaints.deployment import Deployment
from complaints.drift import REFERENCE, reference_of
from model.evaluation import task_metrics
from model.model_card import write_model_card
from complaints.predictors import KINDS, load_predictor
from complaints.predictors.transformer_onnx import KIND as TRANSFORMER_KIND
from model.registration import CHAMPION_POLICIES, RegistrationIncomplete, register_model
from model.cross_fitting import Answers, complaints_of, out_of_fold
from model.operating_point import OPERATING_POINT, OperatingPoint, gap_sd, measure, task_answers, tune
from complaints.operations import Operations
from complaints.predictors.base import calibrated
from complaints.splits import FOLDS, HOLDOUT_PERCENT, Labelled, Splits, fingerprint, fold_of
from complaints.strategy import champions
from complaints.tasks import TaskSpec
from model.training_data import TrainingSet, training_set
from data_checks.training import LABEL_DISTRIBUTION, check_training
from model import baseline
from model.calibration import expected_calibration_error, fit_temperature

if TYPE_CHECKING:  # the transformer kind needs torch; the baseline path must not import it
    from model.transformer import TransformerConfig



class TrainingDataError(ValueError):
    """The training data failed the ``training`` suite (data_checks); nothing was fitted. The message is the report."""


@dataclass
class TrainingArguments:
    data: Path
    tasks: list[str] = field(default_factory=list)  # empty: every configured task
    kind: str | None = None  # None: each task's declared model kind (tasks.yaml); else this kind for every task
    max_rows: int | None = None  # a deterministic subset, for quick runs and tests
    holdout_percent: int = HOLDOUT_PERCENT
    holdout_rotation: int = 0  # which slice is held out (complaints.splits.is_holdout); tools/promise_gap.py turns it
    provenance: Path | None = None  # defaults to provenance.csv beside the data
    champion: str = "if-none"  # register as champion: if the task has none | if-better | always | never
    actor: str = field(default_factory=getpass.getuser)
    baseline: baseline.BaselineConfig = field(default_factory=baseline.BaselineConfig)  # a task's options go over it
    transformer: "TransformerConfig | None" = None  # model.transformer.TransformerConfig; defaults when None
    dataset: dict | None = None  # the Hub dataset revision ``data`` is (model/dataset_hub.fetch), named in model cards

    def kind_of(self, task: TaskSpec) -> str:
        return self.kind or task.model


@dataclass
class TrainingResult:
    task: str
    version: str
    metrics: dict
    champion: bool
    train_rows: int
    holdout_rows: int
    operating_point: dict  # the run's: thresholds, what the tuning promised and what the held-out split realised


@dataclass
class _Scored:
    """A fitted, scored model not yet registered."""

    task: TaskSpec
    kind: str
    artifact_dir: Path
    metrics: dict
    data_sha256: str
    train_rows: int
    holdout_rows: int
    operating_point: dict


def selected_tasks(deployment: Deployment, names: list[str]) -> list[TaskSpec]:
    """The tasks a run trains: the ones named, else every configured task (an unknown name is a KeyError)."""
    return [deployment.task(name) for name in names] if names else deployment.tasks


def train(deployment: Deployment, args: TrainingArguments, progress: bool = False) -> list[TrainingResult]:
    """Fit, score and register every task's model; raises before registering anything unless all fitted."""
    if args.kind is not None and args.kind not in KINDS:
        raise ValueError(f"unknown model kind {args.kind!r}; available: {sorted(KINDS)}")
    if args.champion not in CHAMPION_POLICIES:
        raise ValueError(f"champion policy must be one of {CHAMPION_POLICIES}")
    tasks = selected_tasks(deployment, args.tasks)
    operations = deployment.operations  # the criterion and capacity the point is tuned to (COMPLAINTS_OPERATIONS)
    unread = sorted(t.name for t in tasks if t.options and t.model != baseline.KIND)
    if unread:
        raise ValueError(f"tasks {unread}: options are {baseline.KIND} settings; the {TRANSFORMER_KIND} kind takes "
                         "its settings from the run (complaints train --epochs, --max-length ...)")
    baseline_tasks = [t for t in tasks if args.kind_of(t) == baseline.KIND]
    recipes = {t.name: baseline.with_options(args.baseline, t.options)
               for t in baseline_tasks}  # each task's settings over the run's, checked before any data is read
    data = replace(training_set(deployment, tasks, args.data, args.max_rows, args.provenance, args.holdout_percent,
                                args.holdout_rotation), dataset=args.dataset)
    check = check_training(deployment, data.complaints, data.splits)
    if not check.success:
        raise TrainingDataError("the training data failed the `training` suite; nothing was trained\n" + check.report())
    splits = check.trainable(data.splits)
    excluded = {"excluded_all_tagged_source_rows": len(data.all_tagged_ids)}
    with tempfile.TemporaryDirectory(prefix="train-") as tmp:
        fitted, tuning = {}, []
        if baseline_tasks:
            tuning.append(out_of_fold(baseline_tasks, {t.name: splits[t.name][0] for t in baseline_tasks},
                                      partial(_cross_fit_baseline, recipes), Path(tmp), progress))
            fitted |= {t.name: (Path(tmp) / t.name, {"config": asdict(recipes[t.name]), "fit_rows": len(splits[t.name][0]),
                                                     "folds": FOLDS}) for t in baseline_tasks}
        transformer_tasks = [t for t in tasks if args.kind_of(t) == TRANSFORMER_KIND]
        if transformer_tasks:
            transformer_fitted, transformer_answers = _fit_transformer(transformer_tasks, splits, args, Path(tmp),
                                                                       progress)
            fitted |= transformer_fitted
            tuning.append(transformer_answers)
        origin_of = {fingerprint(c.narrative): data.origins[c.complaint_id] for c in data.complaints}
        point = _calibrate_and_tune(tasks, fitted, tuning, operations, origin_of)
        held_out = _held_out_system(tasks, fitted, {t.name: splits[t.name][1] for t in tasks}, point, operations,
                                    origin_of)
        reference = _held_out_narratives(data.splits)
        scored = [_score(deployment, task, args.kind_of(task), *fitted[task.name], *splits[task.name], data,
                         {**(excluded if task.binary else {}),
                          "excluded_small_classes": check.small_classes.get(task.name, {})}, point, held_out, reference)
                  for task in tasks]
        return _register_all(deployment, scored, args)


def _cross_fit_baseline(recipes: dict[str, baseline.BaselineConfig], task: TaskSpec, examples: Labelled,
                        texts: list[str], folds: list[int], folder: Path) -> tuple[list[str], np.ndarray]:
    """A TF-IDF + linear model per fold of the training split, and their mean that serves (model/baseline.py),
    with the task's recipe."""
    return baseline.cross_fit([c.narrative for c, _ in examples], [y for _, y in examples],
                              [fold_of(c.narrative) for c, _ in examples], task.binary, texts, folds, folder,
                              recipes[task.name])


def _fit_transformer(tasks: list[TaskSpec], splits: Splits, args: TrainingArguments, folder: Path, progress: bool
                     ) -> tuple[dict[str, tuple[Path, dict]], Answers]:
    """One encoder fine-tuned on every task at once, on the training split less its first fold, which tunes
    the calibration and thresholds and decides whether a declared hierarchy (``within``) helps: fitting it once
    per fold would take a CPU days, so this kind is tuned on one fold and serves the model that fold scored."""
    from model import transformer

    config = args.transformer or transformer.TransformerConfig()
    keys, complaints, labels = complaints_of(tasks, {t.name: splits[t.name][0] for t in tasks})
    tuning = [i for i, c in enumerate(complaints) if fold_of(c.narrative) == 0]
    fit_rows = [i for i, c in enumerate(complaints) if fold_of(c.narrative) != 0]
    names = {t.name for t in tasks}
    hierarchy = next(((t.within, t.name) for t in tasks if t.within in names), None)
    fitted = transformer.fit(
        [complaints[i].narrative for i in fit_rows], {t.name: [labels[t.name][i] for i in fit_rows] for t in tasks},
        {t.name: t.binary for t in tasks},
        ([complaints[i].narrative for i in tuning], {t.name: [labels[t.name][i] for i in tuning] for t in tasks}),
        config, progress=progress, hierarchy=hierarchy)
    artifacts = {task.name: (folder / task.name, {**transformer.export(fitted, task.name, folder / task.name),
                                                  "fit_rows": len(fit_rows)})
                 for task in tasks}
    texts = [complaints[i].narrative for i in tuning]
    predictors = {task.name: load_predictor(folder / task.name) for task in tasks}
    return artifacts, Answers([keys[i] for i in tuning], texts, {t.name: [labels[t.name][i] for i in tuning] for t in tasks},
                              {name: p.raw_proba(texts) for name, p in predictors.items()},
                              {name: p.labels for name, p in predictors.items()}, 1)


def _calibrate_and_tune(tasks: list[TaskSpec], fitted: dict[str, tuple[Path, dict]], tuning: list[Answers],
                        operations: Operations, origin_of: dict[str, str]) -> OperatingPoint:
    """Fit each version's temperature on its task's out-of-fold answers, tune every threshold together on the
    complaints every task has answers for (model.operating_point; ``origin_of``: each narrative's data file),
    and write both into each model.json."""
    common = sorted(set.intersection(*(set(group.keys) for group in tuning)))
    answers = []
    for task in tasks:
        group = next(group for group in tuning if task.name in group.raw)
        position = {key: i for i, key in enumerate(group.keys)}
        rows = [position[key] for key in common]
        raw, labels, classes = group.raw[task.name][rows], [group.labels[task.name][i] for i in rows], group.classes[task.name]
        known = np.array([label is not None for label in labels])
        known_labels = [label for label in labels if label is not None]
        temperature = fit_temperature(raw[known], known_labels, classes)
        proba = calibrated(raw, temperature)
        _, tuned = fitted[task.name]
        tuned["calibration"] = {"temperature": temperature, "tuning_rows": int(known.sum()), "folds": group.folds,
                                "ece_before": expected_calibration_error(raw[known], known_labels, classes),
                                "ece_after": expected_calibration_error(proba[known], known_labels, classes)}
        answers.append(task_answers(task, proba, classes, labels))
    origins = np.array([origin_of[key] for key in common])
    points = {name: tune(answers, replace(operations, criterion=name), origins) for name in operations.criteria}
    point = replace(points[operations.criterion],
                    alternatives={name: other for name, other in points.items() if name != operations.criterion})
    for task in tasks:
        artifact_dir, tuned = fitted[task.name]
        meta_file = artifact_dir / "model.json"
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
        meta["temperature"] = tuned["calibration"]["temperature"]
        if task.name in point.thresholds:
            meta["decision_threshold"] = point.thresholds[task.name]
            tuned["decision_threshold"] = point.thresholds[task.name]
        meta_file.write_text(json.dumps(meta, indent=2, sort_keys=True), encoding="utf-8")
    return point


def _held_out_system(tasks: list[TaskSpec], fitted: dict[str, tuple[Path, dict]], holdout: dict[str, Labelled],
                     point: OperatingPoint, operations: Operations, origin_of: dict[str, str]) -> dict:
    """The system the final versions make on the held-out split at the tuned point: what the promise realised,
    beside it the gap (realised less promised) of every task's rate and the gap chance alone would make
    (``gap_sd``); and on the held-out complaints of each origin the point was held to on its own."""
    keys, complaints, labels = complaints_of(tasks, holdout)
    texts = [c.narrative for c in complaints]
    answers = []
    for task in tasks:
        predictor = load_predictor(fitted[task.name][0])
        answers.append(task_answers(task, predictor.predict_proba(texts), predictor.labels, labels[task.name]))
    realised = measure(answers, point.thresholds, operations)
    gap = {name: _round_gap(values, point.system["tasks"].get(name, {})) for name, values in realised["tasks"].items()}
    return {"system": realised, "gap": {**gap, "automation_rate": round(
                realised["automation_rate"] - point.system["automation_rate"], 4)},
            "gap_sd": gap_sd(point.system, realised),
            "origins": {origin: measure(answers, point.thresholds, operations.for_origins,
                                        np.array([origin_of[key] == origin for key in keys]))
                        for origin in point.origins},
            "criteria": {name: measure(answers, other.thresholds, replace(operations, criterion=name))
                         for name, other in point.alternatives.items()}}


def _round_gap(realised: dict, promised: dict) -> float | None:
    metric = "recall" if "recall" in realised else "accuracy"
    return round(realised[metric] - promised[metric], 4) if metric in promised else None


def _held_out_narratives(splits: Splits) -> list[str]:
    """Every narrative held out for any task, labelled or not (a flag's all-tagged sources included): the
    complaints a version's answers on live complaints are compared with (complaints/drift.py)."""
    return sorted({complaint.narrative for _, holdout in splits.values() for complaint, _ in holdout})


def _score(deployment: Deployment, task: TaskSpec, kind: str, artifact_dir: Path, tuned: dict, train_set: Labelled,
           holdout: Labelled, data: TrainingSet, excluded: dict, point: OperatingPoint, held_out: dict,
           reference: list[str]) -> _Scored:
    """Score on the held-out split with the serving code, as it will run, write the model card, and record the
    version's answers on every ``reference`` narrative and its training labels among its hashed files: what
    monitoring compares live answers and analysts' corrections with (complaints/monitoring.py)."""
    data_hash = hashlib.sha256(json.dumps(
        [data.source_sha256, sorted((c.complaint_id, y) for c, y in train_set)]).encode()).hexdigest()
    (artifact_dir / "training_fingerprints.json").write_text(
        json.dumps(sorted({fingerprint(c.narrative) for c, _ in train_set})))
    (artifact_dir / LABEL_DISTRIBUTION).write_text(json.dumps(Counter(y for _, y in train_set), sort_keys=True))
    predictor = load_predictor(artifact_dir)
    predicted = predictor.predict([c.narrative for c, _ in holdout])
    metrics = task_metrics(task, [y for _, y in holdout], [label for label, _ in predicted], len(predictor.labels),
                           [score for _, score in predicted])
    training = {"data_sha256": data_hash, **({"dataset": data.dataset} if data.dataset else {}),
                "git_commit": _git_commit(), "train_rows": len(train_set),
                "holdout_rows": len(holdout), "taxonomy_version": deployment.taxonomy.version, "kind": kind,
                **excluded, **tuned}
    operating_point = {**point.as_json(), "held_out": held_out}
    (artifact_dir / OPERATING_POINT).write_text(json.dumps(operating_point, indent=2), encoding="utf-8")
    answers = predictor.predict(reference)
    (artifact_dir / REFERENCE).write_text(json.dumps(reference_of(
        [label for label, _ in answers], [score for _, score in answers], Counter(y for _, y in train_set))),
        encoding="utf-8")
    write_model_card(artifact_dir, task.name, kind, metrics, training, operating_point)
    return _Scored(task, kind, artifact_dir, metrics, data_hash, len(train_set), len(holdout), operating_point)


def _register_all(deployment: Deployment, scored: list[_Scored], args: TrainingArguments) -> list[TrainingResult]:
    results: list[TrainingResult] = []
    for model in scored:
        try:
            info, promoted = register_model(
                deployment, model.task.name, model.artifact_dir, model.kind, model.metrics, model.data_sha256,
                args.actor, _should_champion(deployment, model.task, args.champion, model.metrics))
        except Exception as error:  # noqa: BLE001 - say exactly what was registered before the failure
            done = [f"{r.task}@{r.version}{' (champion)' if r.champion else ''}" for r in results]
            raise RegistrationIncomplete(done, f"task {model.task.name!r}", error) from error
        results.append(TrainingResult(model.task.name, info.version, model.metrics, promoted is not None,
                                      model.train_rows, model.holdout_rows, model.operating_point))
    return results


def _should_champion(deployment: Deployment, task: TaskSpec, policy: str, metrics: dict) -> bool:
    """The champion policy; ``if-better`` compares the task's target metric on the same held-out split."""
    champion = champions(deployment, [task.name], required=False).get(task.name)
    if policy == "always" or champion is None:
        return policy != "never"
    if policy != "if-better" or not task.target:
        return False
    (metric, _), = task.target.items()
    metric = "f1" if task.binary else metric  # recall alone would reward flagging everyone
    info = deployment.store.get_model_info(task.name, champion)
    return info is None or metrics.get(metric, 0.0) > info.metrics.get(metric, 0.0)


def _git_commit() -> str:
    """The commit the training code came from ("+dirty" when the checkout has uncommitted changes)."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
