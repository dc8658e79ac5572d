"""Bodies read only from an authenticated caller, and never past :data:`MAX_BODY_BYTES`.

FastAPI reads and parses a request's body before its dependencies run, the caller's identity among them, so
without this an anonymous caller could make the server hold and parse any body (one 200 MB POST took it to
591 MB). This pure ASGI middleware refuses first: a declared length over the limit (413), then a caller the
app's identity does not accept (401); then it reads the body, at most the limit (413 past it, declared or
not), and hands it on.
Every ops API body is a small JSON object; the largest, a reassignment, is well under 1 KiB.
"""

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from complaints.access import NotAuthenticated
from ops_api.errors import error

MAX_BODY_BYTES = 64 * 1024
_BODYLESS = {"GET", "HEAD", "OPTIONS"}


class BodyGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in _BODYLESS:
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        declared = request.headers.get("content-length", "")
        if declared and (not (declared.isascii() and declared.isdigit()) or int(declared) > MAX_BODY_BYTES):
            await _too_large(scope, receive, send)
            return
        state = scope["app"].state
        try:  # kept for the route's `User` dependency (ops_api/dependencies.py: caller)
            request.state.principal = state.identity(state.deployment, request, request.headers.get("authorization"))
        except NotAuthenticated as refused:
            await error(401, "not_authenticated", str(refused), {"WWW-Authenticate": "Bearer"})(scope, receive, send)
            return
        body, more = b"", True
        while more:  # at most MAX_BODY_BYTES held, then handed on whole
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > MAX_BODY_BYTES:
                await _too_large(scope, receive, send)
                return
        await self.app(scope, _replay(body, receive), send)


async def _too_large(scope: Scope, receive: Receive, send: Send) -> None:
    await error(413, "body_too_large", f"a body may hold at most {MAX_BODY_BYTES} bytes")(scope, receive, send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body as one message, then ``receive`` again (a disconnect)."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replayed() -> Message:
        return pending.pop() if pending else await receive()
    return replayed
