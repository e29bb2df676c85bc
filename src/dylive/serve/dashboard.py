"""The live dashboard page: ``GET /dashboard`` (and ``/`` → ``/dashboard``), assets under ``/static``.

The page is plain HTML/CSS/JS from ``serve/static/`` (no build step, nothing fetched from another
origin). It asks for a token (kept in the browser's localStorage) and a room (web_rid, room_id
or live.douyin.com URL) — or takes both from the query string, ``/dashboard?token=…&room=…``,
and connects at once. It reads the room's live stream (``/api/rooms/{room}/stream``, SSE) and
the audience ranking (``/douyin/liveroom/audience``, every 10 s).

Analytics: the dashboard also charts the latest broadcast per minute (viewers, chat, diamonds)
and lists the room's broadcasts; ``GET /report?session=ID`` is one broadcast's report page. Charts
are drawn by uPlot (MIT), vendored as ``static/vendor/uPlot.iife.min.js`` with its license.

Usage: ``GET /usage`` (token from ``?token=`` or the dashboard's) charts the token's requests per
day (billable and other codes, from ``/api/usage``) and shows one bar per quota (used / limit).
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

STATIC = Path(__file__).with_name("static")

#: Only this origin: scripts, styles, data; images may be inline (data:) only.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


async def page(request: Request) -> Response:
    return _html("dashboard.html")


async def report_page(request: Request) -> Response:
    return _html("report.html")


async def usage_page(request: Request) -> Response:
    return _html("usage.html")


def _html(name: str) -> Response:
    return FileResponse(
        STATIC / name,
        media_type="text/html; charset=utf-8",
        headers={
            "Content-Security-Policy": CSP,
            "Cache-Control": "no-cache",
            "Referrer-Policy": "no-referrer",
        },
    )


async def root(request: Request) -> Response:
    query = request.url.query
    return RedirectResponse("/dashboard" + (f"?{query}" if query else ""), status_code=307)


def routes() -> list[BaseRoute]:
    return [
        Route("/", root, methods=["GET"]),
        Route("/dashboard", page, methods=["GET"]),
        Route("/report", report_page, methods=["GET"]),
        Route("/usage", usage_page, methods=["GET"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]


__all__ = ["CSP", "STATIC", "routes"]
