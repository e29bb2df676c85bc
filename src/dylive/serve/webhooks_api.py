"""The HTTP face of webhooks (``dylive.deliver.webhooks``); every route needs a token and a token
sees only its own webhooks (another token's id answers 40403 as if it did not exist).

- ``POST /api/webhooks`` ``{url, secret?, rooms: [room…], methods?: [...], batch_size?, batch_ms?}``
  → the webhook (``secret`` is echoed only when the service generated it, this once).
- ``GET /api/webhooks`` — the token's webhooks with state, lag, counters and last error.
- ``GET /api/webhooks/{id}`` — one webhook, with its dead letters (the oldest 100).
- ``DELETE /api/webhooks/{id}`` — stop and forget it (positions and dead letters too).
- ``POST /api/webhooks/{id}/pause`` / ``POST /api/webhooks/{id}/resume``.
- ``POST /api/webhooks/{id}/dead-letters/{letter}/replay`` — send a dead letter again now.
- ``POST /api/webhooks/{id}/rotate-secret`` ``{secret?, grace_seconds?}`` → a new secret (echoed
  when generated); the old one keeps signing for ``grace_seconds`` (86400; 0 = stops at once).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from dylive.decode import DECODERS
from dylive.decode.methods import method_names
from dylive.deliver.targets import TargetRefused
from dylive.deliver.webhooks import new_secret, secret_problem
from dylive.errors import RoomNotFound
from dylive.source.room import parse_ident
from dylive.store import TokenRecord, WebhookRecord

from . import collection
from .errors import (
    BAD_PARAM,
    BAD_ROOM,
    NO_WEBHOOK,
    REPLAY_FAILED,
    ROOM_LIMIT,
    UNKNOWN_ROOM,
    WEBHOOK_TARGET,
    ApiError,
    ok,
)

if TYPE_CHECKING:
    from .app import HttpService as Service

log = logging.getLogger(__name__)

Endpoint = Callable[[Request], Awaitable[Response]]

MAX_BODY = 64 * 1024
MAX_ROOMS = 100


async def _body(request: Request) -> dict[str, Any]:
    try:
        raw = await request.body()
    except ClientDisconnect:  # the client left (or the edge's body timeout): nobody to answer
        log.info("%s %s: the client disconnected before its body", request.method, request.url.path)
        raise ApiError(BAD_PARAM, "the client disconnected before sending the whole body") from None
    if len(raw) > MAX_BODY:
        raise ApiError(BAD_PARAM, f"the request body is larger than {MAX_BODY} bytes")
    try:
        body = orjson.loads(raw or b"{}")
    except orjson.JSONDecodeError:
        raise ApiError(BAD_PARAM, "the request body must be a JSON object") from None
    if not isinstance(body, dict):
        raise ApiError(BAD_PARAM, "the request body must be a JSON object")
    return body


def _int_field(body: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ApiError(BAD_PARAM, f"{name} must be an integer between {low} and {high}")
    return value


def _rooms_field(body: dict[str, Any]) -> list[str]:
    rooms = body.get("rooms")
    if not isinstance(rooms, list) or not rooms or len(rooms) > MAX_ROOMS:
        raise ApiError(BAD_PARAM, f"rooms must be a list of 1 to {MAX_ROOMS} room identifiers")
    idents: list[str] = []
    for item in rooms:
        ident = str(item).strip() if isinstance(item, str | int) else ""
        try:
            parse_ident(ident)
        except RoomNotFound as exc:
            raise ApiError(BAD_ROOM, str(exc)) from None
        if ident not in idents:
            idents.append(ident)
    return idents


def _methods_field(body: dict[str, Any]) -> list[str]:
    methods = body.get("methods") or []
    if isinstance(methods, str):
        methods = methods.split(",")
    if not isinstance(methods, list) or not all(isinstance(m, str) for m in methods):
        raise ApiError(BAD_PARAM, "methods must be a list of method names or short names")
    names = [m.strip() for m in methods if m.strip()]
    if names:
        try:
            method_names(",".join(names), known=DECODERS)
        except ValueError as exc:
            raise ApiError(BAD_PARAM, str(exc)) from None
    return names


def _secret_field(body: dict[str, Any]) -> tuple[str, bool]:
    """``(secret, generated)``."""
    secret = body.get("secret")
    if secret is None or secret == "":
        return new_secret(), True
    if not isinstance(secret, str):
        raise ApiError(BAD_PARAM, "secret must be a string of 16 to 256 characters")
    problem = secret_problem(secret)
    if problem is not None:
        raise ApiError(BAD_PARAM, problem)
    return secret, False


async def _resolve_rooms(svc: Service, token: TokenRecord, idents: list[str]) -> dict[int, int]:
    """``{room_id: start seq}`` of the rooms resolvable now (the others are resolved later)."""
    start: dict[int, int] = {}
    for ident in idents:
        try:
            info, live = await collection.lookup(svc, ident)
        except ApiError as exc:
            if exc.kind is UNKNOWN_ROOM:
                raise
            continue  # not live yet, or upstream trouble: the webhook waits for it
        collection.touch(svc, token.id, token.room_limit, info, live)
        start[info.room_id] = await svc.store.last_seq(info.room_id)
    return start


async def create(request: Request) -> Response:
    svc: Service = request.app.state.svc
    token = await svc.authorize(request)
    body = await _body(request)
    url = body.get("url")
    if not isinstance(url, str) or not url.strip():
        raise ApiError(BAD_PARAM, "url is required")
    secret, generated = _secret_field(body)
    idents = _rooms_field(body)
    methods = _methods_field(body)
    batch_size = _int_field(body, "batch_size", 100, 1, 1000)
    batch_ms = _int_field(body, "batch_ms", 100, 0, 60_000)
    try:
        await svc.webhooks.check_target(url.strip())
    except TargetRefused as exc:
        raise ApiError(WEBHOOK_TARGET, str(exc)) from None
    owned = {r for h in await svc.store.webhooks(token.id) for r in h.rooms}
    if token.room_limit and len(owned | set(idents)) > token.room_limit:
        raise ApiError(ROOM_LIMIT, f"this token may follow {token.room_limit} room(s)")
    start = await _resolve_rooms(svc, token, idents)
    record = WebhookRecord(
        0, token.id, url.strip(), secret, tuple(idents), tuple(methods), batch_size, batch_ms
    )
    hook = await svc.webhooks.register(record, start)
    data = await svc.webhooks.describe(hook)
    if generated:
        data["secret"] = secret  # shown this once; never again
    return ok(data)


async def _owned(request: Request) -> tuple[Service, WebhookRecord]:
    svc: Service = request.app.state.svc
    token = await svc.authorize(request)
    try:
        hook_id = int(request.path_params["hook"])
    except ValueError:
        raise ApiError(NO_WEBHOOK) from None
    for hook in await svc.store.webhooks(token.id):
        if hook.id == hook_id:
            return svc, hook
    raise ApiError(NO_WEBHOOK)


async def listing(request: Request) -> Response:
    svc: Service = request.app.state.svc
    token = await svc.authorize(request)
    hooks = await svc.store.webhooks(token.id)
    return ok({"webhooks": [await svc.webhooks.describe(h) for h in hooks]})


async def one(request: Request) -> Response:
    svc, hook = await _owned(request)
    if request.method == "DELETE":
        await svc.webhooks.remove(hook.id)
        return ok({"id": hook.id, "deleted": True})
    return ok(await svc.webhooks.describe(hook, letters=100))


async def pause(request: Request) -> Response:
    svc, hook = await _owned(request)
    paused = request.url.path.endswith("/pause")
    await svc.webhooks.set_paused(hook, paused)
    return ok({"id": hook.id, "state": "paused" if paused else "active"})


async def replay(request: Request) -> Response:
    svc, hook = await _owned(request)
    outbox = svc.webhooks.outbox(hook.id)
    try:
        letter_id = int(request.path_params["letter"])
    except ValueError:
        raise ApiError(BAD_PARAM, "the dead letter id must be an integer") from None
    if outbox is None or await svc.store.dead_letter(outbox.consumer, letter_id) is None:
        raise ApiError(NO_WEBHOOK, f"webhook {hook.id} has no dead letter {letter_id}")
    error = await outbox.replay(letter_id)
    if error is not None:
        raise ApiError(REPLAY_FAILED, error)
    return ok({"id": hook.id, "dead_letter": letter_id, "replayed": True})


GRACE_SECONDS = 86_400
MAX_GRACE_SECONDS = 30 * 86_400


async def rotate_secret(request: Request) -> Response:
    svc, hook = await _owned(request)
    body = await _body(request)
    secret, generated = _secret_field(body)
    if secret == hook.secret:
        raise ApiError(BAD_PARAM, "the new secret must differ from the current one")
    grace = _int_field(body, "grace_seconds", GRACE_SECONDS, 0, MAX_GRACE_SECONDS)
    hook = await svc.webhooks.rotate(hook, secret, grace * 1000)
    data: dict[str, Any] = {"id": hook.id, "previous_secret_until": hook.previous_until}
    if generated:
        data["secret"] = secret  # shown this once; never again
    return ok(data)


def routes(guard: Callable[[str, Endpoint], Endpoint]) -> list[Route]:
    return [
        Route("/api/webhooks", guard("webhooks", listing), methods=["GET"]),
        Route("/api/webhooks", guard("webhook_create", create), methods=["POST"]),
        Route("/api/webhooks/{hook}", guard("webhook", one), methods=["GET", "DELETE"]),
        Route("/api/webhooks/{hook}/pause", guard("webhook_pause", pause), methods=["POST"]),
        Route("/api/webhooks/{hook}/resume", guard("webhook_pause", pause), methods=["POST"]),
        Route(
            "/api/webhooks/{hook}/dead-letters/{letter}/replay",
            guard("webhook_replay", replay),
            methods=["POST"],
        ),
        Route(
            "/api/webhooks/{hook}/rotate-secret",
            guard("webhook_rotate", rotate_secret),
            methods=["POST"],
        ),
    ]
