"""The models' work as CloudWatch metrics, for the alarms that call the triage lead and the ML owner
(infra/modules/alarms): each triaged batch's volumes and shares, and each correction of a model's answer.

Each figure is one line of CloudWatch's embedded metric format (EMF) on stdout: Lambda sends stdout to the
function's log group and CloudWatch Logs turns the line into metrics, so no client, agent or permission is needed
beyond the log group's. The format is AWS's documented JSON, written here by hand
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html):
a root ``_aws`` member holds the timestamp in milliseconds and the metric directives (namespace, dimension sets,
each metric's name and unit), and every dimension and metric named there is a member of the root with its value.

A figure is a count or a share under ``Complaints/<environment>``, by environment and, for corrections, task:
never a complaint, a user, a label or a text.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass

from complaints.access import specialist_queues
from complaints.customer_record import CUSTOMER_RECORD
from complaints.records import ALLOCATED, MANUAL_TRIAGE, Allocation, Feedback
from complaints.routing import SMOKE_TEST_QUEUE, left_to_name
from complaints.tasks import TaskSpec

COUNT, RATIO = "Count", "None"  # CloudWatch's units: a share is a plain number
Figures = dict[str, tuple[float, str]]  # metric name -> (value, unit)


def namespace(environment: str) -> str:
    """Where an environment's figures go; infra/modules/alarms reads the same."""
    return f"Complaints/{environment}"


def batch_figures(by_queue: Mapping[str, int], tasks: list[TaskSpec]) -> Figures:
    """A triaged batch's figures, from the queues its complaints went to: the complaints, those the models
    allocated, those sent to manual triage and to the specialist queues, and both shares. A smoke test's
    complaints, held in their own queue, are no one's work and count nowhere; a batch of none has no figures."""
    complaints = sum(count for queue, count in by_queue.items() if queue != SMOKE_TEST_QUEUE)
    if not complaints:
        return {}
    manual = by_queue.get(MANUAL_TRIAGE, 0)
    specialist = sum(by_queue.get(queue, 0) for queue in specialist_queues(tasks))
    return {"Complaints": (complaints, COUNT), "Allocated": (complaints - manual, COUNT),
            "ManualTriage": (manual, COUNT), "SpecialistQueue": (specialist, COUNT),
            "ManualTriageShare": (round(manual / complaints, 4), RATIO),
            "SpecialistShare": (round(specialist / complaints, 4), RATIO)}


def corrects_the_models(allocation: Allocation, correction: Feedback) -> bool:
    """Whether ``correction`` first marks wrong an answer the models acted on, as the model health counts them
    (complaints/monitoring.py): the complaint was allocated, the task's answer neither failed nor was left for the
    team to name nor was the customer record's flag, and the correction moves the label away from the models'.
    In manual triage people do the triage, and their reassignment is that work, not the models' error."""
    prediction = allocation.predictions.get(correction.task)
    return (allocation.status == ALLOCATED and prediction is not None and not prediction.error
            and prediction.served_by != CUSTOMER_RECORD and correction.task not in left_to_name(allocation.reasons)
            and correction.previous_label == prediction.label != correction.label)


def emf_line(environment: str, figures: Figures, at_ms: int, **dimensions: str) -> str:
    """One EMF document: ``figures`` under the environment's namespace, with ``Environment`` and ``dimensions``
    as its one dimension set."""
    names = {"Environment": environment, **dimensions}
    directive = {"Namespace": namespace(environment), "Dimensions": [list(names)],
                 "Metrics": [{"Name": name, "Unit": unit} for name, (_, unit) in figures.items()]}
    return json.dumps({"_aws": {"Timestamp": at_ms, "CloudWatchMetrics": [directive]}, **names,
                       **{name: value for name, (value, _) in figures.items()}}, separators=(",", ":"))


@dataclass(frozen=True)
class EmbeddedMetrics:
    """Writes an environment's figures as EMF lines on stdout (the one Lambda captures)."""

    environment: str

    def batch(self, by_queue: Mapping[str, int], tasks: list[TaskSpec]) -> None:
        self._put(batch_figures(by_queue, tasks))

    def correction(self, allocation: Allocation, correction: Feedback) -> None:
        """Count a new correction (never a resend's) where it corrects the models, by task."""
        if corrects_the_models(allocation, correction):
            self._put({"Corrections": (1, COUNT)}, Task=correction.task)

    def _put(self, figures: Figures, **dimensions: str) -> None:
        if figures:
            print(emf_line(self.environment, figures, round(time.time() * 1000), **dimensions), flush=True)
