"""The training job: fit each task's model on the training split, score it on the held-out split with
the serving code, write its model card, register it, and make it champion when the task has none.

Analysts' reallocations (the ``feedback`` table) override the file's labels and add the complaints they
corrected, so retraining adapts to what the ops team sees.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import subprocess
import tempfile
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from tqdm import tqdm

from complaints.deployment import Deployment
from complaints.evaluation import task_metrics
from complaints.intake import read_batch
from complaints.model_card import write_model_card
from complaints.predictors import load_predictor
from complaints.provenance import all_tagged_rows, default_provenance
from complaints.records import StoredComplaint
from complaints.registration import register_model
from complaints.schema import Complaint
from complaints.settings import CHECKOUT
from complaints.splits import HOLDOUT_PERCENT, fingerprint, is_holdout, is_validation
from complaints.tasks import TaskSpec
from model import baseline

if TYPE_CHECKING:  # the transformer kind needs torch; the baseline path must not import it
    from model.transformer import TransformerConfig

TRANSFORMER_KIND = "transformer-onnx"
KINDS = (baseline.KIND, TRANSFORMER_KIND)
CHAMPION_POLICIES = ("if-none", "if-better", "always", "never")
Labelled = list[tuple[Complaint, str]]
# Label counts of the training split, written with every model: the training gate's drift baseline.
LABEL_DISTRIBUTION = "label_distribution.json"


class TrainingDataError(ValueError):
    """The training data failed the ``training`` suite (data_checks); nothing was fitted. The message is the report."""


@dataclass
class TrainingArguments:
    data: Path
    tasks: list[str] = field(default_factory=list)  # empty: every configured task
    kind: str = baseline.KIND
    max_rows: int | None = None  # a deterministic subset, for quick runs and tests
    holdout_percent: int = HOLDOUT_PERCENT
    provenance: Path | None = None  # defaults to provenance.csv beside the data
    champion: str = "if-none"  # register as champion: if the task has none | if-better | always | never
    actor: str = field(default_factory=getpass.getuser)
    baseline: baseline.BaselineConfig = field(default_factory=baseline.BaselineConfig)
    transformer: "TransformerConfig | None" = None  # model.transformer.TransformerConfig; defaults when None


@dataclass
class TrainingResult:
    task: str
    version: str
    metrics: dict
    champion: bool
    train_rows: int
    holdout_rows: int


def training_complaints(deployment: Deployment, args: TrainingArguments) -> tuple[list[Complaint], dict, str]:
    """The file's valid complaints plus stored complaints analysts corrected; and the corrections."""
    batch = read_batch(args.data, deployment.taxonomy)
    complaints = batch.complaints
    if args.max_rows:
        complaints = sorted(complaints, key=lambda c: fingerprint(c.complaint_id))[:args.max_rows]
    corrections = {(f.complaint_id, f.task): f.label for f in deployment.store.list_feedback()}
    known = {c.complaint_id for c in complaints}
    for complaint_id in sorted({cid for cid, _ in corrections} - known):
        stored = deployment.store.get_complaint(complaint_id)
        if stored is not None:
            complaints.append(_as_complaint(stored))
    return complaints, corrections, batch.source_sha256


def train(deployment: Deployment, args: TrainingArguments, progress: bool = False) -> list[TrainingResult]:
    if args.kind not in KINDS:
        raise ValueError(f"unknown model kind {args.kind!r}; available: {list(KINDS)}")
    if args.champion not in CHAMPION_POLICIES:
        raise ValueError(f"champion policy must be one of {CHAMPION_POLICIES}")
    tasks = [deployment.task(name) for name in args.tasks] if args.tasks else deployment.tasks
    complaints, splits, source_sha, biased = training_splits(deployment, tasks, args)
    check = check_training_data(deployment, complaints, splits)
    if not check.success:
        raise TrainingDataError("the training data failed the `training` suite; nothing was trained\n" + check.report())
    splits = check.trainable(splits)
    excluded = {"excluded_all_tagged_source_rows": len(biased)}
    with tempfile.TemporaryDirectory(prefix="train-") as tmp:
        fit = _fit_baselines if args.kind == baseline.KIND else _fit_transformer
        artifacts = fit(tasks, splits, args, Path(tmp), progress)
        return [_score_and_register(deployment, task, args, artifact_dir, tuned, *splits[task.name], source_sha,
                                    {**(excluded if task.binary else {}),
                                     "excluded_small_classes": check.small_classes.get(task.name, {})})
                for task, (artifact_dir, tuned) in zip(tasks, artifacts)]


def training_splits(deployment: Deployment, tasks: list[TaskSpec], args: TrainingArguments
                    ) -> tuple[list[Complaint], dict[str, tuple[Labelled, Labelled]], str, set[str]]:
    """The training complaints; each task's (train, held-out) labelled examples; the data's sha256; and the
    ids of all-tagged sources' rows, which flag tasks leave out."""
    complaints, corrections, source_sha = training_complaints(deployment, args)
    provenance = args.provenance or default_provenance(args.data)
    biased = all_tagged_rows(provenance, complaints) if provenance else set()
    splits = {}
    for task in tasks:
        labelled = [(c, corrections.get((c.complaint_id, task.name)) or task.label_of(c, deployment.taxonomy))
                    for c in complaints if not (task.binary and c.complaint_id in biased)]
        labelled = [(c, label) for c, label in labelled if label is not None]
        splits[task.name] = ([(c, y) for c, y in labelled if not is_holdout(c.narrative, args.holdout_percent)],
                             [(c, y) for c, y in labelled if is_holdout(c.narrative, args.holdout_percent)])
    return complaints, splits, source_sha, biased


def check_training_data(deployment: Deployment, complaints: list[Complaint],
                        splits: dict[str, tuple[Labelled, Labelled]], docs_dir: Path | None = None):
    """The ``training`` suite (data_checks.training) over the splits, against each champion's label distribution."""
    from data_checks.training import check_training

    champions = {}
    for task in splits:
        strategy = deployment.store.get_strategy(task)
        counts = deployment.registry.fetch(task, strategy.champion) / LABEL_DISTRIBUTION if strategy else None
        if counts is not None and counts.exists():
            champions[task] = json.loads(counts.read_text())
    return check_training(deployment, complaints, splits, champions, docs_dir)


def _fit_baselines(tasks: list[TaskSpec], splits: dict[str, tuple[Labelled, Labelled]], args: TrainingArguments,
                   folder: Path, progress: bool) -> list[tuple[Path, dict]]:
    """One TF-IDF + logistic regression per task."""
    artifacts = []
    for task in tqdm(tasks, desc="train", unit="task", disable=not progress):
        train_set = splits[task.name][0]
        artifact_dir = folder / task.name
        tuned = baseline.fit([c.narrative for c, _ in train_set], [y for _, y in train_set], task.binary,
                             artifact_dir, args.baseline)
        artifacts.append((artifact_dir, {"config": asdict(args.baseline), **tuned}))
    return artifacts


def _fit_transformer(tasks: list[TaskSpec], splits: dict[str, tuple[Labelled, Labelled]], args: TrainingArguments,
                     folder: Path, progress: bool) -> list[tuple[Path, dict]]:
    """One encoder fine-tuned on every task at once; a validation slice of the training split tunes the
    flag thresholds and decides whether the issue hierarchy helps."""
    from model import transformer

    config = args.transformer or transformer.TransformerConfig()
    rows: dict[str, Complaint] = {}
    labels: dict[str, dict[str, str]] = {task.name: {} for task in tasks}
    for task in tasks:
        for complaint, label in splits[task.name][0]:
            rows[complaint.complaint_id] = complaint
            labels[task.name][complaint.complaint_id] = label
    fit_ids = [cid for cid, c in rows.items() if not is_validation(c.narrative)]
    val_ids = [cid for cid, c in rows.items() if is_validation(c.narrative)]
    team = next((t.name for t in tasks if t.label == "taxonomy.team"), None)
    issue = next((t.name for t in tasks if t.label == "taxonomy.issue"), None)
    fitted = transformer.fit(
        [rows[cid].narrative for cid in fit_ids], {t.name: [labels[t.name].get(cid) for cid in fit_ids] for t in tasks},
        {t.name: t.binary for t in tasks},
        ([rows[cid].narrative for cid in val_ids], {t.name: [labels[t.name].get(cid) for cid in val_ids] for t in tasks}),
        config, progress=progress, team_task=team, issue_task=issue)
    return [(folder / task.name, transformer.export(fitted, task.name, folder / task.name, team_task=team))
            for task in tasks]


def _score_and_register(deployment: Deployment, task: TaskSpec, args: TrainingArguments, artifact_dir: Path,
                        tuned: dict, train_set: Labelled, holdout: Labelled, source_sha: str, excluded: dict
                        ) -> TrainingResult:
    data_hash = hashlib.sha256(json.dumps(
        [source_sha, sorted((c.complaint_id, y) for c, y in train_set)]).encode()).hexdigest()
    (artifact_dir / "training_fingerprints.json").write_text(
        json.dumps(sorted({fingerprint(c.narrative) for c, _ in train_set})))
    (artifact_dir / LABEL_DISTRIBUTION).write_text(json.dumps(Counter(y for _, y in train_set), sort_keys=True))
    predictor = load_predictor(artifact_dir)  # scored with the serving code, as it will run
    predicted = [label for label, _ in predictor.predict([c.narrative for c, _ in holdout])]
    metrics = task_metrics(task, [y for _, y in holdout], predicted, len(predictor.labels))
    training = {"data_sha256": data_hash, "git_commit": _git_commit(), "train_rows": len(train_set), "holdout_rows": len(holdout),
                "taxonomy_version": deployment.taxonomy.version, "kind": args.kind, **excluded, **tuned}
    write_model_card(artifact_dir, task.name, args.kind, metrics, training)
    info, promoted = register_model(deployment, task.name, artifact_dir, args.kind, metrics, data_hash, args.actor,
                                    _should_champion(deployment, task, args.champion, metrics))
    return TrainingResult(task.name, info.version, metrics, promoted is not None, len(train_set), len(holdout))


def _should_champion(deployment: Deployment, task: TaskSpec, policy: str, metrics: dict) -> bool:
    """The champion policy; ``if-better`` compares the task's target metric on the same held-out split."""
    current = deployment.store.get_strategy(task.name)
    if policy == "always" or current is None:
        return policy != "never"
    if policy != "if-better" or not task.target:
        return False
    (metric, _), = task.target.items()
    metric = "f1" if task.binary else metric  # recall alone would reward flagging everyone
    champion = deployment.store.get_model_info(task.name, current.champion)
    return champion is None or metrics.get(metric, 0.0) > champion.metrics.get(metric, 0.0)


def _git_commit() -> str:
    """The commit the training code came from ("+dirty" when the checkout has uncommitted changes)."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=CHECKOUT, capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=CHECKOUT, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def _as_complaint(stored: StoredComplaint) -> Complaint:
    return Complaint(stored.complaint_id, date.fromisoformat(stored.date_received), stored.narrative, stored.attributes)
