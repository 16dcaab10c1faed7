"""What the sandbox does to every request, like a real portal's front door: a request size limit
counted while the body streams in (413 before the whole body is read, whatever
``Content-Length`` claims), and the security headers on every answer (CSP with
``frame-ancestors 'none'``, ``X-Frame-Options``, ``X-Content-Type-Options``, ``Referrer-Policy``).
The stylesheet is served from ``/static/portal.css`` so the CSP needs no inline styles.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from portals.sandbox.rules import LIMITS

#: the largest request body: every file at its limit plus 1 MiB of form fields
MAX_REQUEST_BYTES = LIMITS.max_files * LIMITS.max_file_bytes + 1024 * 1024

SECURITY_HEADERS = (
    (
        b"content-security-policy",
        b"default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        b"base-uri 'none'; frame-ancestors 'none'",
    ),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
)

_CSS = (Path(__file__).parent.parent / "static" / "portal.css").read_bytes()


class TooLarge(Exception):
    """The request body went past the limit while streaming."""


class Guard:
    """ASGI middleware: the size limit while streaming, and the security headers."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_REQUEST_BYTES):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                names = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in SECURITY_HEADERS if k not in names]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._too_large(scope, send_with_headers)
            return
        seen = 0

        async def counted_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise TooLarge
            return message

        try:
            await self.app(scope, counted_receive, send_with_headers)
        except TooLarge:
            if not started:
                await self._too_large(scope, send_with_headers)

    async def _too_large(self, scope: Scope, send: Send) -> None:
        limit_mb = self.max_bytes // (1024 * 1024)
        response = PlainTextResponse(
            f"413 Request Entity Too Large: a request may carry at most {limit_mb} MB",
            status_code=413,
            headers={"Connection": "close"},
        )
        await response(scope, _empty_receive, send)


async def _empty_receive() -> Message:
    return {"type": "http.disconnect"}


async def stylesheet(request: Request) -> Response:
    """The portal's stylesheet."""
    return Response(_CSS, media_type="text/css")


#: the stylesheet, for :func:`portals.sandbox.app.create_app`
ROUTES = [Route("/static/portal.css", stylesheet, methods=["GET"])]
