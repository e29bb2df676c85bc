"""Request limits answered with the JSON envelope, and the uvicorn configuration that applies them.

``MAX_HEADER_BYTES`` (16 KiB) bounds a request's headers: :class:`HeaderLimit` answers larger
ones with code 43101 (HTTP 431) in the envelope, and a request target over
:data:`~dylive.serve.edge.MAX_URL_BYTES` with 41401 (HTTP 414). The HTTP server is configured
(:func:`server_config`) to accept up to ``PARSER_LIMIT`` (256 KiB) so that such requests reach
the application; what the parser itself refuses (beyond that, or malformed) is answered in the
envelope by the edge protocols of :mod:`dylive.serve.edge`, which also time out slow headers and
bodies and cap the connections. :class:`HeaderLimit` also answers a path with a trailing slash
that names no route with 40400 (Starlette would redirect it with a bare 307).

WebSocket clients send at most a ``ping`` on dylive's feeds: a client frame (message) over
``WS_MAX_BYTES`` closes the connection (1009) before it is buffered.
"""

from __future__ import annotations

from itertools import chain
from typing import Any

import uvicorn
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

from .edge import MAX_URL_BYTES, EdgeLimits, http_protocol
from .edgews import websocket_protocol
from .errors import HEADERS_TOO_LARGE, NOT_FOUND, URL_TOO_LONG, ApiError, error_response
from .runtime import forwarded_allow_ips, ws_compression

MAX_HEADER_BYTES = 16 * 1024
PARSER_LIMIT = 256 * 1024
WS_MAX_BYTES = 4 * 1024


class HeaderLimit:
    """ASGI middleware: the 431 / 414 envelopes, and 40400 for trailing-slash paths."""

    def __init__(self, app: ASGIApp, limit: int = MAX_HEADER_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refusal = oversized(scope, self.limit) or trailing_slash(scope)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)


def oversized(scope: Scope, limit: int = MAX_HEADER_BYTES) -> Response | None:
    """The 431 envelope when the request's headers exceed ``limit`` bytes, the 414 envelope when
    its target exceeds MAX_URL_BYTES, else None."""
    headers = scope.get("headers", ())
    if not isinstance(headers, list | tuple):
        headers = list(headers)
    # each header's name and value and 4 bytes (": ", CRLF), summed without a Python step each
    size = sum(map(len, chain.from_iterable(headers))) + 4 * len(headers)
    if size > limit:
        detail = f"request headers of {size} bytes; at most {limit}"
        return error_response(ApiError(HEADERS_TOO_LARGE, detail))
    target = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"") + 1
    if target > MAX_URL_BYTES:
        detail = f"the request target is longer than {MAX_URL_BYTES} bytes"
        return error_response(ApiError(URL_TOO_LONG, detail))
    return None


def trailing_slash(scope: Scope) -> Response | None:
    """40400 for ``/some/path/`` when no route takes it as it is (instead of a redirect)."""
    path: str = scope.get("path", "")
    app = scope.get("app")
    if len(path) < 2 or not path.endswith("/") or app is None:
        return None
    routes = getattr(app, "routes", ())
    if any(route.matches(scope)[0] is Match.FULL for route in routes):
        return None
    detail = f"no such path (no path ends with a slash: {path.rstrip('/') or '/'})"
    return error_response(ApiError(NOT_FOUND, detail))


def server_config(
    app: Any, host: str, port: int, *, edge: EdgeLimits | None = None, **options: Any
) -> uvicorn.Config:
    """The uvicorn configuration dylive serves with: the edge protocols (envelope for parser
    refusals, header / body timeouts, connection cap), the parser limit above the app's own,
    WebSocket client frames capped at ``WS_MAX_BYTES``, permessage-deflate as the
    ``ws_compression`` setting (or option) says; ``X-Forwarded-*`` headers honoured from the
    proxies of the ``forwarded_allow_ips`` setting (or option) only."""
    options.setdefault("log_level", "warning")
    options.setdefault("log_config", None)  # uvicorn's lines go through dylive's own logging
    options.setdefault("access_log", False)
    options.setdefault("timeout_graceful_shutdown", 5)
    options.setdefault("ws_max_size", WS_MAX_BYTES)
    # X-Forwarded-For / -Proto only from the configured proxies (by default the loopback, as
    # uvicorn's own default); none configured: no ProxyHeadersMiddleware around every request
    given = options.pop("forwarded_allow_ips", None)
    trusted = forwarded_allow_ips(
        given if given is None or isinstance(given, str) else ",".join(given)
    )
    options.setdefault("proxy_headers", bool(trusted))
    if trusted:
        options.setdefault("forwarded_allow_ips", trusted)
    http = options.pop("http", "auto")
    if isinstance(http, str):
        http = http_protocol(http, edge, frozenset(getattr(app, "direct", ())))
    compression = ws_compression(options.pop("ws_compression", None))
    options.setdefault("ws_per_message_deflate", compression != "off")
    options.setdefault("ws", websocket_protocol(shared_deflate=compression == "shared"))
    return uvicorn.Config(
        app, host=host, port=port, http=http, h11_max_incomplete_event_size=PARSER_LIMIT, **options
    )
