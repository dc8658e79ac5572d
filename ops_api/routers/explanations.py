"""Why a task labelled a complaint as it did: computed once, by the version that decided, then kept."""

import threading
from typing import Annotated, Any

from fastapi import APIRouter, Response
from fastapi.responses import HTMLResponse

from complaints.access import Principal
from complaints.deployment import Deployment
from complaints.explanations import Compute, explanation, stored_explanation
from complaints.records import Explanation
from ops_api.dependencies import COMPLAINT_ID, TASK, Explainer, Served, ServedExplainer, User, readable
from ops_api.errors import ERRORS, ExplanationsBusy, ExplanationsUnavailable
from ops_api.schemas import ErrorResponse, ExplanationView
from ops_api.views import explanation_view

# SHAP takes seconds of CPU a call: at most this many at once, so that explanations cannot starve the calls the
# ops team works with; a request that finds no free slot within WAIT_FOR_A_SLOT_S is answered 503, Retry-After.
EXPLAINED_AT_ONCE = 2
WAIT_FOR_A_SLOT_S = 10
_COMPUTING = threading.BoundedSemaphore(EXPLAINED_AT_ONCE)
_KEY_LOCKS = [threading.Lock() for _ in range(64)]  # striped by (complaint, task): bounded, however many are asked

router = APIRouter(tags=["explanations"], responses={
    **ERRORS, 409: {"model": ErrorResponse, "description": "the task's model failed on this complaint"}})
COMPUTED_HERE = {503: {"model": ErrorResponse, "description": "this deployment computes no explanations (AWS: "
                                                              "`complaints --env ENV explain` does), or every slot "
                                                              "for computing them stayed taken: retry after Retry-After"}}


@router.post("/complaints/{complaint_id}/explanations/{task}", response_model=ExplanationView, status_code=201,
             responses={**COMPUTED_HERE, 200: {"model": ExplanationView, "description": "explained before: the kept one"}},
             summary="Explain the task's label with the model version that decided it (computed once, then kept)")
def request_explanation(user: User, deployment: Served, explainer: ServedExplainer,
                        complaint_id: Annotated[str, COMPLAINT_ID], task: Annotated[str, TASK],
                        response: Response) -> ExplanationView:
    readable(deployment, user, complaint_id)
    with _KEY_LOCKS[hash((complaint_id, task)) % len(_KEY_LOCKS)]:  # the same one asked twice: computed once
        made, computed = explanation(deployment, complaint_id, task, user.name, _computer(explainer))
    if not computed:
        response.status_code = 200
    return explanation_view(made)


@router.get("/complaints/{complaint_id}/explanations/{task}", response_model=ExplanationView,
            summary="The kept explanation of the task's label (404 until requested)")
def read_explanation(user: User, deployment: Served, complaint_id: Annotated[str, COMPLAINT_ID],
                     task: Annotated[str, TASK]) -> ExplanationView:
    return explanation_view(_kept(deployment, user, complaint_id, task))


@router.get("/complaints/{complaint_id}/explanations/{task}/html", response_class=HTMLResponse,
            responses=COMPUTED_HERE, summary="The kept explanation rendered: label, top words for and against")
def explanation_html(user: User, deployment: Served, explainer: ServedExplainer,
                     complaint_id: Annotated[str, COMPLAINT_ID], task: Annotated[str, TASK]) -> HTMLResponse:
    kept = _kept(deployment, user, complaint_id, task)
    if explainer is None:
        raise ExplanationsUnavailable("this deployment renders no explanations; read the JSON")
    return HTMLResponse(explainer.render_html(kept.payload))


def _computer(explainer: Explainer | None) -> Compute:
    def compute(predictor, text: str) -> dict[str, Any]:
        if explainer is None:
            raise ExplanationsUnavailable("this deployment computes no explanations (no SHAP in its image): "
                                          "`complaints --env ENV explain COMPLAINT_ID` computes and keeps one")
        if not _COMPUTING.acquire(timeout=WAIT_FOR_A_SLOT_S):
            raise ExplanationsBusy(f"{EXPLAINED_AT_ONCE} explanations are being computed; retry shortly")
        try:
            return explainer.explain(predictor, text)
        finally:
            _COMPUTING.release()
    return compute


def _kept(deployment: Deployment, user: Principal, complaint_id: str, task: str) -> Explanation:
    readable(deployment, user, complaint_id)
    kept = stored_explanation(deployment, complaint_id, task)
    if kept is None:
        raise KeyError("no explanation of this task for the complaint yet: POST to request one")
    return kept
