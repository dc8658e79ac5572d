"""The ops API's errors: one body, ``{"error": {"code", "message"}}``, for every refusal, and never what was sent.

The core raises its own exceptions (``NotAuthenticated``, ``AccessDenied``, ``KeyError``...); here each maps to a
status and a code, so a route never builds an error response itself.
"""

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from starlette.exceptions import HTTPException

from complaints.access import AccessDenied, NotAuthenticated
from complaints.audit import NotAllocatedError
from complaints.explanations import NotExplainable
from complaints.feedback import CorrectionQuotaExceeded
from complaints.registry import RegistryError
from complaints.store import IdempotencyConflict, StaleWriteError, StoreBusy, StoreUnavailable
from ops_api.headers import HEADERS
from ops_api.schemas import ErrorResponse

ERRORS = {status: {"model": ErrorResponse, "description": why} for status, why in (
    (401, "no valid credentials"), (403, "the user's role does not allow it"), (404, "no such resource"),
    (422, "the request is malformed"),
    (503, "the store is busy with another writer (or, for explanations, none are computed): retry after "
          "Retry-After; or the store takes no writes (read-only); or a model version the call needs is missing "
          "from the registry or was modified"))}


class ExplanationsUnavailable(RuntimeError):
    """This deployment computes no explanations (the serving image has no SHAP); kept ones are still served."""


class ExplanationsBusy(RuntimeError):
    """Every slot for computing explanations stayed taken while the request waited (ops_api/routers/explanations.py)."""


STATUS = {NotAuthenticated: (401, "not_authenticated"), AccessDenied: (403, "access_denied"),
          NotAllocatedError: (404, "not_found"), KeyError: (404, "not_found"), NotExplainable: (409, "not_explainable"),
          IdempotencyConflict: (409, "conflict"), StaleWriteError: (409, "stale"),
          CorrectionQuotaExceeded: (429, "quota_exceeded"), ValueError: (422, "invalid_request"),
          ExplanationsUnavailable: (503, "explanations_unavailable"), ExplanationsBusy: (503, "explanations_busy"),
          StoreBusy: (503, "store_busy"), StoreUnavailable: (503, "store_unavailable"),
          RegistryError: (503, "model_unavailable")}
RETRY_AFTER_S = 1  # how long a caller waits before retrying a call the busy store refused
QUOTA_RETRY_AFTER_S = 3600  # a quota frees as corrections turn a day old: try again in an hour


def add_handlers(app: FastAPI) -> None:
    """Every error the app answers goes through one of these."""
    for kind in STATUS:
        app.add_exception_handler(kind, refused)
    app.add_exception_handler(RequestValidationError, malformed)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Exception, failed)


def error(status: int, code: str, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


def refused(request: Request, exc: Exception) -> JSONResponse:
    status, code = next(STATUS[kind] for kind in type(exc).__mro__ if kind in STATUS)
    message = str(exc.args[0] if exc.args else exc)
    headers = None
    if status == 401:
        headers = {"WWW-Authenticate": "Bearer"}
    elif isinstance(exc, StoreBusy | ExplanationsBusy):
        headers = {"Retry-After": str(RETRY_AFTER_S)}
    elif isinstance(exc, CorrectionQuotaExceeded):
        headers = {"Retry-After": str(QUOTA_RETRY_AFTER_S)}
    return error(status, code, message, headers)


def malformed(request: Request, exc: RequestValidationError) -> JSONResponse:
    where = "; ".join(f"{'.'.join(str(part) for part in _location(e))}: {e['msg']}" for e in exc.errors())
    return error(422, "invalid_request", where)  # locations and rules only: never the value sent


def _location(problem: dict) -> tuple:
    """A field the body may not hold is named by where it was: its name is the client's, and may be anything."""
    return problem["loc"][:-1] if problem["type"] == "extra_forbidden" else problem["loc"]


def http_error(request: Request, exc: HTTPException) -> JSONResponse:
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "invalid_request")
    headers = exc.headers
    if exc.status_code == 405:  # every method of the path (Starlette names only the first route's), through the
        # included routers: the app's own route list holds them unopened
        headers = {"Allow": ", ".join(sorted({method for route in iter_route_contexts(request.app.routes)
                                              if route.path_regex.match(request.url.path)
                                              for method in route.methods}))}
    status = 422 if exc.status_code == 400 else exc.status_code  # a body that cannot be read: malformed too
    return error(status, code, str(exc.detail), headers)


def failed(request: Request, exc: Exception) -> JSONResponse:
    """A fault no rule foresaw: the one error body, so a client reads it as a failure, naming nothing of it (the
    server's log has it). Starlette answers this outside every middleware, hence the headers here."""
    return error(500, "internal_error", "the server failed to answer this request", HEADERS)
