"""Operational and REST endpoints: health, per-room status, pins, OpenAPI document and docs page.

- ``GET /healthz`` — health (no token): 503 when the store does not answer in time.
- ``GET /api/rooms`` — status of every collected room (token).
- ``GET /api/rooms/{room}`` — one room's status: transport, lag, gaps, messages/s (token).
- ``POST /api/rooms/{room}/pin`` / ``DELETE /api/rooms/{room}/pin`` — collect without polling.
- ``GET /api/rooms/{room}/sessions``, ``GET /api/sessions/{id}/report`` — analytics
  (``serve/sessions.py``), documented here in the OpenAPI document.
- ``GET /openapi.json`` (hand-written OpenAPI 3.1) and ``GET /docs`` (Swagger UI over it).
- ``GET /metrics`` — Prometheus (registered in the app factory).
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Awaitable, Callable, Container
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from . import collection, fleet_api
from .dashboard import CSP
from .errors import ALL_ERRORS, MEANING, STORE, ApiError, json_response, ok
from .openapi import openapi_document

if TYPE_CHECKING:
    from .app import HttpService as Service

Endpoint = Callable[[Request], Awaitable[Response]]
log = logging.getLogger(__name__)


#: Seconds the store has to answer the health probe (a read and a write), and seconds pending
#: writes may go without committing, before ``/healthz`` answers ``unhealthy`` (HTTP 503).
STORE_TIMEOUT = 2.0
WRITE_STALL = 10.0


async def healthz(request: Request) -> Response:
    """``ok``; ``degraded`` with the reasons (a room whose storage or source is failing and
    being retried, a room that stopped collecting, a NATS sink not connected), HTTP 200: the
    service runs; ``unhealthy`` with the reasons, HTTP 503 (code 50301), when the store does not
    answer a read and a write within ``STORE_TIMEOUT`` seconds or fails them, or pending writes
    have not committed for ``WRITE_STALL`` seconds: what a load balancer or an orchestrator acts
    on."""
    svc: Service = request.app.state.svc
    store = await svc.store.check(within=STORE_TIMEOUT, stalled_after=WRITE_STALL)
    reasons = store + svc.problems()
    status = "unhealthy" if store else "degraded" if reasons else "ok"
    loop = type(asyncio.get_running_loop()).__module__.partition(".")[0]  # uvloop / asyncio
    data = {"status": status, "rooms": len(svc.rooms.rooms), "reasons": reasons[:20], "loop": loop}
    if store:
        log.warning("healthz: unhealthy: %s", "; ".join(store))
        body = {"code": STORE.code, "msg": STORE.msg, "data": data}
        return json_response(body, STORE.status)
    return ok(data)


async def rooms(request: Request) -> Response:
    svc: Service = request.app.state.svc
    await svc.authorize(request)
    if svc.fleet is not None:  # every room of the fleet, with its owner node
        return ok({"rooms": await fleet_api.fleet_rooms(svc)})
    waiting = svc.rooms.waiting_rooms()  # followed rooms between broadcasts, and ended ones
    followed = {r["web_rid"] for r in waiting}
    states = [s for s in svc.rooms.rooms.values() if not (s.ended and s.info.web_rid in followed)]
    paused = svc.budget.paused_rooms()  # rooms whose upstream reading waits (overloaded)
    statuses = [_status(s, paused) for s in states]
    overload = asdict(svc.budget.snapshot())
    return ok({"rooms": [*statuses, *waiting, *svc.rooms.starting_status()], "overload": overload})


def _status(state: Any, paused: Container[int]) -> dict[str, Any]:
    """A room's status; one room that cannot report never fails the whole list."""
    try:
        status: dict[str, Any] = state.status()
        status["overloaded"] = state.room_id in paused
        json_response(status)  # serializable, or the fallback below
        return status
    except Exception as exc:
        log.error("room %s: status failed: %r", getattr(state, "room_id", "?"), exc)
        return {"room_id": str(getattr(state, "room_id", "")), "error": "status unavailable"}


async def room(request: Request) -> Response:
    svc: Service = request.app.state.svc
    await svc.authorize(request)
    followed = svc.rooms.follow_status(request.path_params["room"])
    if followed is not None:  # waiting for its next broadcast, or no longer followed
        followed["live"] = False
        followed["last_seq"] = await svc.store.last_seq(followed["room_id"])
        return ok(followed)
    info, live = await collection.lookup(svc, request.path_params["room"])
    state = svc.rooms.rooms.get(info.room_id)
    status: dict[str, Any] = (
        state.status()
        if state is not None
        else {"room_id": info.room_id, "web_rid": info.web_rid, "collecting": False}
    )
    if state is not None:
        status["overloaded"] = state.room_id in svc.budget.paused_rooms()
    if svc.fleet is not None:
        status.update(await fleet_api.fleet_room(svc, info.room_id) or {"collecting": False})
    status["live"] = live
    status["last_seq"] = await svc.store.last_seq(info.room_id)
    return ok(status)


async def pin(request: Request) -> Response:
    svc: Service = request.app.state.svc
    await svc.authorize(request)
    ident = request.path_params["room"]
    if request.method == "DELETE":
        info, _ = await collection.lookup(svc, ident)
        await collection.unpin(svc, info.web_rid or str(info.room_id))
        return ok({"room_id": info.room_id, "pinned": False})
    info = await collection.pin(svc, ident)
    return ok({"room_id": info.room_id, "web_rid": info.web_rid, "pinned": True})


async def openapi(request: Request) -> Response:
    return json_response(openapi_document())


async def docs(request: Request) -> Response:
    """The OpenAPI UI (Swagger UI, vendored under /static/vendor: works offline) over
    /openapi.json, with "Try it out", and the table of error codes; the dashboard's CSP."""
    codes = "".join(
        f"<tr><td>{k.code}</td><td>{k.status}</td><td>{html.escape(k.msg)}</td>"
        f"<td>{html.escape(MEANING.get(k.code, ''))}</td></tr>"
        for k in sorted(ALL_ERRORS, key=lambda k: k.code)
    )
    page = (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width, initial-scale=1'>"
        "<meta name=referrer content=no-referrer><title>dylive API</title>"
        "<link rel=icon href='data:,'>"
        "<link rel=stylesheet href=/static/vendor/swagger-ui.css>"
        "<link rel=stylesheet href=/static/docs.css></head><body>"
        "<header class=docs-head><b>dylive API</b> · <a href=/openapi.json>/openapi.json</a>"
        " · <a href=/dashboard>dashboard</a> · every answer is the envelope"
        " <code>{code, msg, data}</code>; a token goes in <code>?token=</code> or"
        " <code>Authorization: Bearer</code></header>"
        "<div id=swagger-ui></div>"
        "<section class=docs-codes><h2>Error codes</h2><table>"
        "<tr><th>code</th><th>HTTP</th><th>msg</th><th>when</th></tr>"
        + codes
        + "</table></section>"
        "<script src=/static/vendor/swagger-ui-bundle.js></script>"
        "<script src=/static/docs.js></script></body></html>"
    )
    return HTMLResponse(
        page,
        headers={"Content-Security-Policy": CSP, "Referrer-Policy": "no-referrer"},
    )


def routes(guard: Callable[[str, Endpoint], Endpoint]) -> list[Route]:
    return [
        Route("/healthz", guard("healthz", healthz), methods=["GET"]),
        Route("/api/rooms", guard("rooms", rooms), methods=["GET"]),
        Route("/api/rooms/{room}", guard("room", room), methods=["GET"]),
        Route("/api/rooms/{room}/pin", guard("pin", pin), methods=["POST", "DELETE"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/docs", docs, methods=["GET"]),
    ]


__all__ = ["ApiError", "openapi_document", "routes"]
