"""Analysts' corrections: the feedback loop that turns reallocations into training data.

A correction moves its complaint and is stored in one write, conditional on the complaint's revision (how many
corrections it has had): two analysts who read the same revision cannot both build on it, so every correction's
``previous_label`` is the label that truly stood before it. A client that passes the revision it read
(``expected_revision``: the ops app does) is refused when the complaint changed since, instead of overwriting a
colleague's correction it never saw.

A correction is stored once per idempotency key, so a client's resend never stores it twice. A client that
retries sends its own key (``complaints reallocate --idempotency-key``, the ops app's request id): a resend
under it is recognised whatever happened since, and another correction of the complaint under it is refused and
kept (see ``complaints.store.base``). A key is scoped to its complaint, which a resend names again. A client's key is stored bound to its user (a hash of both), so no user can take
another's key first; without one, the key derives from the request and the revision it builds on, so a
resend of the same request is recognised and A, B, A are three corrections.

Each user may make ``corrections_per_analyst_per_day`` corrections in any 24 hours (config/operations.yaml):
corrections are training data and the gate's evaluation set, and one account may not rewrite them wholesale.
A smoke test's complaint takes none: it is no customer's, so it never becomes training data.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from complaints.deployment import Deployment
from complaints.queues import current_queue
from complaints.records import AuditEvent, Feedback, as_dict, utc_now
from complaints.routing import SMOKE_TEST_QUEUE
from complaints.store import StaleWriteError


class CorrectionQuotaExceeded(RuntimeError):
    """The user made the day's allowed corrections; the next is accepted once older ones are 24 hours old."""


@dataclass(frozen=True)
class Correction:
    feedback: Feedback  # as stored: on a replay, the first one
    already_stored: bool  # a replay: nothing was written


def _digest(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:32]


def stored_key(analyst: str, client_key: str) -> str:
    """A client's idempotency key as stored: bound to its user, and never a value the client sent."""
    return "client-" + _digest(analyst, client_key)


def reallocate(deployment: Deployment, complaint_id: str, task: str, label: str, analyst: str,
               idempotency_key: str | None = None, expected_revision: int | None = None) -> Correction:
    store = deployment.store
    placement = store.get_placement(complaint_id)
    if placement is None:
        raise ValueError("the complaint has no allocation to correct")
    if placement.queue == SMOKE_TEST_QUEUE:
        raise ValueError("a smoke test's complaint takes no correction: it would become training data")
    allowed = deployment.task(task).classes(deployment.taxonomy)
    if not label.strip() or (allowed is not None and label not in allowed):
        raise ValueError(f"the label is not a valid {task} label" + (f"; one of {sorted(allowed)}" if allowed else ""))
    if idempotency_key is not None and not idempotency_key.strip():
        raise ValueError("an idempotency key cannot be blank")
    corrections = store.list_feedback(complaint_id)
    standing = next((f for f in reversed(corrections) if f.task == task), None)
    if idempotency_key is not None:
        key = stored_key(analyst, idempotency_key)
    else:
        if expected_revision is None and standing is not None and (standing.label, standing.analyst) == (label, analyst):
            return _audited(deployment, Correction(standing, already_stored=True))
        builds_on = placement.revision if expected_revision is None else expected_revision
        key = "derived-" + _digest(complaint_id, task, label, analyst, str(builds_on))
    replayed = next((f for f in corrections if f.idempotency_key == key), None)
    if replayed is None:  # a replay is answered whatever changed since; a new correction is checked
        if expected_revision is not None and expected_revision != placement.revision:
            raise StaleWriteError("the complaint was corrected since it was read; read it again")
        _within_quota(deployment, analyst)
    feedback = Feedback(complaint_id=complaint_id, task=task, label=label,
                        previous_label=standing.label if standing else placement.allocation.predictions[task].label,
                        analyst=analyst, idempotency_key=key, revision=placement.revision + 1)
    if store.add_correction(feedback, current_queue(deployment, placement.allocation, [*corrections, feedback])):
        return _audited(deployment, Correction(feedback, already_stored=False))
    stored = replayed or next(f for f in store.list_feedback(complaint_id) if f.idempotency_key == key)
    return _audited(deployment, Correction(stored, already_stored=True))


def _within_quota(deployment: Deployment, analyst: str) -> None:
    quota = deployment.operations.corrections_per_analyst_per_day
    since = (datetime.now(timezone.utc) - timedelta(hours=24)).isoformat(timespec="milliseconds")
    if deployment.store.count_corrections(analyst, since) >= quota:
        raise CorrectionQuotaExceeded(f"the day's {quota} corrections are made; more are accepted as the oldest "
                                      f"turn 24 hours old")


def _audited(deployment: Deployment, correction: Correction) -> Correction:
    """Record the correction in the audit log under an id derived from its key: a replay finds its event (and
    writes it, where the first attempt stopped between the two writes)."""
    feedback = correction.feedback
    deployment.store.append_audit(AuditEvent(f"reallocate-{_digest(feedback.complaint_id, feedback.idempotency_key)}",
                                             utc_now(), feedback.analyst, "reallocate", feedback.complaint_id,
                                             as_dict(feedback)))
    return correction
