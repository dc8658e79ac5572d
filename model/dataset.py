"""The training data as a versioned Hugging Face dataset (``complaints dataset export``): what training learns from,
split as training splits it, saved with ``save_to_disk`` beside its card and provenance.

A row per complaint training reads (model/training_data.py: the data's complaints as intake accepted and redacted
them, then the stored complaints analysts corrected), in three splits drawn from the narrative's hash, so every copy
of a narrative is on one side:

- ``test``: training's held-out split (complaints.splits.is_holdout, 20%);
- ``validation``: the training split's first fold (``fold_of == 0``, about a tenth of it). Training has no
  validation split of its own: it tunes calibration and the operating point on out-of-fold answers over all ten
  folds, and the transformer kind tunes on this one. Training on the export reads train and validation as its
  training split;
- ``train``: the training split's other nine folds.

Its text is intake's (redacted), so it holds nothing intake would not store; read back, intake redacts it to itself
(complaints/redaction: its result is its own redaction). Each task's label is training's (an analyst's correction,
else the taxonomy's reading of the CFPB's labels), a ``ClassLabel`` named by the taxonomy, beside the CFPB's labels
of its era as filed; ``corrected_by_analyst`` names the tasks an analyst labelled, which training reads back
(model.training_data). So training on the export, anywhere, trains the versions its source trained with that store.
"""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from datasets import ClassLabel, Dataset, DatasetDict, Features, Value

from complaints.deployment import Deployment
from complaints.provenance import sources
from complaints.registry.base import VERSION_CHARS
from complaints.schema import (
    API_FIELD_NAMES, COMPANY, COMPLAINT_ID, DATE_RECEIVED, ISSUE, NARRATIVE, PRODUCT, SUB_ISSUE, SUB_PRODUCT, TAGS,
)
from complaints.splits import fingerprint, fold_of, is_holdout
from complaints.tasks import TaskSpec
from complaints.taxonomy import Taxonomy
from model.training_data import CORRECTED, ORIGIN, STORE, TrainingSet, label_column, training_set

SPLITS = ("train", "validation", "test")
VALIDATION_FOLD = 0  # the training split's fold that is the validation split
PROVENANCE_FILE = "provenance.csv"  # beside the dataset, as beside the CFPB files: training reads it the same way
FIELD = {column: name for name, column in API_FIELD_NAMES.items()}  # the CFPB API's names: intake reads them
_CFPB_COLUMNS = (PRODUCT, SUB_PRODUCT, ISSUE, SUB_ISSUE, TAGS, COMPANY)  # the era's labels as filed, the firm
FINGERPRINT, SOURCE, ALL_TAGGED = "narrative_fingerprint", "source", "all_tagged_source"


@dataclass(frozen=True)
class DatasetExport:
    dataset: DatasetDict
    training: TrainingSet  # what training reads from the same data and store
    tasks: list[TaskSpec]
    taxonomy: Taxonomy
    files: dict[str, int]  # each data file's name and how many records intake read from it, in reading order

    @cached_property
    def content_hash(self) -> str:
        return content_hash(self.dataset)

    def column(self, name: str) -> list:
        """A column's values over every split, in split order."""
        return [value for split in SPLITS for value in self.dataset[split][name]]


def split_of(narrative: str) -> str:
    """The split of a narrative, and so of every copy of it."""
    if is_holdout(narrative):
        return "test"
    return "validation" if fold_of(narrative) == VALIDATION_FOLD else "train"


def features(tasks: list[TaskSpec], taxonomy: Taxonomy) -> Features:
    """The columns: the CFPB API's names where intake reads them, each task's label a class of the taxonomy."""

    def label(task: TaskSpec) -> ClassLabel | Value:
        classes = task.classes(taxonomy)
        return ClassLabel(names=list(classes)) if classes else Value("string")  # a column: task's any value goes

    return Features({FIELD[COMPLAINT_ID]: Value("string"), FIELD[DATE_RECEIVED]: Value("date32"),
                     FIELD[NARRATIVE]: Value("string"),
                     **{label_column(task.name): label(task) for task in tasks},
                     **{FIELD[column]: Value("string") for column in _CFPB_COLUMNS},
                     CORRECTED: Value("string"), FINGERPRINT: Value("string"), ORIGIN: Value("string"),
                     SOURCE: Value("string"), ALL_TAGGED: Value("bool")})


def build(deployment: Deployment, data: Path, provenance: Path | None = None) -> DatasetExport:
    """The deployment's training data (``data`` and its store's corrections) as training reads it."""
    training = training_set(deployment, deployment.tasks, data, provenance=provenance)
    source_of = sources(training.provenance) if training.provenance else {}
    rows: dict[str, list[dict]] = {split: [] for split in SPLITS}
    for complaint in training.complaints:
        labels = {task.name: training.corrections.get((complaint.complaint_id, task.name))
                  or task.label_of(complaint, deployment.taxonomy) for task in deployment.tasks}
        corrected = [task.name for task in deployment.tasks
                     if (complaint.complaint_id, task.name) in training.corrections]
        rows[split_of(complaint.narrative)].append({
            FIELD[COMPLAINT_ID]: complaint.complaint_id, FIELD[DATE_RECEIVED]: complaint.date_received,
            FIELD[NARRATIVE]: complaint.narrative,
            **{label_column(name): label for name, label in labels.items()},
            **{FIELD[column]: complaint.get(column) or None for column in _CFPB_COLUMNS},
            CORRECTED: ",".join(corrected) or None, FINGERPRINT: fingerprint(complaint.narrative),
            ORIGIN: training.origins[complaint.complaint_id],
            SOURCE: source_of.get(complaint.complaint_id),
            ALL_TAGGED: complaint.complaint_id in training.all_tagged_ids})
    schema = features(deployment.tasks, deployment.taxonomy)
    dataset = DatasetDict({split: Dataset.from_dict({name: [row[name] for row in rows[split]] for name in schema},
                                                    features=schema) for split in SPLITS})  # a split may be empty
    return DatasetExport(dataset, training, deployment.tasks, deployment.taxonomy, training.files)


def content_hash(dataset: DatasetDict) -> str:
    """The sha256 of what the dataset holds, whatever files it is saved in: each split in order, its name, its
    features (the taxonomy's class names among them) and its rows as JSON. The dataset card is not part of it."""
    digest = hashlib.sha256()
    for split in SPLITS:
        part = dataset[split]
        digest.update(json.dumps([split, part.features.to_dict()], sort_keys=True).encode() + b"\n")
        for row in part:
            digest.update(json.dumps(row, sort_keys=True, default=str, ensure_ascii=False).encode() + b"\n")
    return digest.hexdigest()


def version(content_sha256: str) -> str:
    """The dataset's version, its Hub tag: the content hash's first digits, as a model version is its artifacts'."""
    return content_sha256[:VERSION_CHARS]


def internal_rows(dataset: DatasetDict) -> int:
    """Rows no public dataset may hold: an analyst's correction, or a complaint of the bank's store."""
    return sum(1 for split in SPLITS for corrected, origin in zip(dataset[split][CORRECTED], dataset[split][ORIGIN])
               if corrected or origin == STORE)


def save(export: DatasetExport, out: Path) -> Path:
    """``out``: the dataset (save_to_disk) and its provenance.csv, for its card beside them
    (model.dataset_card.write_dataset_card). An earlier export there is replaced; any other folder that is not empty
    is refused."""
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        if not (out / "dataset_dict.json").exists():
            raise ValueError(f"{out} is a folder that holds something other than an export: give an empty or new one")
        shutil.rmtree(out)
    # One file a split, an empty split's too: datasets writes none for it by default, and then cannot load it.
    export.dataset.save_to_disk(str(out), num_shards={split: 1 for split in SPLITS})
    with open(out / PROVENANCE_FILE, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["complaint_id", "source"])
        for split in SPLITS:
            writer.writerows((cid, source) for cid, source in zip(export.dataset[split][FIELD[COMPLAINT_ID]],
                                                                   export.dataset[split][SOURCE]) if source)
    return out
