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

Slow-consumer policy (practice 8, bounded fan-out): ingest only calls :meth:`StreamHub.notify`,
which sets an event and returns — it never waits for a viewer. One pump task per watched room
reads each new batch once from the store and offers it to every subscriber's bounded queue
(``queue_size`` messages, 1,000 by default). A subscriber whose queue would overflow is detached
(its queue dropped, ``overflows`` counted) and its stream falls back to reading the store after
the last seq it sent, page by page at the client's own pace, and re-attaches once caught up. A
slow client therefore costs one bounded queue and its own store reads, never a gap, and never
slows ingest or other viewers; the number of fallbacks is reported as ``lagged`` in its status.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from dylive.errors import StoreError
from dylive.numbers import I64_MAX, ascii_uint
from dylive.source.room import RoomInfo
from dylive.store import EventStore, StoredMessage

from . import collection
from .errors import BAD_PARAM, ApiError
from .params import int_param, methods_param

if TYPE_CHECKING:
    from .app import Service

log = logging.getLogger(__name__)

Endpoint = Callable[[Request], Awaitable[Response]]

SEQ_METHOD = "WebcastRoomUserSeqMessage"
LIKE_METHOD = "WebcastLikeMessage"


@dataclass(eq=False)
class Subscription:
    """One viewer's bounded queue of stored messages for one room."""

    room_id: int
    limit: int
    items: deque[StoredMessage] = field(default_factory=deque)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    overflowed: bool = False

    def offer(self, messages: Sequence[StoredMessage]) -> bool:
        """Queue ``messages`` without waiting; False (and detached) when the queue would overflow."""
        if self.overflowed:
            return False
        if len(self.items) + len(messages) > self.limit:
            self.overflowed = True
            self.items.clear()
        else:
            self.items.extend(messages)
        self.wake.set()
        return not self.overflowed

    async def take(self, within: float) -> list[StoredMessage]:
        """Everything queued, waiting up to ``within`` seconds for something ([] on timeout)."""
        if not self.items and not self.overflowed:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(within, 0.0)):  # not wait_for: see _pump
                    await self.wake.wait()
        self.wake.clear()
        out = list(self.items)
        self.items.clear()
        return out


@dataclass(eq=False)
class _Channel:
    """One watched room: its subscribers, the seq published so far, live counters."""

    room_id: int
    subs: set[Subscription] = field(default_factory=set)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    published: int = 0
    viewers: int | None = None
    likes_total: int = 0
    task: asyncio.Task[None] | None = None
    seeded: asyncio.Event = field(default_factory=asyncio.Event)  # counters known from the store
    started: asyncio.Event = field(default_factory=asyncio.Event)  # ``published`` is set

    def observe(self, messages: Sequence[StoredMessage]) -> None:
        """Track the viewer count and the likes total from the messages that carry them."""
        for m in messages:
            if m.method not in (SEQ_METHOD, LIKE_METHOD):
                continue
            try:
                payload = orjson.loads(m.rendered).get("payload", {})
            except orjson.JSONDecodeError:
                continue
            if m.method == SEQ_METHOD:
                self.viewers = int(payload.get("viewers", {}).get("total", 0)) or self.viewers
            else:
                total = int(payload.get("like", {}).get("total", 0))
                self.likes_total = max(self.likes_total, total)


class StreamHub:
    """Per-room fan-out of stored messages to bounded subscriber queues (see module doc)."""

    def __init__(
        self,
        store: EventStore,
        *,
        queue_size: int = 1000,
        page_size: int = 500,
        status_interval: float = 2.0,
        max_duration: float = 30.0,
        poll_interval: float = 1.0,
    ) -> None:
        self.store = store
        self.queue_size = queue_size
        self.page_size = page_size
        self.status_interval = status_interval
        self.max_duration = max_duration
        self.poll_interval = poll_interval  # re-read even without notify (rows from elsewhere)
        self.overflows = 0
        self.delivered = 0
        self._channels: dict[int, _Channel] = {}

    # -- ingest side --------------------------------------------------------------------------
    def notify(self, room_id: int, inserted: int = 1) -> None:
        """Called by ingest after a batch is stored: wake the room's pump; never blocks."""
        channel = self._channels.get(room_id)
        if channel is not None and inserted:
            channel.wake.set()

    # -- subscriber side ----------------------------------------------------------------------
    def subscribe(self, room_id: int, limit: int | None = None) -> Subscription:
        """A bounded queue (``limit`` messages, default ``queue_size``) of the room's new rows."""
        channel = self._channels.get(room_id)
        if channel is None:
            channel = self._channels[room_id] = _Channel(room_id)
            channel.task = asyncio.create_task(self._pump(channel), name=f"dylive-stream-{room_id}")
        sub = Subscription(room_id, limit or self.queue_size)
        channel.subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        channel = self._channels.get(sub.room_id)
        if channel is None:
            return
        channel.subs.discard(sub)
        if not channel.subs:
            del self._channels[sub.room_id]
            if channel.task is not None:
                channel.task.cancel()

    def subscribers(self, room_id: int) -> int:
        channel = self._channels.get(room_id)
        return len(channel.subs) if channel is not None else 0

    def counters(self, room_id: int) -> tuple[int | None, int]:
        """``(viewers, likes_total)`` seen by the room's pump (None/0 when unknown)."""
        channel = self._channels.get(room_id)
        return (channel.viewers, channel.likes_total) if channel else (None, 0)

    async def close(self) -> None:
        tasks = [c.task for c in self._channels.values() if c.task is not None]
        self._channels.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    # -- the pump -----------------------------------------------------------------------------
    async def _pump(self, channel: _Channel) -> None:
        try:
            channel.published = await self.store.last_seq(channel.room_id)
        finally:
            channel.started.set()
        with contextlib.suppress(StoreError):
            await self._seed(channel)
        channel.seeded.set()
        while True:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancellation that
            # arrives as the awaited event fires, and close() would then wait forever
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_interval):
                    await channel.wake.wait()
            channel.wake.clear()
            try:
                await self._publish(channel)
            except StoreError as exc:
                log.warning("room %s: stream read failed: %s", channel.room_id, exc)

    async def _seed(self, channel: _Channel) -> None:
        """Counters from the room's latest stored viewer count and like message, however many
        other messages came after them."""
        for method in (SEQ_METHOD, LIKE_METHOD):
            only = frozenset({method})
            start = await self.store.backlog_start(channel.room_id, 1, only)
            page = await self.store.read(channel.room_id, start, 1, only)
            channel.observe(page.messages)

    async def started(self, room_id: int, within: float = 5.0) -> None:
        """Wait (at most ``within`` s) until the room's pump knows the seq it publishes after. A
        subscriber that catches up from the store only then misses no row: the pump publishes
        every row after that seq, and the catch-up reads up to at least it. (Reading first, the
        pump could start after rows committed since the read and publish none of them.)"""
        channel = self._channels.get(room_id)
        if channel is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(within):
                    await channel.started.wait()

    async def seeded(self, room_id: int, within: float) -> None:
        """Wait (at most ``within`` s) until the room's counters are read from the store."""
        channel = self._channels.get(room_id)
        if channel is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(within):
                    await channel.seeded.wait()

    async def _publish(self, channel: _Channel) -> None:
        while True:
            page = await self.store.read(channel.room_id, channel.published, self.page_size)
            channel.published = max(channel.published, page.last_seq)
            if not page.messages:
                return
            channel.observe(page.messages)
            for sub in list(channel.subs):
                if sub.offer(page.messages):
                    self.delivered += len(page.messages)
                else:
                    channel.subs.discard(sub)
                    self.overflows += 1
                    log.info("room %s: slow stream subscriber -> store", channel.room_id)
            if len(page.messages) < self.page_size:
                return


# -- the SSE endpoint -------------------------------------------------------------------------


def sse_message(message: StoredMessage) -> bytes:
    return b"id: %d\ndata: %s\n\n" % (message.seq, message.rendered)


def sse_status(status: dict[str, Any]) -> bytes:
    return b"event: status\ndata: " + orjson.dumps(status) + b"\n\n"


@dataclass
class _Stream:
    """One open stream: where it is, what it wants, how to report status."""

    svc: Service
    info: RoomInfo
    live: bool
    token_id: int
    room_limit: int
    position: int
    methods: frozenset[str] | None
    lagged: int = 0
    next_status: float = 0.0

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

    def status_due(self) -> bytes | None:
        now = time.monotonic()
        if now < self.next_status:
            return None
        self.next_status = now + self.hub.status_interval
        with contextlib.suppress(ApiError):  # keeps the room collected (counts as a poll)
            collection.touch(self.svc, self.token_id, self.room_limit, self.info, self.live)
        return sse_status(self.status())

    def wanted(self, message: StoredMessage) -> bool:
        return self.methods is None or message.method in self.methods

    async def catch_up(self) -> AsyncIterator[bytes]:
        """Everything stored after ``position``, read from the store at the client's pace."""
        size = self.hub.page_size
        while True:
            page = await self.svc.store.read(self.info.room_id, self.position, size, self.methods)
            for message in page.messages:
                yield sse_message(message)
            self.position = max(self.position, page.last_seq)
            if len(page.messages) < size:
                return
            if (status := self.status_due()) is not None:
                yield status

    async def live_tail(self, sub: Subscription, deadline: float) -> AsyncIterator[bytes]:
        """Messages from the hub until the deadline or until the subscription overflows."""
        while not sub.overflowed and (now := time.monotonic()) < deadline:
            wait = min(deadline, self.next_status) - now
            for message in await sub.take(wait):
                if message.seq <= self.position:
                    continue  # already sent by the catch-up
                self.position = message.seq
                if self.wanted(message):
                    yield sse_message(message)
            if (status := self.status_due()) is not None:
                yield status

    async def events(self) -> AsyncIterator[bytes]:
        deadline = time.monotonic() + self.hub.max_duration
        yield b"retry: 1000\n\n"
        first: Subscription | None = self.hub.subscribe(self.info.room_id)
        try:
            await self.hub.seeded(self.info.room_id, 2.0)  # the first status has the counters
            if (status := self.status_due()) is not None:
                yield status
            while time.monotonic() < deadline:
                # subscribed before the catch-up: nothing missed
                sub, first = first or self.hub.subscribe(self.info.room_id), None
                try:
                    async for chunk in self.catch_up():
                        yield chunk
                    async for chunk in self.live_tail(sub, deadline):
                        yield chunk
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
    state = _Stream(svc, info, live, token.id, token.room_limit, after, methods)
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(state.events(), media_type="text/event-stream", headers=headers)


def routes(guard: Callable[[str, Endpoint], Endpoint]) -> list[Route]:
    return [Route("/api/rooms/{room}/stream", guard("stream", stream), methods=["GET"])]


__all__ = ["StreamHub", "Subscription", "resume_point", "routes", "sse_message", "sse_status"]
