"""The training job: fit each task's model (of the kind its config declares) on the training split less its
validation slice, calibrate it and tune the operating point (every task's threshold, together) on that
slice, score it on the held-out split with the serving code, write its model card, register it, and make
it champion when the task has none.

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
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from tqdm import tqdm

from complaints.deployment import Deployment
from model.evaluation import task_metrics
from model.model_card import write_model_card
from complaints.predictors import KINDS, load_predictor
from complaints.predictors.transformer_onnx import KIND as TRANSFORMER_KIND
from model.registration import CHAMPION_POLICIES, RegistrationIncomplete, register_model
from model.operating_point import OPERATING_POINT, OperatingPoint, Operations, TaskAnswers, tune
from complaints.predictors.base import calibrated
from complaints.schema import POSITIVE, Complaint
from complaints.config import Settings
from complaints.splits import HOLDOUT_PERCENT, Labelled, Splits, fingerprint, is_validation
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
    provenance: Path | None = None  # defaults to provenance.csv beside the data
    champion: str = "if-none"  # register as champion: if the task has none | if-better | always | never
    actor: str = field(default_factory=getpass.getuser)
    # the specialist capacity and margin the operating point is tuned for (env COMPLAINTS_OPERATIONS)
    operations: Path = field(default_factory=lambda: Settings.from_env().operations_file)
    baseline: baseline.BaselineConfig = field(default_factory=baseline.BaselineConfig)
    transformer: "TransformerConfig | None" = None  # model.transformer.TransformerConfig; defaults when None

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


def train(deployment: Deployment, args: TrainingArguments, progress: bool = False) -> list[TrainingResult]:
    """Fit, score and register every task's model; raises before registering anything unless all fitted."""
    if args.kind is not None and args.kind not in KINDS:
        raise ValueError(f"unknown model kind {args.kind!r}; available: {sorted(KINDS)}")
    if args.champion not in CHAMPION_POLICIES:
        raise ValueError(f"champion policy must be one of {CHAMPION_POLICIES}")
    tasks = [deployment.task(name) for name in args.tasks] if args.tasks else deployment.tasks
    data = training_set(deployment, tasks, args.data, args.max_rows, args.provenance, args.holdout_percent)
    check = check_training(deployment, data.complaints, data.splits)
    if not check.success:
        raise TrainingDataError("the training data failed the `training` suite; nothing was trained\n" + check.report())
    splits = check.trainable(data.splits)
    excluded = {"excluded_all_tagged_source_rows": len(data.all_tagged_ids)}
    validation = {name: [(c, y) for c, y in train_set if is_validation(c.narrative)]
                  for name, (train_set, _) in splits.items()}
    with tempfile.TemporaryDirectory(prefix="train-") as tmp:
        fitted = _fit_baselines([t for t in tasks if args.kind_of(t) == baseline.KIND], splits, args, Path(tmp), progress)
        transformer_tasks = [t for t in tasks if args.kind_of(t) == TRANSFORMER_KIND]
        if transformer_tasks:
            fitted |= _fit_transformer(transformer_tasks, splits, args, Path(tmp), progress)
        point = _calibrate_and_tune(tasks, fitted, validation, Operations.load(args.operations))
        scored = [_score(deployment, task, args.kind_of(task), *fitted[task.name], *splits[task.name], data,
                         {**(excluded if task.binary else {}),
                          "excluded_small_classes": check.small_classes.get(task.name, {})}, point)
                  for task in tasks]
        return _register_all(deployment, scored, args)


def _fit_baselines(tasks: list[TaskSpec], splits: Splits, args: TrainingArguments, folder: Path, progress: bool
                   ) -> dict[str, tuple[Path, dict]]:
    """One TF-IDF + logistic regression per task, on the training split less its validation slice."""
    artifacts = {}
    for task in tqdm(tasks, desc="train", unit="task", disable=not progress):
        fit_set = [(c, y) for c, y in splits[task.name][0] if not is_validation(c.narrative)]
        artifact_dir = folder / task.name
        baseline.fit([c.narrative for c, _ in fit_set], [y for _, y in fit_set], task.binary, artifact_dir,
                     args.baseline)
        artifacts[task.name] = (artifact_dir, {"config": asdict(args.baseline), "fit_rows": len(fit_set)})
    return artifacts


def _fit_transformer(tasks: list[TaskSpec], splits: Splits, args: TrainingArguments, folder: Path, progress: bool
                     ) -> dict[str, tuple[Path, dict]]:
    """One encoder fine-tuned on every task at once; a validation slice of the training split tunes the
    flag thresholds and decides whether a declared hierarchy (``within``) helps."""
    from model import transformer

    config = args.transformer or transformer.TransformerConfig()
    rows, labels = {}, {task.name: {} for task in tasks}
    for task in tasks:
        for complaint, label in splits[task.name][0]:
            rows[complaint.complaint_id] = complaint
            labels[task.name][complaint.complaint_id] = label
    fit_ids = [cid for cid, c in rows.items() if not is_validation(c.narrative)]
    val_ids = [cid for cid, c in rows.items() if is_validation(c.narrative)]
    names = {t.name for t in tasks}
    hierarchy = next(((t.within, t.name) for t in tasks if t.within in names), None)
    fitted = transformer.fit(
        [rows[cid].narrative for cid in fit_ids], {t.name: [labels[t.name].get(cid) for cid in fit_ids] for t in tasks},
        {t.name: t.binary for t in tasks},
        ([rows[cid].narrative for cid in val_ids], {t.name: [labels[t.name].get(cid) for cid in val_ids] for t in tasks}),
        config, progress=progress, hierarchy=hierarchy)
    return {task.name: (folder / task.name, transformer.export(fitted, task.name, folder / task.name)) for task in tasks}


def _calibrate_and_tune(tasks: list[TaskSpec], fitted: dict[str, tuple[Path, dict]], validation: dict[str, Labelled],
                        operations: Operations) -> OperatingPoint:
    """Fit each version's temperature on its task's validation examples, then tune every threshold together
    on the complaints of the slice (model.operating_point), and write both into each model.json."""
    rows: dict[str, Complaint] = {}
    for task in tasks:
        for complaint, _ in validation[task.name]:
            rows.setdefault(fingerprint(complaint.narrative), complaint)
    keys = sorted(rows)
    texts = [rows[key].narrative for key in keys]
    answers = []
    for task in tasks:
        artifact_dir, tuned = fitted[task.name]
        predictor = load_predictor(artifact_dir)
        truth = {fingerprint(c.narrative): y for c, y in validation[task.name]}
        labels = [truth.get(key) for key in keys]
        known = np.array([label is not None for label in labels])
        raw = predictor.raw_proba(texts)
        known_labels = [label for label in labels if label is not None]
        temperature = fit_temperature(raw[known], known_labels, predictor.labels)
        proba = calibrated(raw, temperature)
        tuned["calibration"] = {"temperature": temperature, "validation_rows": int(known.sum()),
                                "ece_before": expected_calibration_error(raw[known], known_labels, predictor.labels),
                                "ece_after": expected_calibration_error(proba[known], known_labels, predictor.labels)}
        if task.binary:
            scores, hits = proba[:, predictor.labels.index(POSITIVE)], np.array([y == POSITIVE for y in labels])
        else:
            top = proba.argmax(axis=1)
            scores, hits = proba.max(axis=1), np.array([predictor.labels[i] == y for i, y in zip(top, labels)])
        answers.append(TaskAnswers(task, scores, hits, known))
    point = tune(answers, operations)
    for task in tasks:
        artifact_dir, tuned = fitted[task.name]
        meta_file = artifact_dir / "model.json"
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
        meta["temperature"] = tuned["calibration"]["temperature"]
        if task.name in point.thresholds:
            meta["decision_threshold"] = point.thresholds[task.name]
            tuned["decision_threshold"] = point.thresholds[task.name]
        meta_file.write_text(json.dumps(meta, indent=2, sort_keys=True), encoding="utf-8")
        (artifact_dir / OPERATING_POINT).write_text(json.dumps(point.as_json(), indent=2), encoding="utf-8")
    return point


def _score(deployment: Deployment, task: TaskSpec, kind: str, artifact_dir: Path, tuned: dict, train_set: Labelled,
           holdout: Labelled, data: TrainingSet, excluded: dict, point: OperatingPoint) -> _Scored:
    """Score on the held-out split with the serving code, as it will run, and write the model card."""
    data_hash = hashlib.sha256(json.dumps(
        [data.source_sha256, sorted((c.complaint_id, y) for c, y in train_set)]).encode()).hexdigest()
    (artifact_dir / "training_fingerprints.json").write_text(
        json.dumps(sorted({fingerprint(c.narrative) for c, _ in train_set})))
    (artifact_dir / LABEL_DISTRIBUTION).write_text(json.dumps(Counter(y for _, y in train_set), sort_keys=True))
    predictor = load_predictor(artifact_dir)
    predicted = predictor.predict([c.narrative for c, _ in holdout])
    metrics = task_metrics(task, [y for _, y in holdout], [label for label, _ in predicted], len(predictor.labels),
                           [score for _, score in predicted])
    training = {"data_sha256": data_hash, "git_commit": _git_commit(), "train_rows": len(train_set),
                "holdout_rows": len(holdout), "taxonomy_version": deployment.taxonomy.version, "kind": kind,
                **excluded, **tuned}
    write_model_card(artifact_dir, task.name, kind, metrics, training, point.as_json())
    return _Scored(task, kind, artifact_dir, metrics, data_hash, len(train_set), len(holdout))


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
                                      model.train_rows, model.holdout_rows))
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
