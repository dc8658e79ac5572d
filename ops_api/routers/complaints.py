"""A complaint as the user may see it, and its reassignment: a correction that becomes training data."""

from typing import Annotated

from fastapi import APIRouter, Header, Response

from complaints import access
from complaints.audit import NotAllocatedError
from complaints.feedback import reallocate, stored_key
from complaints.queues import placed, queue_counts, slug
from ops_api.dependencies import COMPLAINT_ID, UNKNOWN_OR_NOT_YOURS, Served, ServedMetrics, User, readable
from ops_api.errors import ERRORS
from ops_api.schemas import (
    AllocationView, ComplaintDetail, ErrorResponse, ExplanationRef, QueueRef, Reassignment, ReassignmentResult,
)
from ops_api.views import correction, predictions

router = APIRouter(tags=["complaints"], responses=ERRORS)


@router.get("/complaints/{complaint_id}", response_model=ComplaintDetail,
            summary="A complaint: redacted narrative, allocation, each task's version and score, corrections")
def complaint(user: User, deployment: Served, complaint_id: Annotated[str, COMPLAINT_ID]) -> ComplaintDetail:
    where = readable(deployment, user, complaint_id)
    stored = deployment.store.get_complaint(complaint_id)
    if stored is None:
        raise NotAllocatedError(UNKNOWN_OR_NOT_YOURS)
    allocation = where.allocation
    return ComplaintDetail(
        complaint_id=complaint_id, date_received=stored.date_received, narrative=stored.narrative,
        attributes=stored.attributes, queue=where.queue,
        allocation=AllocationView(queue=allocation.queue, status=allocation.status, reasons=allocation.reasons,
                                  allocated_at=allocation.allocated_at, batch_id=allocation.batch_id,
                                  taxonomy_version=allocation.taxonomy_version,
                                  predictions=predictions(allocation.predictions)),
        revision=where.revision, corrections=[correction(c) for c in where.corrections],
        explanations=[ExplanationRef(task=e.task, version=e.version, requested_at=e.requested_at)
                      for e in deployment.store.list_explanations(complaint_id)])


@router.post("/complaints/{complaint_id}/reassignments", response_model=ReassignmentResult, status_code=201,
             responses={200: {"model": ReassignmentResult, "description": "a resend: nothing stored again"},
                        409: {"model": ErrorResponse, "description": "the complaint was corrected since "
                                                                    "`expected_revision`, or the idempotency key holds "
                                                                    "another request: nothing stored"},
                        429: {"model": ErrorResponse, "description": "the user made the day's corrections "
                                                                    "(Retry-After)"}},
             summary="Correct a task's label (team, issue, vulnerable flag): it becomes training data, attributed to "
                     "the user, and may move the complaint")
def reassign(user: User, deployment: Served, metrics: ServedMetrics, complaint_id: Annotated[str, COMPLAINT_ID],
             body: Reassignment, response: Response,
             idempotency_key: Annotated[str | None, Header(
                 alias="Idempotency-Key", min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$",
                 description="the request's own key, scoped to the user and the complaint: a resend under it stores "
                             "nothing; another request under it is refused (409)")] = None
             ) -> ReassignmentResult:
    where = placed(deployment, complaint_id)
    key = stored_key(user.name, idempotency_key) if idempotency_key else None
    resent = where is not None and any(c.idempotency_key == key for c in where.corrections)
    if not resent:  # the user's own resend is answered even after its correction moved the complaint away
        where = readable(deployment, user, complaint_id)
        access.check_reassign(user, where.queue, deployment.tasks, deployment.taxonomy)
    deployment.task(body.task)  # an unknown task: 404 naming the configured ones
    made = reallocate(deployment, complaint_id, body.task, body.label, user.name, idempotency_key,
                      body.expected_revision)
    now = placed(deployment, complaint_id)
    if made.already_stored:
        response.status_code = 200
    elif metrics is not None:
        metrics.correction(now.allocation, made.feedback)
    # A new correction's queue follows from what the user read and chose; a resend's may since have moved where
    # the user may not look, and is then not named.
    shown = not resent or access.may_read(user, now.queue, deployment.tasks, deployment.taxonomy)
    return ReassignmentResult(correction=correction(made.feedback), already_stored=made.already_stored,
                              queue=QueueRef(id=slug(now.queue), name=now.queue,
                                             count=queue_counts(deployment, [now.queue])[now.queue]) if shown else None)
