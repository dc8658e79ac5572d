"""The serving models' health, for triage leads and auditors: live accuracy from corrections, drift, emerging issues
and a verdict, as ``complaints.monitoring`` judges them from the store."""

from typing import Annotated

from fastapi import APIRouter, Query

from complaints import access, monitoring
from ops_api.dependencies import Served, User
from ops_api.errors import ERRORS
from ops_api.schemas import ModelHealth

router = APIRouter(tags=["monitoring"], responses=ERRORS)
# A quarter: the verdict compares the latest week with the ones before, and each call reads every complaint
# allocated in the window (a day at peak is some 15,000).
MONITORING_DAYS = 90


@router.get("/monitoring", response_model=ModelHealth,
            summary="The serving models' health over the last `since_days` (up to 90): weekly live accuracy from "
                    "corrections with 95% intervals, manual triage and specialist shares, drift, emerging issues, "
                    "a verdict")
def model_health(user: User, deployment: Served,
                 since_days: Annotated[int, Query(ge=1, le=MONITORING_DAYS)] = 28) -> ModelHealth:
    access.check_oversight(user)
    return ModelHealth(**monitoring.model_health(deployment, since_days))
