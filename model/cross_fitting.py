"""Out-of-fold answers: every training complaint scored by a model that did not learn from it.

The training split is cut into folds by narrative (``complaints.splits.fold_of``); each fold is scored by
the task's model fitted on the other folds. Calibration and the operating point are fitted on these answers,
the whole training split rather than a slice of it, and the version that serves is the fold models' mean
(``model/baseline.py``). A point chosen on some 12,000 out-of-fold answers is not the lucky point of a small
slice's noise, so what the model card promises is what new complaints get (the held-out split measures both:
``model/train.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from complaints.splits import FOLDS, Labelled, fingerprint, fold_of
from complaints.schema import Complaint
from complaints.tasks import TaskSpec

# A model kind's cross-fit of one task: fit a model per fold on the task's examples of the other folds, export
# the version that serves into the folder, and return its classes and the probabilities of the given texts, each
# by the model of its fold (given beside it), which did not learn from it.
CrossFit = Callable[[TaskSpec, Labelled, list[str], list[int], Path], tuple[list[str], np.ndarray]]


@dataclass(frozen=True)
class Answers:
    """Each task's uncalibrated probabilities on one set of complaints, aligned by narrative."""

    keys: list[str]  # the narratives' fingerprints
    texts: list[str]
    labels: dict[str, list[str | None]]  # per task: the true label, None where the task has none
    raw: dict[str, np.ndarray]  # per task: one row per key, one column per class of ``classes``
    classes: dict[str, list[str]]
    folds: int  # how many models scored them: FOLDS, or 1 for a single held-out fold


def complaints_of(tasks: list[TaskSpec], examples: dict[str, Labelled]) -> tuple[list[str], list[Complaint],
                                                                                  dict[str, list[str | None]]]:
    """The complaints any task has an example of, one per narrative in fingerprint order, and each task's labels."""
    rows: dict[str, Complaint] = {}
    for task in tasks:
        for complaint, _ in examples[task.name]:
            rows.setdefault(fingerprint(complaint.narrative), complaint)
    keys = sorted(rows)
    labels = {}
    for task in tasks:
        truth = {fingerprint(c.narrative): y for c, y in examples[task.name]}
        labels[task.name] = [truth.get(key) for key in keys]
    return keys, [rows[key] for key in keys], labels


def out_of_fold(tasks: list[TaskSpec], examples: dict[str, Labelled], cross_fit: CrossFit, folder: Path,
                progress: bool = False) -> Answers:
    """Cross-fit every task, its version written to ``folder / task``, and score every complaint any task has an
    example of (a task scores the complaints it has no label for too: they are routed all the same)."""
    keys, complaints, labels = complaints_of(tasks, examples)
    texts = [c.narrative for c in complaints]
    folds = [fold_of(text) for text in texts]
    raw: dict[str, np.ndarray] = {}
    classes: dict[str, list[str]] = {}
    for task in tqdm(tasks, desc="train", unit="task", disable=not progress):
        classes[task.name], raw[task.name] = cross_fit(task, examples[task.name], texts, folds, folder / task.name)
    return Answers(keys, texts, labels, raw, classes, FOLDS)
