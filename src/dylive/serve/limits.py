"""Request-size limits answered with the JSON envelope.

``MAX_HEADER_BYTES`` (16 KiB) bounds a request's headers: :class:`HeaderLimit` answers larger
ones with code 43101 (HTTP 431) in the envelope. The HTTP server is configured
(:func:`server_config`) to accept up to ``PARSER_LIMIT`` (256 KiB) so that such requests reach
the application; beyond that the server itself refuses them (a plain 400, the connection
closed), as it must before reading more.
"""

from __future__ import annotations

from typing import Any

import uvicorn
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from .errors import HEADERS_TOO_LARGE, ApiError, error_response

MAX_HEADER_BYTES = 16 * 1024
PARSER_LIMIT = 256 * 1024


class HeaderLimit:
    """ASGI middleware: requests whose headers exceed ``limit`` bytes get the 431 envelope."""

    def __init__(self, app: ASGIApp, limit: int = MAX_HEADER_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refusal = oversized(scope, self.limit)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)


def oversized(scope: Scope, limit: int = MAX_HEADER_BYTES) -> Response | None:
    """The 431 envelope when the request's headers exceed ``limit`` bytes, else None."""
    size = sum(len(k) + len(v) + 4 for k, v in scope.get("headers", ()))
    if size > limit:
        detail = f"request headers of {size} bytes; at most {limit}"
        return error_response(ApiError(HEADERS_TOO_LARGE, detail))
    return None


def server_config(app: Any, host: str, port: int, **options: Any) -> uvicorn.Config:
    """The uvicorn configuration dylive serves with (parser limit above the app's own)."""
    options.setdefault("log_level", "warning")
    options.setdefault("access_log", False)
    options.setdefault("timeout_graceful_shutdown", 5)
    return uvicorn.Config(
        app, host=host, port=port, h11_max_incomplete_event_size=PARSER_LIMIT, **options
    )
