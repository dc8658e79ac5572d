"""The ops API: one ASGI app over the core, served by uvicorn (``complaints serve``) and by Lambda (Mangum).

A thin edge: every rule lives in the core (``complaints.access`` decides who may do what,
``complaints.queues`` where complaints stand, ``complaints.feedback`` records corrections,
``complaints.explanations`` explains). The routes live in ``ops_api.routers``, one module per resource group;
what they are given (the deployment, the caller, the explainer) in ``ops_api.dependencies``; how errors answer
in ``ops_api.errors``.
"""

from fastapi import Depends, FastAPI

from complaints.deployment import Deployment
from complaints.metrics import EmbeddedMetrics
from ops_api.body_guard import BodyGuard
from ops_api.dependencies import Explainer, Identity, known_query, token_identity
from ops_api.document import openapi_30
from ops_api.errors import add_handlers
from ops_api.headers import SecurityHeaders
from ops_api.routers import audit, complaints, explanations, monitoring, queues, users

VERSION = "1.0.0"


def create_app(deployment: Deployment, identity: Identity = token_identity, explainer: Explainer | None = None,
               metrics: EmbeddedMetrics | None = None) -> FastAPI:
    """The app over ``deployment``; ``identity`` says who calls (default: API tokens), ``explainer`` computes
    explanations (default: none, requests for a new one get 503), ``metrics`` counts corrections of the models'
    answers (default: none; the Lambda's go to CloudWatch)."""
    app = routes_app()
    app.state.deployment, app.state.identity, app.state.explainer = deployment, identity, explainer
    app.state.metrics = metrics
    return app


def routes_app() -> FastAPI:
    """The routes, their error handling and their OpenAPI 3.0 document, over no deployment yet: all the document
    (``ops_api.openapi``) needs."""
    # No /docs or /redoc: their pages load Swagger UI and ReDoc from a CDN. The document is at /openapi.json.
    app = FastAPI(title="Complaints ops API", version=VERSION, dependencies=[Depends(known_query)],
                  docs_url=None, redoc_url=None,
                  generate_unique_id_function=lambda route: route.name,  # operation ids the ops app's queries keep
                  description="Queues, complaints, reassignments, explanations, the audit chain and the models' health "
                              "of the complaints "
                              "triage system, for the ops app. Every call is made as an authenticated user, whose "
                              "role decides what it may read and write.")
    add_handlers(app)
    app.add_middleware(BodyGuard)
    app.add_middleware(SecurityHeaders)  # outermost: the body guard's refusals carry them too
    for group in (users, queues, complaints, explanations, audit, monitoring):
        app.include_router(group.router)
    app.openapi_version = "3.0.3"
    app.openapi = lambda: openapi_30(app)
    return app
