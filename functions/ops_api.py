"""The ops API behind API Gateway: the same ASGI app as `complaints serve`, through Mangum.

API Gateway's JWT authorizer verifies the caller's Cognito access token before this runs (no route is
reachable without one); the app takes the user's name from the verified claims and the role from the
store. The image has no SHAP, so this deployment serves kept explanations and answers a request for a new
one with 503 and how to compute it (`complaints --env ENV explain`).
"""

from __future__ import annotations

from typing import Any

from mangum import Mangum

from complaints.deployment import Deployment
from functions import runtime
from ops_api.app import create_app
from ops_api.dependencies import jwt_identity

_adapter: Mangum | None = None


@runtime.handler
def handler(event: dict, context: Any) -> dict:
    global _adapter
    if _adapter is None:  # once per container: the store client and the app live as long as it does
        deployment = Deployment.aws()
        _adapter = Mangum(create_app(deployment, jwt_identity), lifespan="off")
    return _adapter(event, context)
