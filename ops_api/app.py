"""The ops API: one ASGI app over the core, served by uvicorn (``complaints serve``) and by Lambda (Mangum).

A thin edge: every rule lives in the core (``complaints.access`` decides who may do what,
``complaints.queues`` where complaints stand, ``complaints.feedback`` records corrections,
``complaints.explanations`` explains). Who the caller is comes from an ``Identity``: locally an API token in
the ``Authorization`` header, checked against the store; on AWS the JWT that API Gateway's Cognito
authorizer already verified, whose username the store gives a role. Errors share one body,
``{"error": {"code", "message"}}``, and never quote what was sent.
"""

from collections.abc import Callable
from dataclasses import asdict
from typing import Annotated, Any, Literal, Protocol

from fastapi import Depends, FastAPI, Header, Path, Query, Request, Response, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader
from starlette.exceptions import HTTPException

from complaints import access
from complaints.access import AccessDenied, NotAuthenticated, Principal
from complaints.audit import NotAllocatedError, audit_chain
from complaints.deployment import Deployment
from complaints.explanations import Compute, NotExplainable, explanation, stored_explanation
from complaints.feedback import reallocate
from complaints.queues import QueueBoard, Placed, last_day, placed, slug
from complaints.records import Explanation, Feedback, TaskPrediction
from complaints.store import IdempotencyConflict
from ops_api.openapi import openapi_30
from ops_api.schemas import (
    AllocationView, ComplaintDetail, ComplaintItem, Correction, ErrorResponse, ExplanationRef, ExplanationView, Me,
    Prediction, QueuePage, QueueRef, Reassignment, ReassignmentResult, Summary,
)

VERSION = "1.0.0"
Identity = Callable[[Request, str | None], Principal]
COMPLAINT_ID = Path(pattern=r"^[A-Za-z0-9._:-]{1,64}$", description="the complaint's id", examples=["4120785"])
TASK = Path(pattern=r"^[a-z][a-z0-9_]{0,63}$", description="a configured task: team, issue, vulnerable",
            examples=["team"])
API_KEY = APIKeyHeader(name="Authorization", scheme_name="ApiKey", auto_error=False,
                       description="`Bearer <token>`: locally a token from `complaints users add`; on AWS a Cognito "
                                   "access token (API Gateway verifies it)")
ERRORS = {status: {"model": ErrorResponse, "description": why} for status, why in (
    (401, "no valid credentials"), (403, "the user's role does not allow it"), (404, "no such resource"),
    (422, "the request is malformed"))}
class ExplanationsUnavailable(RuntimeError):
    """This deployment computes no explanations (the serving image has no SHAP); kept ones are still served."""


_STATUS = {NotAuthenticated: (401, "not_authenticated"), AccessDenied: (403, "access_denied"),
           NotAllocatedError: (404, "not_found"), KeyError: (404, "not_found"), NotExplainable: (409, "not_explainable"),
           IdempotencyConflict: (409, "conflict"), ValueError: (422, "invalid_request"),
           ExplanationsUnavailable: (503, "explanations_unavailable")}


def token_identity(deployment: Deployment) -> Identity:
    """Local: the API token in ``Authorization`` (``Bearer <token>``)."""
    def identify(request: Request, authorization: str | None) -> Principal:
        return access.authenticate(deployment.store, authorization or "")
    return identify


def jwt_identity(deployment: Deployment) -> Identity:
    """AWS: API Gateway's JWT authorizer verified the Cognito access token before the Lambda ran (no route
    is reachable without it); its ``username`` claim names the user, whose role the store holds."""
    def identify(request: Request, authorization: str | None) -> Principal:
        event = request.scope.get("aws.event") or {}
        claims = event.get("requestContext", {}).get("authorizer", {}).get("jwt", {}).get("claims", {})
        if not claims.get("username"):
            raise NotAuthenticated("the request carries no verified JWT")
        return access.principal_named(deployment.store, claims["username"])
    return identify


class Explainer(Protocol):
    """What computes and renders explanations: the ``explain`` package (SHAP), which the caller hands in, so
    the API (and the Lambda image) never imports SHAP and its dependencies."""

    explain: Compute

    def render_html(self, payload: dict[str, Any]) -> str: ...


def known_query(request: Request) -> None:
    """A query parameter the operation does not take is refused, so a misspelt one is never silently ignored."""
    route = request.scope.get("route")
    takes = {param.alias for param in route.dependant.query_params} if route else set()  # the endpoint's own
    if set(request.query_params) - takes:
        raise ValueError(f"unknown query parameter; this operation takes {sorted(takes) or 'none'}")


def create_app(deployment: Deployment, identity: Identity | None = None, explainer: Explainer | None = None
               ) -> FastAPI:
    """The app over ``deployment``; ``identity`` says who calls (default: API tokens), ``explainer`` computes
    explanations (default: none, requests for a new one get 503)."""
    identify = identity or token_identity(deployment)
    tasks, taxonomy = deployment.tasks, deployment.taxonomy
    app = FastAPI(title="Complaints ops API", version=VERSION, dependencies=[Depends(known_query)],
                  generate_unique_id_function=lambda route: route.name,  # operation ids the ops app's queries keep
                  description="Queues, complaints, reassignments, explanations and the audit chain of the complaints "
                              "triage system, for the ops app. Every call is made as an authenticated user, whose "
                              "role decides what it may read and write.")

    def principal(request: Request, authorization: Annotated[str | None, Security(API_KEY)] = None) -> Principal:
        return identify(request, authorization)

    User = Annotated[Principal, Depends(principal)]

    def error(status: int, code: str, message: str, headers: dict | None = None) -> JSONResponse:
        return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)

    def refused(request: Request, exc: Exception) -> JSONResponse:
        status, code = next(_STATUS[kind] for kind in type(exc).__mro__ if kind in _STATUS)
        message = str(exc.args[0] if exc.args else exc)
        return error(status, code, message, {"WWW-Authenticate": "Bearer"} if status == 401 else None)

    for kind in _STATUS:
        app.add_exception_handler(kind, refused)

    @app.exception_handler(RequestValidationError)
    def malformed(request: Request, exc: RequestValidationError) -> JSONResponse:
        where = "; ".join(f"{'.'.join(str(part) for part in e['loc'])}: {e['msg']}" for e in exc.errors())
        return error(422, "invalid_request", where)  # locations and rules only: never the value sent

    @app.exception_handler(HTTPException)
    def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "invalid_request")
        headers = exc.headers
        if exc.status_code == 405:  # every method of the path (Starlette names only the first route's)
            headers = {"Allow": ", ".join(sorted({method for route in app.routes if isinstance(route, APIRoute)
                                                  and route.path_regex.match(request.url.path)
                                                  for method in route.methods}))}
        status = 422 if exc.status_code == 400 else exc.status_code  # a body that cannot be read: malformed too
        return error(status, code, str(exc.detail), headers)

    def queue_named(queue_id: str) -> str:
        for name in access.queues(tasks, taxonomy):
            if slug(name) == queue_id:
                return name
        raise KeyError(f"no queue {queue_id!r}")

    def readable(user: Principal, complaint_id: str) -> Placed:
        where = placed(deployment, complaint_id)
        if where is None:
            raise NotAllocatedError(f"no allocated complaint {complaint_id!r}")
        access.check_read(user, where.queue, tasks, taxonomy)
        return where

    @app.get("/me", response_model=Me, responses=ERRORS, tags=["users"], summary="The authenticated user")
    def me(user: User) -> Me:
        return Me(name=user.name, role=user.role, team=user.team, team_queue_id=slug(user.team) if user.team else None,
                  queues=access.readable_queues(user, tasks, taxonomy))

    @app.get("/queues", response_model=list[QueueRef], responses=ERRORS, tags=["queues"],
             summary="The queues the user may read, with how many complaints each holds now")
    def list_queues(user: User) -> list[QueueRef]:
        board = QueueBoard(deployment, access.readable_queues(user, tasks, taxonomy))
        return [QueueRef(id=slug(name), name=name, count=count) for name, count in board.counts().items()]

    @app.get("/queues/{queue_id}/complaints", response_model=QueuePage, responses=ERRORS, tags=["queues"],
             summary="A page of a queue's complaints")
    def queue_page(user: User, queue_id: Annotated[str, Path(pattern=r"^[a-z0-9-]{1,80}$", examples=["credit-card"])],
                   sort: Literal["newest", "oldest", "least_confident"] = "newest",
                   offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
                   limit: Annotated[int, Query(ge=1, le=200)] = 50) -> QueuePage:
        name = queue_named(queue_id)
        access.check_read(user, name, tasks, taxonomy)
        total, rows = QueueBoard(deployment, [name]).page(name, sort, offset, limit)
        return QueuePage(queue=QueueRef(id=queue_id, name=name, count=total), sort=sort, offset=offset, limit=limit,
                         items=[ComplaintItem(complaint_id=p.allocation.complaint_id, allocated_at=p.allocation.allocated_at,
                                              queue=p.queue, status=p.allocation.status, corrected=bool(p.corrections),
                                              predictions=_predictions(p.allocation.predictions)) for p in rows])

    @app.get("/complaints/{complaint_id}", response_model=ComplaintDetail, responses=ERRORS, tags=["complaints"],
             summary="A complaint: redacted narrative, allocation, each task's version and score, corrections")
    def complaint(user: User, complaint_id: Annotated[str, COMPLAINT_ID]) -> ComplaintDetail:
        where = readable(user, complaint_id)
        stored = deployment.store.get_complaint(complaint_id)
        if stored is None:
            raise NotAllocatedError(f"complaint {complaint_id!r} is not in the store")
        allocation = where.allocation
        return ComplaintDetail(
            complaint_id=complaint_id, date_received=stored.date_received, narrative=stored.narrative,
            attributes=stored.attributes, queue=where.queue,
            allocation=AllocationView(queue=allocation.queue, status=allocation.status, reasons=allocation.reasons,
                                      allocated_at=allocation.allocated_at, batch_id=allocation.batch_id,
                                      taxonomy_version=allocation.taxonomy_version,
                                      predictions=_predictions(allocation.predictions)),
            corrections=[_correction(c) for c in where.corrections],
            explanations=[ExplanationRef(task=e.task, version=e.version, requested_at=e.requested_at)
                          for e in deployment.store.list_explanations(complaint_id)])

    @app.post("/complaints/{complaint_id}/reassignments", response_model=ReassignmentResult, status_code=201,
              responses={**ERRORS, 200: {"model": ReassignmentResult, "description": "a resend: nothing stored again"},
                         409: {"model": ErrorResponse, "description": "the idempotency key holds another request"}},
              tags=["complaints"], summary="Correct a task's label (team, issue, vulnerable flag): it becomes training "
                                           "data, attributed to the user, and may move the complaint")
    def reassign(user: User, complaint_id: Annotated[str, COMPLAINT_ID], body: Reassignment, response: Response,
                 idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", min_length=1, max_length=128,
                                                               pattern=r"^[A-Za-z0-9._:-]+$")] = None
                 ) -> ReassignmentResult:
        where = placed(deployment, complaint_id)
        if where is None:
            raise NotAllocatedError(f"no allocated complaint {complaint_id!r}")
        resent = any(c.idempotency_key == idempotency_key and c.analyst == user.name for c in where.corrections)
        if not resent:  # the user's own resend is answered even after its correction moved the complaint away
            access.check_reassign(user, where.queue, tasks, taxonomy)
        deployment.task(body.task)  # an unknown task: 404 naming the configured ones
        correction = reallocate(deployment, complaint_id, body.task, body.label, user.name, idempotency_key)
        now = placed(deployment, complaint_id)
        if correction.already_stored:
            response.status_code = 200
        return ReassignmentResult(correction=_correction(correction.feedback), already_stored=correction.already_stored,
                                  queue=QueueRef(id=slug(now.queue), name=now.queue,
                                                 count=QueueBoard(deployment, [now.queue]).counts()[now.queue]))

    explained = {**ERRORS, 409: {"model": ErrorResponse, "description": "the task's model failed on this complaint"}}
    computed_here = {503: {"model": ErrorResponse, "description": "this deployment computes no explanations (AWS: "
                                                                  "`complaints --env ENV explain` does)"}}

    @app.post("/complaints/{complaint_id}/explanations/{task}", response_model=ExplanationView, status_code=201,
              responses={**explained, **computed_here,
                         200: {"model": ExplanationView, "description": "explained before: the kept one"}},
              tags=["explanations"], summary="Explain the task's label with the model version that decided it "
                                             "(computed once, then kept)")
    def request_explanation(user: User, complaint_id: Annotated[str, COMPLAINT_ID], task: Annotated[str, TASK],
                            response: Response) -> ExplanationView:
        readable(user, complaint_id)
        made, computed = explanation(deployment, complaint_id, task, user.name, _compute)
        if not computed:
            response.status_code = 200
        return _explanation(made)

    @app.get("/complaints/{complaint_id}/explanations/{task}", response_model=ExplanationView, responses=explained,
             tags=["explanations"], summary="The kept explanation of the task's label (404 until requested)")
    def read_explanation(user: User, complaint_id: Annotated[str, COMPLAINT_ID],
                         task: Annotated[str, TASK]) -> ExplanationView:
        return _explanation(_kept(user, complaint_id, task))

    @app.get("/complaints/{complaint_id}/explanations/{task}/html", response_class=HTMLResponse,
             responses={**explained, **computed_here}, tags=["explanations"],
             summary="The kept explanation rendered: label, top words for and against")
    def explanation_html(user: User, complaint_id: Annotated[str, COMPLAINT_ID], task: Annotated[str, TASK]
                         ) -> HTMLResponse:
        kept = _kept(user, complaint_id, task)
        if explainer is None:
            raise ExplanationsUnavailable("this deployment renders no explanations; read the JSON")
        return HTMLResponse(explainer.render_html(kept.payload))

    def _compute(predictor, text: str) -> dict[str, Any]:
        if explainer is None:
            raise ExplanationsUnavailable("this deployment computes no explanations (no SHAP in its image): "
                                          "`complaints --env ENV explain COMPLAINT_ID` computes and keeps one")
        return explainer.explain(predictor, text)

    def _kept(user: Principal, complaint_id: str, task: str) -> Explanation:
        readable(user, complaint_id)
        kept = stored_explanation(deployment, complaint_id, task)
        if kept is None:
            raise KeyError(f"no {task} explanation of complaint {complaint_id!r} yet: POST to request one")
        return kept

    @app.get("/complaints/{complaint_id}/audit", response_model=dict[str, Any], responses=ERRORS, tags=["audit"],
             summary="The audit chain: versions, model cards, gate decisions, releases, corrections")
    def audit(user: User, complaint_id: Annotated[str, COMPLAINT_ID]) -> dict[str, Any]:
        access.check_oversight(user)
        return audit_chain(deployment, complaint_id)

    @app.get("/summary", response_model=Summary, responses=ERRORS, tags=["audit"],
             summary="The last day (or `hours`): volumes per queue, manual triage share, corrections")
    def summary(user: User, hours: Annotated[int, Query(ge=1, le=24 * 90)] = 24) -> Summary:
        access.check_oversight(user)
        return Summary(**last_day(deployment, hours))

    app.openapi_version = "3.0.3"
    app.openapi = lambda: openapi_30(app)
    return app


def _predictions(predictions: dict[str, TaskPrediction]) -> dict[str, Prediction]:
    return {task: Prediction(label=p.label, score=p.score, version=p.model_version, served_by=p.served_by,
                             error=p.error) for task, p in predictions.items()}


def _correction(feedback: Feedback) -> Correction:
    return Correction(task=feedback.task, label=feedback.label, previous_label=feedback.previous_label,
                      analyst=feedback.analyst, at=feedback.at, idempotency_key=feedback.idempotency_key)


def _explanation(made: Explanation) -> ExplanationView:
    return ExplanationView(**asdict(made))
