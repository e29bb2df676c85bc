"""The control plane under ``/__sim/`` (JSON in, JSON out).

Errors use one envelope: ``{"code": <http status>, "error": <specific code>, "msg": <text>}``
with 400 (bad input), 404 (unknown room) or 409 (wrong room state).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .core import Simulator, StateError
from .upstream import json_response

Handler = Callable[[Request], Awaitable[Response]]


def error(status: int, code: str, msg: str) -> Response:
    return json_response({"code": status, "error": code, "msg": msg}, status)


def guarded(fn: Callable[[Simulator, Request], Awaitable[Any]]) -> Handler:
    """Run ``fn`` and map its exceptions to the JSON error envelope."""

    async def endpoint(request: Request) -> Response:
        try:
            return json_response(await fn(request.app.state.sim, request))
        except LookupError as exc:
            return error(404, "room_not_found", str(exc).strip("'\""))
        except StateError as exc:
            return error(409, "bad_room_state", str(exc))
        except ValueError as exc:
            return error(400, "bad_request", str(exc))

    return endpoint


async def body(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ValueError("body must be JSON") from None
    if not isinstance(data, dict):
        raise ValueError("body must be a JSON object")
    return data


async def list_rooms(sim: Simulator, request: Request) -> Any:
    return [room.info() for room in sim.registry.rooms.values()]


async def create_room(sim: Simulator, request: Request) -> Any:
    return sim.create_room(await body(request)).info()


async def get_room(sim: Simulator, request: Request) -> Any:
    return sim.room(request.path_params["web_rid"]).info()


async def room_log(sim: Simulator, request: Request) -> Any:
    since = request.query_params.get("since", "0")
    if not since.isdigit():
        raise ValueError("since must be a non-negative integer (a seq)")
    return sim.log_of(request.path_params["web_rid"], int(since))


def _ms(request: Request, name: str, default: int) -> int:
    text = request.query_params.get(name, "")
    if not text:
        return default
    if not text.isdigit():
        raise ValueError(f"{name} must be a non-negative integer (unix ms)")
    return int(text)


async def created(sim: Simulator, request: Request) -> Any:
    """Every room's emitted messages created in ``[from_ms, to_ms]`` (both optional), as
    ``{web_rid: [[msg_id, created_at], …]}`` in emission order: what a benchmark needs to time
    deliveries of hundreds of rooms in one request (a room's full log is much larger)."""
    lo, hi = _ms(request, "from_ms", 0), _ms(request, "to_ms", 1 << 62)
    if lo > hi:
        raise ValueError("from_ms must not be after to_ms")
    return {
        web_rid: [[e.msg_id, e.created_at] for e in room.log if lo <= e.created_at <= hi]
        for web_rid, room in sim.registry.rooms.items()
    }


async def room_totals(sim: Simulator, request: Request) -> Any:
    since = request.query_params.get("since", "0")
    if not since.isdigit():
        raise ValueError("since must be a non-negative integer (a seq)")
    return sim.totals_of(request.path_params["web_rid"], int(since))


async def connections(sim: Simulator, request: Request) -> Any:
    room = sim.room(request.path_params["web_rid"])
    return [conn.info() for conn in room.conns]


async def faults(sim: Simulator, request: Request) -> Any:
    return sim.set_faults(request.path_params["web_rid"], await body(request)).as_dict()


async def faults_all(sim: Simulator, request: Request) -> Any:
    return sim.set_faults_all(await body(request)).as_dict()


async def era(sim: Simulator, request: Request) -> Any:
    return sim.set_era(request.path_params["web_rid"], await body(request)).as_dict()


async def era_all(sim: Simulator, request: Request) -> Any:
    return sim.set_era_all(await body(request)).as_dict()


async def end(sim: Simulator, request: Request) -> Any:
    return sim.end(request.path_params["web_rid"]).info()


async def start(sim: Simulator, request: Request) -> Any:
    data = await body(request)
    room_id = data.get("room_id", 0)
    if isinstance(room_id, bool) or not isinstance(room_id, int) or room_id < 0:
        raise ValueError("room_id must be a positive integer")
    return sim.start(request.path_params["web_rid"], room_id).info()


async def inject(sim: Simulator, request: Request) -> Any:
    return sim.inject(request.path_params["web_rid"], await body(request))


async def rate(sim: Simulator, request: Request) -> Any:
    data = await body(request)
    if "rate" not in data:
        raise ValueError('body must be {"rate": <messages per second>}')
    return sim.set_rate(request.path_params["web_rid"], data["rate"]).info()


async def stats(sim: Simulator, request: Request) -> Any:
    return sim.stats()


async def login(sim: Simulator, request: Request) -> Any:
    """A logged-in identity: ``{"cookie": "<Cookie header value>", "uid": …, "expires_in": …}``."""
    data = await body(request)
    name = data.get("name", "")
    if not isinstance(name, str):
        raise ValueError("name must be a string")
    session, cookie = sim.guard.login(name)
    ttl = sim.config.defences.session_ttl
    return {"cookie": cookie, "uid": session.uid, "name": session.name, "expires_in": ttl or None}


async def expire(sim: Simulator, request: Request) -> Any:
    """End a login now (as --session-ttl would): the cookie is a guest's from here on."""
    sid = request.path_params["sid"]
    if not sim.guard.expire(sid):
        raise LookupError(f"session {sid[:6]}… not found")
    return {"expired": True}


def routes() -> list[Route]:
    r = "/__sim/rooms/{web_rid}"
    return [
        Route("/__sim/rooms", guarded(list_rooms), methods=["GET"]),
        Route("/__sim/rooms", guarded(create_room), methods=["POST"]),
        Route(r, guarded(get_room), methods=["GET"]),
        Route(r + "/log", guarded(room_log), methods=["GET"]),
        Route(r + "/totals", guarded(room_totals), methods=["GET"]),
        Route(r + "/connections", guarded(connections), methods=["GET"]),
        Route(r + "/faults", guarded(faults), methods=["POST"]),
        Route(r + "/era", guarded(era), methods=["POST"]),
        Route(r + "/end", guarded(end), methods=["POST"]),
        Route(r + "/start", guarded(start), methods=["POST"]),
        Route(r + "/inject", guarded(inject), methods=["POST"]),
        Route(r + "/rate", guarded(rate), methods=["POST"]),
        Route("/__sim/faults", guarded(faults_all), methods=["POST"]),
        Route("/__sim/era", guarded(era_all), methods=["POST"]),
        Route("/__sim/created", guarded(created), methods=["GET"]),
        Route("/__sim/stats", guarded(stats), methods=["GET"]),
        Route("/__sim/login", guarded(login), methods=["POST"]),
        Route("/__sim/sessions/{sid}/expire", guarded(expire), methods=["POST"]),
    ]
