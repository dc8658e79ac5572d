"""The task registry: which predictions the pipeline makes, declared in config, not code.

A task names where its label comes from, which model kind learns it, what its prediction does to the
routing (``role``), the confidence under which a person must look (``threshold``), the least the system
must reach on it for the gate to admit a version (``minimum``) and, optionally, the task its classes depend
on (``within``: issues are product-specific) and its model kind's settings (``options``). Adding a task is an
edit to ``config/tasks.yaml``; the pipeline, training, feedback, evaluation and the data checks iterate over
whatever is there and ask the task, never the label source, what its classes are.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from complaints.predictors import KINDS
from complaints.schema import ISSUE, NEGATIVE, POSITIVE, PRODUCT, SUB_ISSUE, SUB_PRODUCT, TAGS, Complaint
from complaints.taxonomy import Taxonomy

ROLES = ("queue", "annotate", "flag")
TAXONOMY_LABELS = ("taxonomy.team", "taxonomy.issue", "taxonomy.vulnerable")


class TaskConfigError(ValueError):
    """The task configuration cannot be used; the message says which task and why."""


@dataclass(frozen=True)
class TaskSpec:
    name: str
    label: str  # "taxonomy.team" | "taxonomy.issue" | "taxonomy.vulnerable" | "column:<CFPB column>"
    model: str  # model kind that `complaints train` fits for this task
    role: str  # queue: the label is the team queue; flag: "yes" sends to `queue`; annotate: recorded
    threshold: float | None = None  # queue/annotate: confidence under it -> manual triage
    queue: str | None = None  # flag: the specialist queue
    target: dict[str, float] | None = None  # business target, e.g. {"accuracy": 0.80} or {"recall": 0.60}
    minimum: dict[str, float] | None = None  # the gate's floor for the served system, e.g. {"accuracy": 0.75}
    within: str | None = None  # the task whose label this one's classes depend on (issue within team)
    options: dict | None = None  # the model kind's settings for this task, over the training run's (model/train.py)

    @property
    def binary(self) -> bool:
        return self.role == "flag"

    def classes(self, taxonomy: Taxonomy) -> tuple[str, ...] | None:
        """The labels this task can take, or None when any non-empty value goes (a ``column:`` task)."""
        if self.label == "taxonomy.team":
            return taxonomy.teams
        if self.label == "taxonomy.issue":
            return taxonomy.canonical_issues
        if self.label == "taxonomy.vulnerable":
            return (NEGATIVE, POSITIVE)
        return None

    def label_of(self, complaint: Complaint, taxonomy: Taxonomy) -> str | None:
        """The true label of a complaint for this task, or None when the data does not say."""
        if self.label == "taxonomy.team":
            return taxonomy.team(complaint.get(PRODUCT), complaint.get(SUB_PRODUCT)) if complaint.get(PRODUCT) else None
        if self.label == "taxonomy.issue":
            return taxonomy.issue(complaint.get(ISSUE), complaint.get(SUB_ISSUE)) if complaint.get(ISSUE) else None
        if self.label == "taxonomy.vulnerable":
            return POSITIVE if taxonomy.is_vulnerable(complaint.get(TAGS)) else NEGATIVE
        return complaint.get(self.label.removeprefix("column:")) or None


def _parse(name: str, entry: dict) -> TaskSpec:
    def fail(why: str) -> TaskConfigError:
        return TaskConfigError(f"task {name!r}: {why}")

    unknown = set(entry) - {"label", "model", "role", "threshold", "queue", "target", "minimum", "within", "options"}
    if unknown:
        raise fail(f"unknown keys {sorted(unknown)}")
    for key in ("label", "model", "role"):
        if key not in entry:
            raise fail(f"missing {key!r}")
    spec = TaskSpec(name=name, **entry)
    if spec.options is not None and not isinstance(spec.options, dict):
        raise fail(f"options is a mapping of the model kind's settings, not {spec.options!r}")
    if spec.model not in KINDS:
        raise fail(f"model must be one of the model kinds {sorted(KINDS)}, not {spec.model!r}")
    if spec.role not in ROLES:
        raise fail(f"role must be one of {ROLES}, not {spec.role!r}")
    if spec.label not in TAXONOMY_LABELS and not spec.label.startswith("column:"):
        raise fail(f"label must be one of {TAXONOMY_LABELS} or 'column:<CFPB column>', not {spec.label!r}")
    if spec.role == "flag":
        if spec.label != "taxonomy.vulnerable" or not spec.queue or spec.threshold is not None:
            raise fail("a flag task labels taxonomy.vulnerable, names its queue, and takes its decision "
                       "threshold from the model (tuned at training), not from config")
    elif spec.threshold is None or not 0.0 <= spec.threshold <= 1.0:
        raise fail("needs a threshold between 0 and 1 (confidence under it goes to manual triage)")
    metric = "recall" if spec.binary else "accuracy"
    if spec.minimum is not None and (set(spec.minimum) != {metric} or not 0.0 <= spec.minimum[metric] <= 1.0
                                     or not spec.target):
        raise fail(f"minimum is {{{metric}: a rate between 0 and 1}} (the task's system metric, which needs its "
                   f"target: the team's rate on what the models leave), not {spec.minimum!r}")
    return spec


def load_tasks(path: Path) -> list[TaskSpec]:
    doc = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    tasks = [_parse(name, entry or {}) for name, entry in (doc.get("tasks") or {}).items()]
    if sum(task.role == "queue" for task in tasks) != 1:
        raise TaskConfigError(f"{path}: exactly one task must have role 'queue' (it names the team queue)")
    multi_class = {task.name for task in tasks if not task.binary}
    for task in tasks:
        if task.within is not None and (task.within not in multi_class or task.within == task.name or task.binary):
            raise TaskConfigError(f"task {task.name!r}: within {task.within!r} must name another multi-class task "
                                  f"(one of {sorted(multi_class - {task.name})}), and only a multi-class task has one")
    return tasks
