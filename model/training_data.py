"""What a model of each task learns from: the data's complaints (a file, or a folder of CFPB exports read as
one), relabelled and extended by analysts' corrections, cut into each task's training and held-out examples.

The CFPB holds one narrative under several complaint ids (one consumer, several companies; about 6% of the
shared data's rows). A task learns and is scored on each narrative once, with its majority label: copies
would weigh one consumer's words several times, and their labels can disagree (the product differs by
company). An analyst's correction of any copy decides the narrative's label.

Training, the ``training`` data gate and ``complaints validate`` all read the data through here, so they
agree on every example and every label. Data may carry analysts' corrections itself: the training dataset exported
from a deployment (model/dataset.py) names, in its column ``corrected_by_analyst``, the tasks whose label column
(``team_label``...) an analyst set, so training on it learns what training on its source and the store learnt.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date
from functools import partial
from itertools import accumulate
from pathlib import Path

from complaints.deployment import Deployment
from complaints.intake import IntakeBatch, read_batch
from complaints.provenance import all_tagged_rows, default_provenance
from complaints.records import StoredComplaint
from complaints.schema import Complaint
from complaints.splits import HOLDOUT_PERCENT, Labelled, Splits, fingerprint, is_holdout
from complaints.tasks import TaskSpec

CORRECTED = "corrected_by_analyst"  # a column of the data: the tasks (comma-separated) an analyst labelled
ORIGIN = "origin"  # a column of an exported dataset (model/dataset.py): the data file each complaint came from
STORE = "store"  # the origin of a complaint an analyst corrected that the data does not hold: the bank's store


def label_column(task: str) -> str:
    """The column in which data carries a task's label (set by an analyst where CORRECTED names the task)."""
    return f"{task}_label"


@dataclass(frozen=True)
class TrainingSet:
    complaints: list[Complaint]  # every complaint read, corrected ones added
    splits: Splits  # one example per narrative and task
    source_sha256: str  # of the data (a folder: its data files)
    all_tagged_ids: frozenset[str]  # rows of all-tagged sources, which flag tasks leave out
    corrections: dict[tuple[str, str], str]  # (complaint id, task) -> the analyst's label
    provenance: Path | None  # the provenance file read (complaint id -> public sample)
    files: dict[str, int]  # each data file's name and how many records intake read from it, in reading order
    origins: dict[str, str]  # complaint id -> its origin: the data file it came from, or STORE
    dataset: dict | None = None  # the Hub dataset revision the data is, if the caller fetched it (model/dataset_hub.py)


def corrected_complaints(deployment: Deployment, data: Path, max_rows: int | None = None
                         ) -> tuple[list[Complaint], dict[tuple[str, str], str], IntakeBatch]:
    """The data's valid complaints plus stored complaints analysts corrected; the corrections by
    (complaint id, task), those the data carries first and the store's after, the latest winning; and the batch
    intake read (its sha256, its records per file)."""
    batch = read_batch(data, deployment.taxonomy, redactor=deployment.redactor)
    complaints = batch.complaints
    if max_rows:
        complaints = sorted(complaints, key=lambda c: fingerprint(c.complaint_id))[:max_rows]
    corrections = {(c.complaint_id, task): c.get(label_column(task)) for c in complaints
                   for task in filter(None, c.get(CORRECTED).split(","))}
    corrections |= {(f.complaint_id, f.task): f.label for f in deployment.store.list_feedback()}
    known = {c.complaint_id for c in complaints}
    for complaint_id in sorted({cid for cid, _ in corrections} - known):
        stored = deployment.store.get_complaint(complaint_id)
        if stored is not None:
            complaints.append(_as_complaint(stored))
    return complaints, corrections, batch


def training_set(deployment: Deployment, tasks: list[TaskSpec], data: Path, max_rows: int | None = None,
                 provenance: Path | None = None, holdout_percent: int = HOLDOUT_PERCENT, holdout_rotation: int = 0
                 ) -> TrainingSet:
    """Each task's (training, held-out) examples: an analyst's correction overrides the file's label."""
    complaints, corrections, batch = corrected_complaints(deployment, data, max_rows)
    provenance = provenance or default_provenance(data)
    biased = frozenset(all_tagged_rows(provenance, complaints) if provenance else ())
    splits = {}
    for task in tasks:
        corrected = {cid: label for (cid, name), label in corrections.items() if name == task.name}
        labelled = one_per_narrative([(c, task.label_of(c, deployment.taxonomy)) for c in complaints
                                      if not (task.binary and c.complaint_id in biased)], corrected)
        held_out = partial(is_holdout, percent=holdout_percent, rotation=holdout_rotation)
        splits[task.name] = ([(c, y) for c, y in labelled if not held_out(c.narrative)],
                             [(c, y) for c, y in labelled if held_out(c.narrative)])
    return TrainingSet(complaints, splits, batch.source_sha256, biased, corrections, provenance, dict(batch.files),
                       origins(batch.files, complaints))


def origins(files: dict[str, int], complaints: list[Complaint]) -> dict[str, str]:
    """Each complaint's origin: the origin an exported dataset recorded; else the data file whose rows hold it
    (``files``: the records intake read per file, in reading order, and the complaint's row number say which);
    else STORE, for a correction's complaint that the data does not hold."""
    ends = list(zip(files, accumulate(files.values())))
    return {c.complaint_id: c.get(ORIGIN) or next((name for name, end in ends if 0 < c.row_number <= end), STORE)
            for c in complaints}


def one_per_narrative(labelled: list[tuple[Complaint, str | None]], corrected: dict[str, str]) -> Labelled:
    """One example per narrative, in fingerprint order: the labels of its copies' analysts' corrections if any,
    else of the copies; the most frequent wins (ties: the first in label order), and the first copy (by complaint
    id) carrying it stands for the narrative. Copies without a label do not vote. The order is the narratives',
    not the file's: a solver's sums depend on the order of its examples, so the same complaints in another order
    or format (a CSV, the dataset exported from it: model/dataset.py) train the same version."""
    copies: dict[str, list[tuple[Complaint, str]]] = defaultdict(list)
    for complaint, label in labelled:
        label = corrected.get(complaint.complaint_id) or label
        if label is not None:
            copies[fingerprint(complaint.narrative)].append((complaint, label))
    examples = []
    for _, group in sorted(copies.items()):
        voters = [(c, y) for c, y in group if c.complaint_id in corrected] or group
        votes = Counter(y for _, y in voters)
        label = min(votes, key=lambda y: (-votes[y], y))
        examples.append(min(((c, y) for c, y in voters if y == label), key=lambda pair: pair[0].complaint_id))
    return examples


def _as_complaint(stored: StoredComplaint) -> Complaint:
    return Complaint(stored.complaint_id, date.fromisoformat(stored.date_received), stored.narrative, stored.attributes)
