"""Analysts' corrections: the feedback loop that turns reallocations into training data."""

from __future__ import annotations

import uuid

from complaints.deployment import Deployment
from complaints.records import AuditEvent, Feedback, as_dict, utc_now


def reallocate(deployment: Deployment, complaint_id: str, task: str, label: str, analyst: str) -> Feedback:
    allocation = deployment.store.get_allocation(complaint_id)
    if allocation is None:
        raise ValueError(f"complaint {complaint_id!r} has no allocation to correct")
    allowed = deployment.task(task).classes(deployment.taxonomy)
    if not label.strip() or (allowed is not None and label not in allowed):
        raise ValueError(f"{label!r} is not a valid {task} label" + (f"; one of {sorted(allowed)}" if allowed else ""))
    earlier = deployment.store.list_feedback(complaint_id)
    previous = next((f.label for f in reversed(earlier) if f.task == task), allocation.predictions[task].label)
    feedback = Feedback(complaint_id=complaint_id, task=task, label=label, previous_label=previous, analyst=analyst)
    deployment.store.add_feedback(feedback)
    deployment.store.append_audit(AuditEvent(uuid.uuid4().hex, utc_now(), analyst, "reallocate", complaint_id,
                                             as_dict(feedback)))
    return feedback
