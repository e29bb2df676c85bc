"""The HTTP face of the WebSocket feed (``dylive.deliver.feed``) and the douyinLive-compatible path.

- ``GET /api/rooms/{room}/ws`` — token as ``?token=`` or in ``Sec-WebSocket-Protocol``
  (offer ``dylive`` and ``bearer.<token>``; the server selects ``dylive``). Query: ``cursor`` /
  ``internal_ext`` (continue after it, as the chat endpoint), else ``count`` latest messages first
  (default 0 = live only); ``methods`` as the chat endpoint (default: its set; ``all``).
- ``GET /ws/{live_id}`` — douyinLive's path and frames (``dylive.deliver.douyinlive``). The token
  is taken the same way; when the service runs with ``--douyinlive-token NAME``, connections
  without a token use that token, so douyinLive's clients connect unchanged.

A token holds at most ``feed_quota.MAX_FEEDS_PER_TOKEN`` feeds open at a time (both paths): one
more is refused with code 40302. Client frames are capped by the server (``limits.WS_MAX_BYTES``).

A token over a quota is refused when it connects (42902, close 4429). An open feed re-checks its
token every ``FeedSettings.recheck`` seconds (2 by default; :mod:`dylive.serve.live_token`):
revoked or expired ends it with the error frame and 4401, a used-up message quota with 42902
and 4429; the room is kept collected under the token's current room limit. A message quota also
cuts the batch that reaches it (the quota book, asked once per batch), then the feed ends (4429).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import orjson
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from dylive.app.usage import MeteredFormat
from dylive.collect.follow import StatusWatch
from dylive.deliver.douyinlive import DouyinLiveFormat, status_frame
from dylive.deliver.feed import DyliveFormat, Refused
from dylive.errors import StoreError
from dylive.source.room import RoomInfo, parse_ident
from dylive.store import TokenRecord

from . import collection, tokens
from .errors import BAD_ROOM, BAD_TOKEN, ROOM_NOT_LIVE, STORE, UNKNOWN_ROOM, ApiError, envelope
from .feed_quota import quota_of
from .live_token import LiveToken
from .params import int_param, methods_param, position_param

if TYPE_CHECKING:
    from .app import HttpService as Service

log = logging.getLogger(__name__)


def _offered(ws: WebSocket) -> list[str]:
    return [p.strip() for p in ws.scope.get("subprotocols", []) if p.strip()]


def _subprotocol(ws: WebSocket) -> str | None:
    offered = _offered(ws)
    if "dylive" in offered:
        return "dylive"
    return offered[0] if offered else None


def _token_text(ws: WebSocket) -> str | None:
    for proto in _offered(ws):
        if proto.startswith("bearer."):
            return proto[len("bearer.") :]
    return ws.query_params.get("token") or None


async def _authorize(svc: Service, ws: WebSocket, fallback: str = "") -> TokenRecord:
    text = _token_text(ws)
    if text is None and fallback:
        for record in await svc.store.list_tokens():
            if record.name == fallback and record.active:
                svc.limiter.check(record.id, record.rate)
                await svc.check_quota(record)
                return record
        raise ApiError(BAD_TOKEN, f"the --douyinlive-token {fallback!r} is not an active token")
    record = await tokens.authenticate(svc.store, text)
    svc.limiter.check(record.id, record.rate)
    await svc.check_quota(record)
    return record


def _refusal(exc: ApiError) -> Refused:
    frame = {"type": "error", **envelope(exc)}
    return Refused(4000 + exc.kind.status, exc.detail or exc.kind.msg, orjson.dumps(frame).decode())


async def _reject(ws: WebSocket, exc: ApiError) -> None:
    refusal = _refusal(exc)
    await ws.accept(subprotocol=_subprotocol(ws))
    with contextlib.suppress(Exception):
        await ws.send_text(refusal.frame or "")
        await ws.close(refusal.code, str(refusal)[:120])


def _ticker(
    svc: Service, token: LiveToken, info: RoomInfo, live: bool
) -> Callable[[], Awaitable[None]]:
    """Every re-check: the token must still be valid and within its message quota, and the
    room stays collected (under the token's current room limit)."""

    async def tick() -> None:
        try:
            await token.recheck()
            collection.touch(svc, token.id, token.room_limit, info, live)
        except ApiError as exc:
            raise _refusal(exc) from None
        except StoreError:
            raise _refusal(ApiError(STORE)) from None

    return tick


def _metered(svc: Service, fmt: object, token: LiveToken) -> MeteredFormat:
    """``fmt`` metered for the token (messages sent: its usage), cut at its message quota."""
    return MeteredFormat(fmt, svc.meter, token.id, token.messages_left)


def _quota_end(token: LiveToken, metered: MeteredFormat) -> Callable[[], Awaitable[None]]:
    """After each delivery: end the feed (42902, 4429) once it reached the message quota."""

    async def check() -> None:
        if metered.exhausted:
            raise _refusal(await token.quota_error())

    return check


async def feed(ws: WebSocket) -> None:
    with contextlib.ExitStack() as held:  # the token's feed slot, released however it ends
        await _feed(ws, held)


async def _feed(ws: WebSocket, held: contextlib.ExitStack) -> None:
    svc: Service = ws.app.state.svc
    q = ws.query_params
    try:
        token = await _authorize(svc, ws)
        held.enter_context(quota_of(ws.app).hold(token.id))
        count = int_param(q, "count", 0, 0, svc.config.max_page)
        methods = methods_param(q)
        after = position_param(q)
        info, live = await collection.lookup(svc, ws.path_params["room"])
        collection.touch(svc, token.id, token.room_limit, info, live)
        if after is None:
            after = await svc.store.backlog_start(info.room_id, count) if count else None
        if after is None:
            after = await svc.store.last_seq(info.room_id)
        else:
            svc.feeds.dylive.resumed += 1
    except ApiError as exc:
        await _reject(ws, exc)
        return
    except StoreError:
        await _reject(ws, ApiError(STORE))
        return
    await ws.accept(subprotocol=_subprotocol(ws))
    fmt = DyliveFormat(info.room_id, methods)
    hello = {"type": "hello", "room_id": info.room_id, "web_rid": info.web_rid, "live": live}
    hello.update(cursor=fmt.cursor(after), last_seq=after)
    await ws.send_text(orjson.dumps(hello).decode())
    live_token = LiveToken(svc, token)
    metered = _metered(svc, fmt, live_token)
    session = svc.feeds.session(ws, info.room_id, after, metered, svc.feeds.dylive)
    session.on_tick = _ticker(svc, live_token, info, live)
    session.after_deliver = _quota_end(live_token, metered)
    session.watch = _live_status(svc, info, moves=bool(parse_ident(ws.path_params["room"])[0]))
    await session.run()


def _live_status(
    svc: Service, info: RoomInfo, *, moves: bool
) -> Callable[[], tuple[list[str], int]]:
    """The feed's live_status frames; a feed opened by web_rid follows the anchor."""
    watch = StatusWatch(
        lambda: svc.rooms.live_status(info.web_rid if moves else "", info.room_id),
        info.room_id,
        moves=moves,
    )

    def changes() -> tuple[list[str], int]:
        events, moved_to = watch.changes()
        frames = [orjson.dumps({"type": "live_status", **e}).decode() for e in events]
        return frames, moved_to

    return changes


async def douyinlive(ws: WebSocket) -> None:
    with contextlib.ExitStack() as held:  # the token's feed slot, released however it ends
        await _douyinlive(ws, held)


async def _douyinlive(ws: WebSocket, held: contextlib.ExitStack) -> None:
    svc: Service = ws.app.state.svc
    live_id = ws.path_params["live_id"]
    try:
        token = await _authorize(svc, ws, svc.config.douyinlive_token)
        held.enter_context(quota_of(ws.app).hold(token.id))
    except ApiError as exc:
        await _reject(ws, exc)
        return
    await ws.accept(subprotocol=_subprotocol(ws))
    live_token = LiveToken(svc, token)
    while await _douyinlive_round(svc, ws, live_token, live_id):
        pass


async def _douyinlive_round(svc: Service, ws: WebSocket, token: LiveToken, live_id: str) -> bool:
    """One look at the room: follow it while live, else wait; False when the connection ends."""
    retry = svc.feeds.offline_retry
    try:
        await token.recheck()  # between broadcasts too (the wait offline is a retry interval)
    except ApiError as exc:
        await _reject_open(ws, exc)
        return False
    except StoreError:
        await _reject_open(ws, ApiError(STORE))
        return False
    try:
        info, live = await collection.lookup(svc, live_id)
        if live:
            collection.touch(svc, token.id, token.room_limit, info, live)
    except ApiError as exc:
        if exc.kind in (UNKNOWN_ROOM, BAD_ROOM):
            await ws.send_text(status_frame("ROOM_NOT_FOUND", live_id).decode())
            await ws.close(1000)
            return False
        if exc.kind.status < 500 and exc.kind.code != ROOM_NOT_LIVE.code:
            await _reject_open(ws, exc)
            return False
        info, live = RoomInfo(web_rid=live_id, room_id=0, status=0), False
    name, title = info.anchor_nickname, info.title
    if not live:
        offline = status_frame(
            "ROOM_OFFLINE", live_id, live_name=name, title=title, retry=int(retry)
        )
        await ws.send_text(offline.decode())
        return await _wait_offline(ws, retry)
    await ws.send_text(status_frame("ROOM_ONLINE", live_id, live_name=name, title=title).decode())
    cache = svc.feeds.frame_cache
    fmt = DouyinLiveFormat(
        svc.store, info.room_id, live_id, live_name=name, title=title, cache=cache
    )
    after = await svc.store.last_seq(info.room_id)
    metered = _metered(svc, fmt, token)
    session = svc.feeds.session(ws, info.room_id, after, metered, svc.feeds.douyinlive)
    session.on_tick = _ticker(svc, token, info, live)
    session.after_deliver = _quota_end(token, metered)
    session.done = fmt.is_ended
    await session.run()
    if not fmt.ended:
        return False  # the client left or was closed
    return await _wait_offline(ws, retry)  # ended: look for the next broadcast in a while


async def _reject_open(ws: WebSocket, exc: ApiError) -> None:
    refusal = _refusal(exc)
    with contextlib.suppress(Exception):
        await ws.send_text(refusal.frame or "")
        await ws.close(refusal.code, str(refusal)[:120])


async def _wait_offline(ws: WebSocket, seconds: float) -> bool:
    """Answer text pings for ``seconds``; False when the client left."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while (remaining := deadline - loop.time()) > 0:
        try:
            async with asyncio.timeout(remaining):
                text = await ws.receive_text()
        except TimeoutError:
            return True
        except Exception:
            return False
        if text.strip() == "ping":
            await ws.send_text("pong")
    return True


def routes() -> list[WebSocketRoute]:
    return [
        WebSocketRoute("/api/rooms/{room}/ws", feed),
        WebSocketRoute("/ws/{live_id}", douyinlive),
    ]
