"""The HTTP face of analytics (``dylive.analytics``): broadcasts and their reports.

- ``GET /api/rooms/{room}/sessions`` — the broadcasts of a room (web_rid, room_id or live URL),
  newest first: ``{sessions: [{id, room_id, web_rid, title, anchor, started_at, ended_at|null,
  live, duration_seconds}]}``.
- ``GET /api/sessions/{id}/report[?top=N][&format=json|md|csv]`` — the session report (live while
  the broadcast runs, stored once it ended); ``md`` and ``csv`` answer the document as text.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dylive.analytics import to_csv, to_markdown
from dylive.analytics.report import DEFAULT_TOP
from dylive.errors import RoomNotFound
from dylive.source.room import parse_ident

from .errors import BAD_PARAM, BAD_ROOM, UNKNOWN_SESSION, ApiError, ok

if TYPE_CHECKING:
    from .app import HttpService as Service

Endpoint = Callable[[Request], Awaitable[Response]]
MAX_TOP = 10_000


async def room_sessions(request: Request) -> Response:
    svc: Service = request.app.state.svc
    await svc.authorize(request)
    try:
        web_rid, room_id = parse_ident(request.path_params["room"])
    except RoomNotFound as exc:
        raise ApiError(BAD_ROOM, str(exc)) from None
    if not web_rid:
        room = await svc.store.find_room(room_id=int(room_id))
        web_rid = room.web_rid if room is not None else ""
    sessions = await svc.analytics.sessions(web_rid=web_rid, room_id=int(room_id or 0))
    return ok({"sessions": sessions})


def _int_param(request: Request, name: str, default: int, high: int) -> int:
    text = request.query_params.get(name)
    if text is None:
        return default
    if not text.isdigit() or not 0 <= int(text) <= high:
        raise ApiError(BAD_PARAM, f"{name} must be an integer 0..{high}")
    return int(text)


async def session_report(request: Request) -> Response:
    svc: Service = request.app.state.svc
    await svc.authorize(request)
    ident = request.path_params["id"]
    if not ident.isdigit() or len(ident) > 18:
        raise ApiError(BAD_PARAM, "session id must be a positive integer")
    top = _int_param(request, "top", DEFAULT_TOP, MAX_TOP)
    fmt = request.query_params.get("format", "json")
    if fmt not in ("json", "md", "csv"):
        raise ApiError(BAD_PARAM, "format must be json, md or csv")
    report = await svc.analytics.report(int(ident), top=top)
    if report is None:
        raise ApiError(UNKNOWN_SESSION, f"no session {ident}")
    if fmt == "md":
        return Response(to_markdown(report), media_type="text/markdown; charset=utf-8")
    if fmt == "csv":
        return Response(to_csv(report), media_type="text/csv; charset=utf-8")
    return ok(report)


def routes(guard: Callable[[str, Endpoint], Endpoint]) -> list[Route]:
    return [
        Route("/api/rooms/{room}/sessions", guard("sessions", room_sessions), methods=["GET"]),
        Route("/api/sessions/{id}/report", guard("report", session_report), methods=["GET"]),
    ]
