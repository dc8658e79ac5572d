"""The stand-in for Budibase's worker, and the one origin in front of the app server, for the local harness only.

Budibase's worker service (sign-in, user management, global settings) is published only inside the Docker
image, not on npm. This stand-in answers the few worker endpoints the app server and a published app call,
with fixed answers: the install checklist (the admin is set up, so a restart does not recreate it), the
system environment (self-hosted, one tenant) and the public settings (no logo, no SSO, none enforced); the
signed-in user it asks of the app server (``/api/self``) with the same session cookie. It signs no one in
and stores no one: the harness writes users and sessions where the worker would
(``testing.budibase_harness.users``). Everything else is proxied to the app server, as the image's
nginx does. Nothing here guards data: every query the app runs is authorised by the ops API.
"""

from __future__ import annotations

import os

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

APP_SERVER = os.environ.get("BUDIBASE_APP_SERVER", "http://127.0.0.1:4001")
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "content-length",
              "content-encoding"}


async def checklist(request: Request) -> JSONResponse:
    return JSONResponse({"adminUser": {"checked": True}, "apps": {"checked": True}, "smtp": {"checked": True},
                         "sso": {"checked": False}})


async def environment(request: Request) -> JSONResponse:
    return JSONResponse({"multiTenancy": False, "offlineMode": True, "cloud": False, "disableAccountPortal": True,
                         "isDev": False, "maintenance": [], "passwordMinLength": 8})


async def public_settings(request: Request) -> JSONResponse:
    """As an unlicensed instance without SSO answers: no OIDC, so single sign-on is not enforced."""
    return JSONResponse({"type": "settings", "config": {"company": "MegaBank", "platformUrl": str(request.base_url),
                                                        "emailBrandingEnabled": False, "testimonialsEnabled": False,
                                                        "google": False, "oidc": False, "isSSOEnforced": False,
                                                        "oidcCallbackUrl": "", "googleCallbackUrl": ""}})


async def translations(request: Request) -> JSONResponse:
    return JSONResponse({})


async def signed_in_user(request: Request) -> Response:
    """The signed-in user, as the app server knows them from the same session cookie."""
    return await app_server(request, path="/api/self")


async def app_server(request: Request, path: str | None = None) -> Response:
    """Everything else goes to the app server, unchanged, as the image's nginx sends it."""
    async with httpx.AsyncClient(base_url=APP_SERVER, timeout=120) as client:
        upstream = await client.request(request.method, path or request.url.path, params=request.query_params,
                                        headers=[(k, v) for k, v in request.headers.raw if k.lower() != b"host"],
                                        content=await request.body())
    headers = [(k, v) for k, v in upstream.headers.multi_items() if k.lower() not in HOP_BY_HOP]
    response = Response(upstream.content, status_code=upstream.status_code)
    response.raw_headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers] + [
        (b"content-length", str(len(upstream.content)).encode())]
    return response


METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
app = Starlette(routes=[
    Route("/api/global/configs/checklist", checklist),
    Route("/api/system/environment", environment),
    Route("/api/global/configs/public", public_settings),
    Route("/api/global/configs/public/translations", translations),
    Route("/api/global/self", signed_in_user),
    Route("/{path:path}", app_server, methods=METHODS),
])
