"""The training job: fit each task's model on the training split, score it on the held-out split with
the serving code, write its model card, register it, and make it champion when the task has none.

Analysts' reallocations (the ``feedback`` table) override the file's labels and add the complaints they
corrected, so retraining adapts to what the ops team sees.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

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
from complaints.splits import HOLDOUT_PERCENT, fingerprint, is_holdout
from complaints.tasks import TaskSpec
from model import baseline

CHAMPION_POLICIES = ("if-none", "always", "never")


@dataclass
class TrainingArguments:
    data: Path
    tasks: list[str] = field(default_factory=list)  # empty: every configured task
    kind: str = baseline.KIND
    max_rows: int | None = None  # a deterministic subset, for quick runs and tests
    holdout_percent: int = HOLDOUT_PERCENT
    provenance: Path | None = None  # defaults to provenance.csv beside the data
    champion: str = "if-none"  # register as champion: if the task has none | always | never
    actor: str = field(default_factory=getpass.getuser)
    baseline: baseline.BaselineConfig = field(default_factory=baseline.BaselineConfig)


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
    if args.kind != baseline.KIND:
        raise ValueError(f"unknown model kind {args.kind!r}; available: {[baseline.KIND]}")
    if args.champion not in CHAMPION_POLICIES:
        raise ValueError(f"champion policy must be one of {CHAMPION_POLICIES}")
    tasks = [deployment.task(name) for name in args.tasks] if args.tasks else deployment.tasks
    complaints, corrections, source_sha = training_complaints(deployment, args)
    provenance = args.provenance or default_provenance(args.data)
    biased = all_tagged_rows(provenance, complaints) if provenance else set()
    results = []
    for task in tqdm(tasks, desc="train", unit="task", disable=not progress):
        rows = [c for c in complaints if not (task.binary and c.complaint_id in biased)]
        labelled = [(c, corrections.get((c.complaint_id, task.name)) or task.label_of(c, deployment.taxonomy))
                    for c in rows]
        labelled = [(c, label) for c, label in labelled if label is not None]
        train_set = [(c, y) for c, y in labelled if not is_holdout(c.narrative, args.holdout_percent)]
        holdout = [(c, y) for c, y in labelled if is_holdout(c.narrative, args.holdout_percent)]
        results.append(_train_task(deployment, task, args, train_set, holdout, source_sha, len(biased)))
    return results


def _train_task(deployment: Deployment, task: TaskSpec, args: TrainingArguments, train_set: list, holdout: list,
                source_sha: str, biased_rows: int) -> TrainingResult:
    data_hash = hashlib.sha256(json.dumps(
        [source_sha, sorted((c.complaint_id, y) for c, y in train_set)]).encode()).hexdigest()
    with tempfile.TemporaryDirectory(prefix=f"train-{task.name}-") as tmp:
        artifact_dir = Path(tmp)
        tuned = baseline.fit([c.narrative for c, _ in train_set], [y for _, y in train_set], task.binary,
                             artifact_dir, args.baseline)
        (artifact_dir / "training_fingerprints.json").write_text(
            json.dumps(sorted({fingerprint(c.narrative) for c, _ in train_set})))
        predictor = load_predictor(artifact_dir)  # scored with the serving code, as it will run
        predicted = [label for label, _ in predictor.predict([c.narrative for c, _ in holdout])]
        metrics = task_metrics(task, [y for _, y in holdout], predicted, len(predictor.labels))
        training = {"data_sha256": data_hash, "train_rows": len(train_set), "holdout_rows": len(holdout),
                    "excluded_all_tagged_source_rows": biased_rows if task.binary else 0,
                    "taxonomy_version": deployment.taxonomy.version, "kind": args.kind,
                    "config": asdict(args.baseline), **tuned}
        write_model_card(artifact_dir, task.name, args.kind, metrics, training)
        make_champion = args.champion == "always" or (
            args.champion == "if-none" and deployment.store.get_strategy(task.name) is None)
        info, promoted = register_model(deployment, task.name, artifact_dir, args.kind, metrics, data_hash,
                                        args.actor, make_champion)
    return TrainingResult(task.name, info.version, metrics, promoted is not None, len(train_set), len(holdout))


def _as_complaint(stored: StoredComplaint) -> Complaint:
    return Complaint(stored.complaint_id, date.fromisoformat(stored.date_received), stored.narrative, stored.attributes)
