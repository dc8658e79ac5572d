"""Oversight: a complaint's audit chain and the last day's summary, for triage leads and auditors."""

from typing import Annotated, Any

from fastapi import APIRouter, Query

from complaints import access
from complaints.audit import audit_chain
from complaints.queues import last_day
from ops_api.dependencies import COMPLAINT_ID, Served, User, readable
from ops_api.errors import ERRORS
from ops_api.schemas import Summary

router = APIRouter(tags=["audit"], responses=ERRORS)
SUMMARY_HOURS = 24 * 7  # the summary reads every complaint of its window: a week of a busy month is some 100,000


@router.get("/complaints/{complaint_id}/audit", response_model=dict[str, Any],
            summary="The audit chain: versions, model cards, gate decisions, releases, corrections")
def audit(user: User, deployment: Served, complaint_id: Annotated[str, COMPLAINT_ID]) -> dict[str, Any]:
    access.check_oversight(user)
    readable(deployment, user, complaint_id)  # a smoke test's complaint answers as one that does not exist
    return audit_chain(deployment, complaint_id)


@router.get("/summary", response_model=Summary,
            summary="The last day (or `hours`, up to a week): volumes per queue, manual triage share, corrections")
def summary(user: User, deployment: Served, hours: Annotated[int, Query(ge=1, le=SUMMARY_HOURS)] = 24) -> Summary:
    access.check_oversight(user)
    return Summary(**last_day(deployment, hours))
