"""Live fan-out: a per-room hub and ``GET /api/rooms/{room}/stream`` (Server-Sent Events).

Protocol (``text/event-stream``; the room is a web_rid, room_id or URL as elsewhere; token and
error envelope exactly as in the REST endpoints — errors are answered as JSON before the stream
starts):

- ``retry: 1000`` first, then one event per stored message, in seq order::

      id: <seq>
      data: <the rendered message: the same JSON as /douyin/liveroom/chat messages, store bytes>

- ``event: status`` every ``status_interval`` seconds (and once at the start) with the room's
  status: ``live, collecting, ended, state, transport, messages_per_second, viewers,
  likes_total, gaps, lag_seconds, last_seq, lagged`` and the room's anchor and title.
- ``event: live_status`` once at the start and whenever the room's broadcast state changes:
  ``{"status": "live" | "ended" | "waiting", "room_id", "web_rid"}`` (``waiting`` adds
  ``last_live_at`` and ``next_check_at``); a broadcast that ends sends ``ended``, then
  ``waiting`` while the room is followed. A stream opened by web_rid (or URL) moves on to the
  next broadcast by itself: the rest of the old one first, then ``live`` with the new room_id
  and its messages (event ids keep growing across broadcasts).
- ``: keepalive`` comments are implied by the status events (they also keep proxies open).
- Resumption: ``Last-Event-ID`` (sent by a reconnecting EventSource) or ``?last_event_id=``
  continues after that seq from the store: no gap, no repeat. Without it the stream starts with
  the latest ``count`` messages (default 50; ``count=0`` = live only). ``methods`` filters as in
  the chat endpoint; the default here is every method (a live view wants viewers and likes).
- A stream lasts at most ``max_duration`` seconds (30 by default, like the longest long-poll) and
  then ends; EventSource reconnects by itself with ``Last-Event-ID``, so this is invisible to a
  browser, bounds how long a graceful server shutdown waits, and re-checks the token.
- Opening a stream counts as a poll of the room (it starts / keeps collecting it), and so does
  every status tick while it is open.
- The token is re-checked at every status tick (:class:`~dylive.serve.live_token.LiveToken`):
  a revoked or expired token, or a used-up message quota, ends the stream with one
  ``event: error`` whose data is the error envelope (``40002``, ``42902``); the room limit of
  the tick's poll is the token's current one. A message quota also stops the stream at the
  message that would go past it (checked per message in the in-memory quota book).

The per-room hub that feeds the streams (and the WebSocket feeds) is
:class:`dylive.app.hub.StreamHub`, a subscriber of the service's commit fan-out.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from dylive.app.hub import StreamHub, Subscription
from dylive.collect.follow import StatusWatch
from dylive.errors import StoreError
from dylive.numbers import I64_MAX, ascii_uint
from dylive.source.room import RoomInfo, parse_ident
from dylive.store import StoredMessage

from . import collection
from .errors import BAD_PARAM, STORE, ApiError, envelope
from .live_token import LiveToken
from .params import int_param, methods_param

if TYPE_CHECKING:
    from .app import HttpService as Service

log = logging.getLogger(__name__)

Endpoint = Callable[[Request], Awaitable[Response]]

# -- the SSE endpoint -------------------------------------------------------------------------


def sse_message(message: StoredMessage) -> bytes:
    return b"id: %d\ndata: %s\n\n" % (message.seq, message.rendered)


def sse_status(status: dict[str, Any]) -> bytes:
    return b"event: status\ndata: " + orjson.dumps(status) + b"\n\n"


def sse_live_status(event: dict[str, Any]) -> bytes:
    return b"event: live_status\ndata: " + orjson.dumps(event) + b"\n\n"


def sse_error(err: ApiError) -> bytes:
    """The last event of a stream that ends on an error: the error envelope."""
    return b"event: error\ndata: " + orjson.dumps(envelope(err)) + b"\n\n"


@dataclass
class _Stream:
    """One open stream: where it is, what it wants, how to report status."""

    svc: Service
    info: RoomInfo
    live: bool
    token: LiveToken
    position: int
    methods: frozenset[str] | None
    watch: StatusWatch
    lagged: int = 0
    next_status: float = 0.0
    moved: bool = False  # the anchor's next broadcast is live: finish this one, then move

    @property
    def hub(self) -> StreamHub:
        return self.svc.stream

    def status(self) -> dict[str, Any]:
        room_id = self.info.room_id
        state = self.svc.rooms.rooms.get(room_id)
        base = state.status() if state is not None else {}
        transport = base.get("transport") or {}
        viewers, likes = self.hub.counters(room_id)
        gaps = int(base.get("gaps", 0)) + int(transport.get("gaps", 0) or 0)
        return {
            "room_id": room_id,
            "web_rid": self.info.web_rid,
            "title": base.get("title") or self.info.title,
            "anchor": base.get("anchor") or self.info.anchor_nickname,
            "live": self.live and not base.get("ended", False),
            "collecting": bool(base.get("collecting", False)),
            "ended": bool(base.get("ended", False)),
            "state": transport.get("state", ""),
            "transport": transport.get("transport", ""),
            "messages_per_second": round(float(base.get("messages_per_second", 0.0)), 2),
            "viewers": viewers,
            "likes_total": likes,
            "gaps": gaps,
            "lag_seconds": base.get("lag_seconds"),
            "last_seq": self.position,
            "lagged": self.lagged,
            "error": base.get("error", ""),
        }

    async def status_due(self) -> bytes | None:
        """The status events when the interval has passed (after re-checking the token, which
        raises ApiError to end the stream), else None."""
        now = time.monotonic()
        if now < self.next_status:
            return None
        self.next_status = now + self.hub.status_interval
        try:
            await self.token.recheck()
        except StoreError:
            raise ApiError(STORE) from None
        with contextlib.suppress(ApiError):  # keeps the room collected (counts as a poll)
            token = self.token
            collection.touch(self.svc, token.id, token.room_limit, self.info, self.live)
        events, moved_to = self.watch.changes()
        self.moved = self.moved or bool(moved_to)
        return sse_status(self.status()) + b"".join(sse_live_status(e) for e in events)

    def move(self) -> None:
        """Continue with the anchor's new broadcast (seqs keep growing: no gap, no repeat)."""
        state = self.svc.rooms.rooms.get(self.watch.room_id)
        if state is not None:
            self.info, self.live = state.info, True
        self.moved = False

    def wanted(self, message: StoredMessage) -> bool:
        return self.methods is None or message.method in self.methods

    async def catch_up(self) -> AsyncIterator[bytes]:
        """Everything stored after ``position``, read from the store at the client's pace."""
        size = self.hub.page_size
        while True:
            page = await self.svc.store.read(self.info.room_id, self.position, size, self.methods)
            token, deliver = self.token, self.svc.meter.deliver
            for message in page.messages:
                if token.capped and not token.may_send():  # a message quota used up
                    raise await token.quota_error()
                chunk = sse_message(message)
                deliver(token.id, "stream", 1, len(chunk))
                yield chunk
            self.position = max(self.position, page.last_seq)
            if len(page.messages) < size:
                return
            if (status := await self.status_due()) is not None:
                yield status

    async def live_tail(self, sub: Subscription, deadline: float) -> AsyncIterator[bytes]:
        """Messages from the hub until the deadline or until the subscription overflows."""
        while not sub.overflowed and not self.moved and (now := time.monotonic()) < deadline:
            wait = min(deadline, self.next_status) - now
            for message in await sub.take(wait):
                if message.seq <= self.position:
                    continue  # already sent by the catch-up
                self.position = message.seq
                if self.wanted(message):
                    token = self.token
                    if token.capped and not token.may_send():  # a message quota used up
                        raise await token.quota_error()
                    chunk = sse_message(message)
                    self.svc.meter.deliver(token.id, "stream", 1, len(chunk))
                    yield chunk
            if (status := await self.status_due()) is not None:
                yield status

    async def events(self) -> AsyncIterator[bytes]:
        yield b"retry: 1000\n\n"
        try:
            async for chunk in self._events():
                yield chunk
        except ApiError as exc:  # the token was revoked, expired or used up its message quota
            yield sse_error(exc)

    async def _events(self) -> AsyncIterator[bytes]:
        deadline = time.monotonic() + self.hub.max_duration
        first: Subscription | None = self.hub.subscribe(self.info.room_id)
        try:
            await self.hub.seeded(self.info.room_id, 2.0)  # the first status has the counters
            if (status := await self.status_due()) is not None:
                yield status
            while time.monotonic() < deadline:
                # subscribed before the catch-up: nothing missed
                sub, first = first or self.hub.subscribe(self.info.room_id), None
                try:
                    async for chunk in self.catch_up():
                        yield chunk
                    async for chunk in self.live_tail(sub, deadline):
                        yield chunk
                    if self.moved:
                        async for chunk in self.catch_up():  # the rest of the old broadcast
                            yield chunk
                        self.move()
                finally:
                    self.hub.unsubscribe(sub)
                if sub.overflowed:
                    self.lagged += 1
        finally:
            if first is not None:
                self.hub.unsubscribe(first)


def resume_point(request: Request) -> int | None:
    """The seq named by ``Last-Event-ID`` (header) or ``last_event_id`` (query), if any."""
    text = request.headers.get("last-event-id") or request.query_params.get("last_event_id")
    if text is None or not text.strip():
        return None
    seq = ascii_uint(text.strip(), max_digits=19)
    if seq is None or seq > I64_MAX:
        raise ApiError(BAD_PARAM, "Last-Event-ID must be a stream event id (a seq)")
    return seq


async def stream(request: Request) -> Response:
    svc: Service = request.app.state.svc
    q = request.query_params
    token = await svc.authorize(request)
    count = int_param(q, "count", svc.config.page_size, 0, svc.config.max_page)
    methods = methods_param(q) if q.get("methods") else None
    after = resume_point(request)
    info, live = await collection.lookup(svc, request.path_params["room"])
    collection.touch(svc, token.id, token.room_limit, info, live)
    if after is None:
        after = await svc.store.backlog_start(info.room_id, count, methods)
    moves = bool(parse_ident(request.path_params["room"])[0])  # a web_rid names the anchor
    watch = StatusWatch(
        lambda: svc.rooms.live_status(info.web_rid if moves else "", info.room_id),
        info.room_id,
        moves=moves,
    )
    live_token = LiveToken(svc, token)
    state = _Stream(svc, info, live, live_token, after, methods, watch)
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(state.events(), media_type="text/event-stream", headers=headers)


def routes(guard: Callable[[str, Endpoint], Endpoint]) -> list[Route]:
    return [Route("/api/rooms/{room}/stream", guard("stream", stream), methods=["GET"])]


__all__ = [
    "StreamHub",
    "Subscription",
    "resume_point",
    "routes",
    "sse_error",
    "sse_message",
    "sse_status",
]
