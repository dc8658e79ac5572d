"""Where a complaint goes, given every task's prediction: the ops team's queues do not change.

Precedence, safest first: a vulnerable-customer flag that could not be computed sends the complaint to
manual triage; a raised flag sends it to the specialist queue; any other failed or low-confidence
prediction sends it to manual triage; otherwise it lands in the predicted team's queue. "Low confidence"
is under the threshold the prediction records (``complaints.thresholds``), else the task's.
"""

from __future__ import annotations

from complaints.records import ALLOCATED, MANUAL_TRIAGE, NEEDS_TRIAGE, TaskPrediction
from complaints.schema import POSITIVE
from complaints.tasks import TaskSpec
from complaints.thresholds import served_threshold


def route(tasks: list[TaskSpec], predictions: dict[str, TaskPrediction]) -> tuple[str, str, list[str]]:
    """(queue, status, reasons) for one complaint."""
    flags = [task for task in tasks if task.role == "flag"]
    failed_flags = [f"{t.name} model failed: {predictions[t.name].error}" for t in flags if predictions[t.name].error]
    if failed_flags:
        return MANUAL_TRIAGE, NEEDS_TRIAGE, failed_flags
    raised = [t for t in flags if predictions[t.name].label == POSITIVE]
    if raised:
        return raised[0].queue, ALLOCATED, [f"{t.name} flagged (score {predictions[t.name].score:.2f})" for t in raised]
    reasons = []
    for task in tasks:
        prediction = predictions[task.name]
        if prediction.error:
            reasons.append(f"{task.name} model failed: {prediction.error}")
        elif task.role != "flag" and prediction.score < (threshold := served_threshold(prediction.threshold,
                                                                                      configured=task.threshold)):
            reasons.append(f"{task.name} confidence {prediction.score:.2f} under threshold {threshold:.2f}")
    if reasons:
        return MANUAL_TRIAGE, NEEDS_TRIAGE, reasons
    team = next(task for task in tasks if task.role == "queue")
    return predictions[team.name].label, ALLOCATED, []

