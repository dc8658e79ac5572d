"""Analysts' corrections: the feedback loop that turns reallocations into training data.

A correction is stored once per idempotency key, so a client's resend never stores it twice. A client that
retries sends its own key (``complaints reallocate --idempotency-key``, the ops app's request id): a resend
under it is recognised whatever happened since, and another correction under it is refused and kept (see
``complaints.store.base``). Without one, the key derives from the request and the correction it replaces:
a resend is then a no-op while the correction it repeats still stands, two concurrent sends make one write,
and an analyst can still set a label back after changing it (A, B, A are three corrections). Only a
client's key tells a resend that arrives after a newer correction of the same task from a new correction.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from complaints.deployment import Deployment
from complaints.records import AuditEvent, Feedback, as_dict, utc_now


@dataclass(frozen=True)
class Correction:
    feedback: Feedback  # as stored: on a replay, the first one
    already_stored: bool  # a replay: nothing was written


def _digest(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:32]


def reallocate(deployment: Deployment, complaint_id: str, task: str, label: str, analyst: str,
               idempotency_key: str | None = None) -> Correction:
    store = deployment.store
    allocation = store.get_allocation(complaint_id)
    if allocation is None:
        raise ValueError("the complaint has no allocation to correct")
    allowed = deployment.task(task).classes(deployment.taxonomy)
    if not label.strip() or (allowed is not None and label not in allowed):
        raise ValueError(f"the label is not a valid {task} label" + (f"; one of {sorted(allowed)}" if allowed else ""))
    if idempotency_key is not None and not idempotency_key.strip():
        raise ValueError("an idempotency key cannot be blank")
    standing = next((f for f in reversed(store.list_feedback(complaint_id)) if f.task == task), None)
    if idempotency_key is None:
        if standing is not None and (standing.label, standing.analyst) == (label, analyst):
            return _audited(deployment, Correction(standing, already_stored=True))
        idempotency_key = "derived-" + _digest(complaint_id, task, label, analyst,
                                               standing.idempotency_key if standing else "")
    previous = standing.label if standing else allocation.predictions[task].label
    feedback = Feedback(complaint_id=complaint_id, task=task, label=label, previous_label=previous, analyst=analyst,
                        idempotency_key=idempotency_key)
    if store.add_feedback(feedback):
        return _audited(deployment, Correction(feedback, already_stored=False))
    stored = next(f for f in store.list_feedback(complaint_id) if f.idempotency_key == idempotency_key)
    return _audited(deployment, Correction(stored, already_stored=True))


def _audited(deployment: Deployment, correction: Correction) -> Correction:
    """Record the correction in the audit log under an id derived from its key: a replay finds its event (and
    writes it, where the first attempt stopped between the two writes)."""
    feedback = correction.feedback
    deployment.store.append_audit(AuditEvent(f"reallocate-{_digest(feedback.complaint_id, feedback.idempotency_key)}",
                                             utc_now(), feedback.analyst, "reallocate", feedback.complaint_id,
                                             as_dict(feedback)))
    return correction
