"""The ``training`` suite: Great Expectations over a training set before anything is fitted.

One row per complaint and side of the train/evaluation split, one label column per task. The suite checks
leakage across the split (by complaint id and by normalised narrative), duplicate narratives, taxonomy
coverage, enough training examples per class, and each task's label distribution against the one its
champion was trained on. Small classes of a multi-class task are reported and left out of training; every
other failure stops training (see README.md for the numbers and why).
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import great_expectations as gx
import pandas as pd
from great_expectations.expectations.row_conditions import Column

from complaints.deployment import Deployment
from complaints.logs import log
from complaints.schema import ISSUE, PRODUCT, Complaint
from complaints.splits import Splits, fingerprint
from complaints.strategy import champions
from data_checks.expectations import ExpectColumnPairValuesAToDetermineB, ExpectColumnValuesToNotRepeat
from data_checks.outcome import CRITICAL, SuiteOutcome
from data_checks.run import run_suites

# Label counts of the training split, written with every model version: the training gate's drift baseline.
LABEL_DISTRIBUTION = "label_distribution.json"

SUITE = "training"
# A class needs this many training examples to be learnt; the CFPB sample has 18 of 84 canonical issues
# under it (34 of 8,918 training examples). Multi-class tasks leave such classes out; flag tasks fail.
MIN_EXAMPLES_PER_CLASS = 5
# Largest KL divergence (nats) of the training labels from the champion's: removing a class that held a
# tenth of the examples scores 0.105; random halves and 800-row samples of the CFPB data stay under 0.04.
MAX_LABEL_DRIFT = 0.1
# Share of the expected distribution given to classes the champion never saw (else any new class = drift ∞).
UNSEEN_CLASS_WEIGHT = 0.01
# Complaints repeating an earlier complaint's narrative under another id: real (one consumer, several
# companies; 3.4% of complaints.csv.gz, 9.5% of recent.csv.gz, 6.0% of both) and learnt once per narrative
# (model/training_data.py) up to this share; beyond it the set was probably assembled from overlapping
# pulls under new ids. (A resent row keeps its id: intake rejects it.)
MAX_DUPLICATE_NARRATIVE_SHARE = 0.15

COMPLAINT_ID, NARRATIVE, SPLIT = "complaint_id", "narrative_fingerprint", "split"
TRAIN, EVALUATION = "train", "evaluation"

logger = logging.getLogger("complaints.data_checks")


def label(task: str) -> str:
    """The column of ``task``'s labels (GX matches column names regardless of case: "issue" would be "Issue")."""
    return f"{task}_label"


def class_size(task: str) -> str:
    """The column holding, on each training row, how many training examples its ``task`` class has."""
    return f"{task}_class_size"


@dataclass(frozen=True)
class TrainingCheck:
    outcome: SuiteOutcome
    complaint_ids: tuple[str, ...]  # by frame row, to name failing rows by complaint id
    small_classes: dict[str, dict[str, int]]  # multi-class task -> classes under the minimum -> training examples
    missing_classes: dict[str, list[str]]  # task -> taxonomy classes without a training example
    notes: tuple[str, ...]

    @property
    def success(self) -> bool:
        return self.outcome.success

    def trainable(self, splits: Splits) -> Splits:
        """The splits without training examples of classes under the minimum (evaluation keeps them)."""
        for task, classes in self.small_classes.items():
            log(logger, logging.WARNING, "classes under the minimum left out of training", task=task,
                minimum=MIN_EXAMPLES_PER_CLASS, classes=classes)
        return {task: ([(c, y) for c, y in train if y not in self.small_classes.get(task, {})], evaluation)
                for task, (train, evaluation) in splits.items()}

    def report(self) -> str:
        """Readable: every expectation with its verdict, failing rows by complaint id, and why."""
        lines = self.outcome.lines(lambda row: self.complaint_ids[row])
        for task, classes in self.small_classes.items():
            listed = ", ".join(f"{name!r} ({n})" for name, n in sorted(classes.items(), key=lambda kv: kv[1]))
            lines.append(f"  {task}: {len(classes)} class(es) under {MIN_EXAMPLES_PER_CLASS} training examples, "
                         f"left out of training: {listed}")
        for task, classes in self.missing_classes.items():
            lines.append(f"  {task}: {len(classes)} taxonomy class(es) without a training example: {classes}")
        return "\n".join([*lines, *(f"  note: {note}" for note in self.notes)])

    def as_json(self) -> dict[str, Any]:
        return {**self.outcome.as_json(), "small_classes": self.small_classes,
                "missing_classes": self.missing_classes, "notes": list(self.notes)}


def check_training(deployment: Deployment, complaints: Sequence[Complaint], splits: Splits,
                   docs_dir: Path | None = None) -> TrainingCheck:
    """Run the suite over each task's splits, against the label counts its champion was trained on."""
    champions = champion_label_counts(deployment, list(splits))
    frame = training_frame(complaints, splits)
    [outcome] = run_suites([(training_suite(deployment, list(splits), champions), frame)], docs_dir)
    small, missing = {}, {}
    for task in splits:
        too_small = outcome.expectation(f"expect_column_values_to_be_between({class_size(task)})")
        if too_small.unexpected_index and not deployment.task(task).binary:  # a flag task's fail the suite
            small[task] = dict(Counter(frame.loc[list(too_small.unexpected_index), label(task)]))
        labels = deployment.task(task).classes(deployment.taxonomy)
        if labels is not None:
            if not outcome.expectation(f"expect_column_distinct_values_to_contain_set({label(task)})").success:
                missing[task] = sorted(set(labels) - set(frame.loc[frame[SPLIT] == TRAIN, label(task)]))
    notes = tuple(f"{task}: label drift not checked, the champion has no label distribution (or there is no champion)"
                  for task in splits if task not in champions)
    return TrainingCheck(outcome, tuple(frame[COMPLAINT_ID]), small, missing, notes)


def champion_label_counts(deployment: Deployment, tasks: list[str]) -> dict[str, dict[str, int]]:
    """Each task's champion's training label counts, where it has a champion that recorded them."""
    counts = {}
    for task, version in champions(deployment, tasks, required=False).items():
        file = deployment.registry.fetch(task, version) / LABEL_DISTRIBUTION
        if file.exists():
            counts[task] = json.loads(file.read_text())
    return counts


def training_frame(complaints: Sequence[Complaint], splits: Splits) -> pd.DataFrame:
    """A row per complaint and side of the split it is on (a complaint no task labels: no side)."""
    rows: dict[tuple[str, str | None], dict] = {}
    for task, sides in splits.items():
        for side, examples in zip((TRAIN, EVALUATION), sides):
            for complaint, y in examples:
                rows.setdefault((complaint.complaint_id, side), _row(complaint, side))[label(task)] = y
    placed = {complaint_id for complaint_id, _ in rows}
    for complaint in complaints:
        if complaint.complaint_id not in placed:
            rows[(complaint.complaint_id, None)] = _row(complaint, None)
    frame = pd.DataFrame(list(rows.values()), columns=[COMPLAINT_ID, NARRATIVE, SPLIT, PRODUCT, ISSUE,
                                                       *map(label, splits)])
    training = frame[SPLIT] == TRAIN
    for task in splits:
        sizes = frame.loc[training, label(task)].value_counts()
        frame[class_size(task)] = frame[label(task)].map(sizes).where(training)
    return frame


def _row(complaint: Complaint, side: str | None) -> dict:
    return {COMPLAINT_ID: complaint.complaint_id, NARRATIVE: fingerprint(complaint.narrative), SPLIT: side,
            PRODUCT: complaint.get(PRODUCT) or None, ISSUE: complaint.get(ISSUE) or None}


def training_suite(deployment: Deployment, tasks: list[str], champions: dict[str, dict[str, int]]
                   ) -> gx.ExpectationSuite:
    expect, taxonomy = gx.expectations, deployment.taxonomy
    expectations = [
        ExpectColumnPairValuesAToDetermineB(column_A=COMPLAINT_ID, column_B=SPLIT, description=(
            "leakage: no complaint id on both sides of the train/evaluation split")),
        ExpectColumnPairValuesAToDetermineB(column_A=NARRATIVE, column_B=SPLIT, description=(
            "leakage: no narrative (case and whitespace normalised) on both sides of the train/evaluation split")),
        ExpectColumnValuesToNotRepeat(column=NARRATIVE, mostly=1 - MAX_DUPLICATE_NARRATIVE_SHARE, description=(
            f"duplicate narratives: at most {MAX_DUPLICATE_NARRATIVE_SHARE:.0%} of rows repeat an earlier narrative")),
        expect.ExpectColumnValuesToBeInSet(column=PRODUCT, value_set=sorted(taxonomy.products), description=(
            f"taxonomy coverage: taxonomy {taxonomy.version} maps every product (else its rows get no team label)")),
        expect.ExpectColumnValuesToBeInSet(column=ISSUE, value_set=sorted(taxonomy.issues), description=(
            f"taxonomy coverage: taxonomy {taxonomy.version} maps every issue (else its rows get no issue label)")),
    ]
    for name in tasks:
        task = deployment.task(name)
        severity = CRITICAL if task.binary else "warning"  # a flag task cannot do without a class
        labels = task.classes(taxonomy)
        if labels is not None:
            expectations += [
                expect.ExpectColumnValuesToBeInSet(column=label(name), value_set=sorted(labels), description=(
                    f"{name}: every label (analysts' corrections included) is a class of the taxonomy")),
                expect.ExpectColumnDistinctValuesToContainSet(
                    column=label(name), value_set=sorted(labels), row_condition=Column(SPLIT) == TRAIN,
                    severity=severity, description=f"taxonomy coverage: every {name} class has training examples"),
            ]
        expectations.append(expect.ExpectColumnValuesToBeBetween(
            column=class_size(name), min_value=MIN_EXAMPLES_PER_CLASS, severity=severity, description=(
                f"{name}: at least {MIN_EXAMPLES_PER_CLASS} training examples per class")))
        if name in champions:
            expectations.append(expect.ExpectColumnKLDivergenceToBeLessThan(
                column=label(name), partition_object=_partition(champions[name]), threshold=MAX_LABEL_DRIFT,
                tail_weight_holdout=UNSEEN_CLASS_WEIGHT, row_condition=_trained_rows(name), description=(
                    f"{name}: label distribution within KL {MAX_LABEL_DRIFT} of the champion's training set")))
    return gx.ExpectationSuite(SUITE, expectations=expectations)


def _trained_rows(task: str):
    """The rows ``task``'s model is fitted on: training rows of classes with enough examples."""
    return (Column(SPLIT) == TRAIN) & (Column(class_size(task)) >= MIN_EXAMPLES_PER_CLASS)


def _partition(counts: dict[str, int]) -> dict[str, list]:
    total = sum(counts.values())
    labels = sorted(counts)
    return {"values": labels, "weights": [counts[label] / total for label in labels]}
