"""The ops API behind API Gateway: the same ASGI app as `complaints serve`, through Mangum.

API Gateway's JWT authorizer verifies the caller's Cognito access token before this runs, and the app verifies
it again (ops_api/cognito.py: the user pool's keys, issuer, app client and token use, from ``CognitoSettings``),
taking nothing from the authorizer's claims; the token's username and ``sub`` name the user, the store the
role. Each correction of a model's answer is counted as a CloudWatch metric (complaints/metrics.py). The image
has no SHAP, so this deployment serves kept explanations and answers a request for a new one
with 503 and how to compute it (`complaints --env ENV explain`).
"""

from __future__ import annotations

from typing import Any

from mangum import Mangum

from complaints.config import CognitoSettings, MetricsSettings
from complaints.deployment import Deployment
from complaints.metrics import EmbeddedMetrics
from functions import runtime
from ops_api.app import create_app
from ops_api.cognito import AccessTokens
from ops_api.dependencies import jwt_identity

_adapter: Mangum | None = None


@runtime.handler
def handler(event: dict, context: Any) -> dict:
    global _adapter
    if _adapter is None:  # once per container: the store client, the pool's keys and the app live as long as it does
        tokens = AccessTokens.from_settings(CognitoSettings.from_env())
        metrics = EmbeddedMetrics(MetricsSettings.from_env().environment)
        _adapter = Mangum(create_app(Deployment.aws(), jwt_identity(tokens.verify), metrics=metrics), lifespan="off")
    return _adapter(event, context)
