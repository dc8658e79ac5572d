"""What a route is given: the deployment it serves, who calls, what computes explanations, and where the models'
work is counted.

``create_app`` puts the deployment, the identity, the explainer and the metrics on ``app.state``; these
dependencies read them there, so the routes are module-level and the app's document needs no deployment at all.
Who the caller is comes from an ``Identity``: locally an API token in the ``Authorization`` header, checked against
the store; on AWS the Cognito access token in that header, which the app verifies itself (ops_api/cognito.py), and
whose username and ``sub`` the store gives a role.
"""

from collections.abc import Callable
from typing import Annotated, Any, Protocol

from fastapi import Depends, Path, Request, Security
from fastapi.security import APIKeyHeader

from complaints import access
from complaints.access import Principal
from complaints.audit import NotAllocatedError
from complaints.deployment import Deployment
from complaints.explanations import Compute
from complaints.metrics import EmbeddedMetrics
from complaints.queues import Placed, placed

COMPLAINT_ID = Path(pattern=r"^[A-Za-z0-9._:-]{1,64}$", description="the complaint's id", examples=["4120785"])
TASK = Path(pattern=r"^[a-z][a-z0-9_]{0,63}$", description="a configured task: team, issue, vulnerable",
            examples=["team"])
Identity = Callable[[Deployment, Request, str | None], Principal]
Verify = Callable[[str | None], tuple[str, str]]  # the Authorization header -> the verified (username, sub)
API_KEY = APIKeyHeader(name="Authorization", scheme_name="ApiKey", auto_error=False,
                       description="`Bearer <token>`: locally a token from `complaints users add`; on AWS a Cognito "
                                   "access token (API Gateway verifies it)")


def token_identity(deployment: Deployment, request: Request, authorization: str | None) -> Principal:
    """Local: the API token in ``Authorization`` (``Bearer <token>``)."""
    return access.authenticate(deployment.store, authorization or "")


def jwt_identity(verify: Verify) -> Identity:
    """AWS: the Cognito access token in ``Authorization``, verified by ``verify`` in the app, never the claims
    API Gateway's authorizer put in the event (a second check of the same token, which trusts no path to the
    function); its ``username`` and ``sub`` name the user, whose role the store holds."""
    def identity(deployment: Deployment, request: Request, authorization: str | None) -> Principal:
        return access.principal_named(deployment.store, *verify(authorization))
    return identity


class Explainer(Protocol):
    """What computes and renders explanations: the ``explain`` package (SHAP), which the caller hands in, so
    the API (and the Lambda image) never imports SHAP and its dependencies."""

    explain: Compute

    def render_html(self, payload: dict[str, Any]) -> str: ...


def served(request: Request) -> Deployment:
    return request.app.state.deployment


Served = Annotated[Deployment, Depends(served)]


def caller(request: Request, deployment: Served,
           authorization: Annotated[str | None, Security(API_KEY)] = None) -> Principal:
    """The authenticated user, by the app's identity (once a request: a request with a body was authenticated
    before it was read, ops_api/body_guard.py); the header makes the document's ``ApiKey`` scheme."""
    known = getattr(request.state, "principal", None)
    return known if known is not None else request.app.state.identity(deployment, request, authorization)


User = Annotated[Principal, Depends(caller)]


def known_query(request: Request, _: User) -> None:
    """A query parameter the operation does not take is refused, so a misspelt one is never silently ignored; only
    for an authenticated caller (401 comes first: what an operation takes is no anonymous caller's business)."""
    route = request.scope.get("route")
    takes = {param.alias for param in route.dependant.query_params} if route else set()  # the endpoint's own
    if set(request.query_params) - takes:
        raise ValueError(f"unknown query parameter; this operation takes {sorted(takes) or 'none'}")


def explainer(request: Request) -> Explainer | None:
    """None where the deployment computes no explanations (kept ones are still served)."""
    return request.app.state.explainer


ServedExplainer = Annotated[Explainer | None, Depends(explainer)]


def metrics(request: Request) -> EmbeddedMetrics | None:
    """None where nothing collects them (``complaints serve``); on AWS, CloudWatch's (complaints/metrics.py)."""
    return request.app.state.metrics


ServedMetrics = Annotated[EmbeddedMetrics | None, Depends(metrics)]


# One answer for a complaint that does not exist and one the caller may not read: a different one would let
# any user find, id by id, which complaints stand in the queues they may not read (the vulnerable customers').
UNKNOWN_OR_NOT_YOURS = "no such complaint, or not one your role may read"


def readable(deployment: Deployment, user: Principal, complaint_id: str) -> Placed:
    """Where an allocated complaint stands, if the user's role may read that queue."""
    where = placed(deployment, complaint_id)
    if where is None or not access.may_read(user, where.queue, deployment.tasks, deployment.taxonomy):
        raise NotAllocatedError(UNKNOWN_OR_NOT_YOURS)
    return where
