"""Where a complaint goes, given every task's prediction: the ops team's queues do not change.

Precedence, safest first: a vulnerable-customer flag that could not be computed sends the complaint to
manual triage; a raised flag sends it to the specialist queue; any other failed or low-confidence
prediction sends it to manual triage; otherwise it lands in the predicted team's queue. "Low confidence"
is under the threshold the prediction records (``complaints.thresholds``), else the task's.

A raised flag never waits on the other tasks: the specialist queue takes the complaint at once, and any task
the models are unsure of (or failed on) is marked for the specialists to name, a reason that starts with
``TO_NAME``. Their answer on it is not the models', so it is never counted as the models' accuracy, and the
specialists read the complaint in full anyway. Under ``deferral: task`` (config/operations.yaml) an annotating
task's low confidence does not hold any complaint back: it lands in its team's queue with the task so marked.

A post-deploy smoke test's complaint (tools/smoke.py) is stored and routed as any, then held in the reserved
``SMOKE_TEST_QUEUE``, which is none of the ops team's (``complaints.access.queues``): no role lists, counts,
reads or corrects it, so nothing a smoke test makes reaches an analyst or training data.
"""

from __future__ import annotations

from complaints.customer_record import CUSTOMER_RECORD
from complaints.records import ALLOCATED, MANUAL_TRIAGE, NEEDS_TRIAGE, TaskPrediction
from complaints.schema import POSITIVE
from complaints.tasks import TaskSpec
from complaints.thresholds import served_threshold


TO_NAME = "for the team to name"
SMOKE_TEST_QUEUE = "Smoke test"
SMOKE_TEST = "smoke-"  # how tools/smoke.py starts its complaint ids, and its batch keys in the inbox
SMOKE_TEST_INBOX = f"inbox/{SMOKE_TEST}"  # the one inbox prefix the apply role may write (infra/bootstrap)

Routed = tuple[str, str, list[str]]  # queue, status, reasons


def route(tasks: list[TaskSpec], predictions: dict[str, TaskPrediction], deferral: str = "complaint"
          ) -> Routed:
    """(queue, status, reasons) for one complaint; an allocated complaint's ``TO_NAME`` reasons are what the
    people of its queue must name."""
    flags = [task for task in tasks if task.role == "flag"]
    failed_flags = [f"{t.name} model failed: {predictions[t.name].error}" for t in flags if predictions[t.name].error]
    if failed_flags:
        return MANUAL_TRIAGE, NEEDS_TRIAGE, failed_flags
    raised = [t for t in flags if predictions[t.name].label == POSITIVE]
    doubts = [(task, doubt) for task in tasks if task.role != "flag" and (doubt := _doubt(task, predictions[task.name]))]
    if raised:
        flagged = [f"{t.name} flagged by the customer record" if predictions[t.name].served_by == CUSTOMER_RECORD
                   else f"{t.name} flagged (score {predictions[t.name].score:.2f})" for t in raised]
        return raised[0].queue, ALLOCATED, flagged + [f"{TO_NAME}: {doubt}" for _, doubt in doubts]
    reasons, to_name = [], []
    for task, doubt in doubts:
        named_later = deferral == "task" and task.role == "annotate" and not predictions[task.name].error
        (to_name if named_later else reasons).append(doubt)
    if reasons:
        return MANUAL_TRIAGE, NEEDS_TRIAGE, reasons + to_name
    team = next(task for task in tasks if task.role == "queue")
    return predictions[team.name].label, ALLOCATED, [f"{TO_NAME}: {reason}" for reason in to_name]


def _doubt(task: TaskSpec, prediction: TaskPrediction) -> str:
    """Why people must decide a classifier ``task`` (its model failed, or is under its threshold), or "" when the
    models can."""
    if prediction.error:
        return f"{task.name} model failed: {prediction.error}"
    if prediction.score < (threshold := served_threshold(prediction.threshold, configured=task.threshold)):
        return f"{task.name} confidence {prediction.score:.2f} under threshold {threshold:.2f}"
    return ""


def left_to_name(reasons: list[str]) -> set[str]:
    """The tasks an allocated complaint's reasons leave for the team to name (``route`` writes them so)."""
    return {reason.removeprefix(f"{TO_NAME}: ").split(" ", 1)[0] for reason in reasons if reason.startswith(TO_NAME)}


def is_smoke_test(source: str, complaint_id: str) -> bool:
    """A smoke test's complaint: its batch is an object under ``SMOKE_TEST_INBOX`` and its id is a smoke test's.
    Both, so that neither a real file named so nor a real id so named hides a real complaint from the ops team."""
    _, _, key = source.removeprefix("s3://").partition("/")
    return source.startswith("s3://") and key.startswith(SMOKE_TEST_INBOX) and complaint_id.startswith(SMOKE_TEST)


def smoke_tests_aside(source: str, complaint_id: str, routed: Routed) -> Routed:
    """A smoke test's complaint in ``SMOKE_TEST_QUEUE`` with its status, its reasons led by the queue the models
    chose, so the smoke test still proves the routing; any other complaint as routed."""
    if not is_smoke_test(source, complaint_id):
        return routed
    queue, status, reasons = routed
    return SMOKE_TEST_QUEUE, status, [f"smoke test: held out of the ops team's queues, routed to {queue}", *reasons]
