"""Headers on every answer that keep it where it was sent: no cache stores it, no browser reads it as another type
or frames it.

Answers carry redacted narratives, the queues a complaint stood in and who corrected it: ``no-store`` keeps them
out of browsers' and proxies' caches (a shared machine in a branch, a corporate proxy). The one HTML page (a
rendered explanation, a customer's words) needs its inline styles and nothing else, so the policy allows those
alone, and no frame: a page of another origin cannot frame it to make a user click.
"""

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
           "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"}


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).update(HEADERS)
            await send(message)
        await self.app(scope, receive, with_headers)
