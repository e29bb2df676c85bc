"""The WebSocket feed: one room's stored messages pushed to a client, resumable, bounded.

Protocol of ``GET /api/rooms/{room}/ws`` (JSON text frames, server → client):

- ``{"type": "hello", "room_id", "web_rid", "live", "cursor", "last_seq"}`` first;
- ``{"type": "messages", "room_id", "cursor", "last_seq", "messages": [...]}`` — messages rendered
  exactly as the chat endpoint renders them, in seq order; ``cursor`` is the chat endpoint's
  cursor after the last one (reconnect with ``?cursor=<it>`` to continue with no gap and no repeat);
- ``{"type": "live_status", "status": "live" | "ended" | "waiting", "room_id", "web_rid"}`` at
  the start and whenever the broadcast state changes (``waiting`` adds ``last_live_at`` and
  ``next_check_at``); a feed opened by web_rid moves on to the anchor's next broadcast by itself
  (the rest of the old one first; ``messages`` frames carry the new ``room_id``);
- ``{"type": "heartbeat", "now", "cursor", "last_seq"}`` every ``heartbeat`` seconds (the cursor
  also moves past messages the ``methods`` filter skipped). WebSocket pings are sent too (uvicorn).

A text ``ping`` from the client is answered with a text ``pong``; anything else is ignored.

Slow clients (bounded fan-out): the room's pump offers each stored batch to every client's queue
of at most ``queue_size`` messages and never waits. A client whose queue overflows, or that does not
take a frame within ``send_timeout`` seconds, is disconnected with close code 4008 and a reason
naming the limit; it reconnects with its last cursor and loses nothing (the store has everything).
While a resuming client catches up from the store, an overflow only re-attaches it.

Close codes: 1000 normal, 4008 slow client, 4000 + HTTP status for an API error (4401 bad or
revoked token, 4400 bad parameter, 4403 room limit, 4404 unknown room, 4409 not live,
4429 rate limit, 4502 upstream, 4503 store); an error frame ``{"type": "error", "code", "msg",
"data"}`` (the REST envelope) precedes an error close.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from dylive.store import EventLog, StoredMessage
from dylive.store.cursor import make_cursor

from .douyinlive import FrameCache

log = logging.getLogger(__name__)

CLOSE_SLOW = 4008


class Socket(Protocol):
    """The few WebSocket operations a session needs (Starlette's ``WebSocket`` has them)."""

    async def send_text(self, data: str) -> None: ...

    async def receive_text(self) -> str: ...

    async def close(self, code: int = 1000, reason: str | None = None) -> None: ...


class Subscription(Protocol):
    overflowed: bool

    async def take(self, within: float) -> list[StoredMessage]: ...


class Hub(Protocol):
    def subscribe(self, room_id: int, limit: int | None = None) -> Subscription: ...

    async def started(self, room_id: int) -> None: ...

    def unsubscribe(self, sub: Any) -> None: ...


@dataclass
class FeedStats:
    """Counters of one feed kind (``dylive`` or ``douyinlive``), read by /metrics."""

    clients: int = 0
    connections: int = 0
    messages: int = 0  # messages sent (those the client's methods take)
    frames: int = 0
    slow_closed: int = 0
    resumed: int = 0
    per_room: dict[int, int] = field(default_factory=dict)  # room -> open clients


class Formatter(Protocol):
    """Turns stored messages into frames for one kind of client."""

    room_id: int

    def wanted(self, messages: Sequence[StoredMessage]) -> Sequence[StoredMessage]:
        """The messages of a batch the client takes (its ``methods``; a metered feed cuts them
        to its quota here): the session filters each batch here once, hands :meth:`frames`
        these alone and counts them as sent."""
        ...

    async def frames(self, messages: Sequence[StoredMessage], position: int) -> list[str]:
        """The frames of ``messages``, already :meth:`wanted` (none filtered again), for a
        batch that ends at seq ``position``."""
        ...

    def heartbeat(self, position: int) -> str | None: ...


class Slow(Exception):
    """The client did not keep up (the close reason says how)."""


class Closed(Exception):
    """The client went away."""


class Refused(Exception):
    """End the session with an error: ``frame`` (if any) is sent, then close with ``code``."""

    def __init__(self, code: int, reason: str, frame: str | None = None) -> None:
        super().__init__(reason)
        self.code = code
        self.frame = frame


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class DyliveFormat:
    """The ``/api/rooms/{room}/ws`` frames (see the module doc)."""

    def __init__(self, room_id: int, methods: frozenset[str] | None) -> None:
        self.room_id = room_id
        self.methods = methods
        self.last_msg_id = 0

    def cursor(self, position: int) -> str:
        return make_cursor(_now_ms(), self.last_msg_id, position)

    def wanted(self, messages: Sequence[StoredMessage]) -> Sequence[StoredMessage]:
        methods = self.methods
        return messages if methods is None else [m for m in messages if m.method in methods]

    async def frames(self, messages: Sequence[StoredMessage], position: int) -> list[str]:
        if not messages:  # already wanted (FeedSession._deliver)
            return []
        self.last_msg_id = messages[-1].msg_id
        head = orjson.dumps(
            {
                "type": "messages",
                "room_id": self.room_id,
                "cursor": self.cursor(position),
                "last_seq": position,
            }
        )
        body = head[:-1] + b',"messages":[' + b",".join(m.rendered for m in messages) + b"]}"
        return [body.decode()]

    def heartbeat(self, position: int) -> str | None:
        frame = {"type": "heartbeat", "now": _now_ms(), "cursor": self.cursor(position)}
        return orjson.dumps({**frame, "last_seq": position}).decode()


@dataclass
class FeedSession:
    """One connected client of one room (see the module doc); ``run`` returns when it ends."""

    socket: Socket
    hub: Hub
    store: EventLog
    room_id: int
    position: int
    formatter: Formatter
    stats: FeedStats
    queue_size: int = 1000
    send_timeout: float = 10.0
    heartbeat: float = 15.0
    page_size: int = 500
    #: every ``tick_every`` s (re-check the token, keep the room); raises Refused to end it
    on_tick: Callable[[], Awaitable[None]] | None = None
    tick_every: float = 2.0
    #: after each delivery (e.g. a quota reached by it); raises Refused to end the session
    after_deliver: Callable[[], Awaitable[None]] | None = None
    done: Callable[[], bool] | None = None  # checked after each delivery: True ends the session
    #: every ``status_every`` s: (live_status frames to send, a new broadcast's room_id to move
    #: to or 0) — the feed follows the anchor into its next broadcast
    watch: Callable[[], tuple[list[str], int]] | None = None
    status_every: float = 2.0
    _next_beat: float = 0.0
    _next_status: float = 0.0
    _next_tick: float = 0.0

    async def run(self) -> None:
        """Catch up from the store, then follow the room until the client or the room goes."""
        reader = asyncio.create_task(self._read(), name=f"feed-reader-{self.room_id}")
        first_room = self.room_id  # counted under the room it opened (it may move on)
        self.stats.clients += 1
        self.stats.connections += 1
        self.stats.per_room[first_room] = self.stats.per_room.get(first_room, 0) + 1
        self._next_beat = time.monotonic() + self.heartbeat
        self._next_tick = time.monotonic() + self.tick_every
        try:
            follow = asyncio.create_task(self._follow(), name=f"feed-{self.room_id}")
            done, _ = await asyncio.wait({reader, follow}, return_when=asyncio.FIRST_COMPLETED)
            for task in (reader, follow):
                task.cancel()
            await asyncio.gather(reader, follow, return_exceptions=True)
            if follow in done and not follow.cancelled():
                await self._finish(follow.exception())
        finally:
            self.stats.clients -= 1
            left = self.stats.per_room.get(first_room, 1) - 1
            if left:
                self.stats.per_room[first_room] = left
            else:
                self.stats.per_room.pop(first_room, None)

    async def _finish(self, exc: BaseException | None) -> None:
        if isinstance(exc, Slow):
            self.stats.slow_closed += 1
            log.info("room %s: slow feed client closed: %s", self.room_id, exc)
            await self._close(CLOSE_SLOW, str(exc))
        elif isinstance(exc, Refused):
            if exc.frame is not None:
                with contextlib.suppress(Slow, Closed):
                    await self._send(exc.frame)
            await self._close(exc.code, str(exc))
        elif isinstance(exc, Closed) or exc is None:
            return
        else:
            log.warning("room %s: feed failed: %r", self.room_id, exc)
            await self._close(1011, "internal error")

    async def _close(self, code: int, reason: str) -> None:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(self.send_timeout):
                await self.socket.close(code, reason[:120])

    async def _read(self) -> None:
        """Answer text pings; return when the client disconnects."""
        with contextlib.suppress(Exception):
            while True:
                text = await self.socket.receive_text()
                if text.strip() == "ping":
                    await self._send("pong")

    async def _send(self, frame: str) -> None:
        try:
            async with asyncio.timeout(self.send_timeout):
                await self.socket.send_text(frame)
        except TimeoutError:
            raise Slow(
                f"slow client: a frame was not taken within {self.send_timeout:g}s"
            ) from None
        except Exception as exc:
            raise Closed(str(exc)) from None
        self.stats.frames += 1

    async def _follow(self) -> None:
        while (
            True
        ):  # re-attach when the queue overflowed during a catch-up (not the client's fault)
            sub = self.hub.subscribe(self.room_id, self.queue_size)
            try:
                await self.hub.started(self.room_id)  # then catching up leaves no gap
                await self._catch_up()
                if sub.overflowed:
                    continue
                if not await self._live(sub):
                    return
            finally:
                self.hub.unsubscribe(sub)

    async def _catch_up(self) -> None:
        while True:
            page = await self.store.read(self.room_id, self.position, self.page_size)
            if page.messages:
                await self._deliver(page.messages, page.last_seq)
            self.position = max(self.position, page.last_seq)
            if len(page.messages) < self.page_size:
                return

    async def _deliver(self, messages: Sequence[StoredMessage], last_seq: int) -> None:
        wanted = self.formatter.wanted(messages)  # the one filter by the client's methods
        for frame in await self.formatter.frames(wanted, last_seq):
            await self._send(frame)
        # the messages sent: the client's methods, cut at a message quota (which ends the feed)
        self.stats.messages += len(wanted)
        if self.after_deliver is not None:
            await self.after_deliver()

    async def _live(self, sub: Subscription) -> bool:
        """Deliver until the session ends (False) or moves to a new broadcast (True)."""
        while True:
            wake = min(self._next_beat, self._next_tick if self.on_tick else self._next_beat)
            wake = min(wake, self._next_status) if self.watch else wake
            messages = await sub.take(max(0.0, wake - time.monotonic()))
            if sub.overflowed:
                raise Slow(f"slow client: more than {self.queue_size} messages queued")
            fresh = [m for m in messages if m.seq > self.position]
            if fresh:
                await self._deliver(fresh, fresh[-1].seq)
                self.position = fresh[-1].seq
                if self.done is not None and self.done():
                    return False
            if self.watch is not None and time.monotonic() >= self._next_status:
                self._next_status = time.monotonic() + self.status_every
                frames, moved_to = self.watch()
                for frame in frames:
                    await self._send(frame)
                if moved_to:
                    await self._catch_up()  # the rest of the old broadcast
                    self.room_id = moved_to
                    self.formatter.room_id = moved_to
                    return True
            if self.on_tick is not None and time.monotonic() >= self._next_tick:
                self._next_tick = time.monotonic() + self.tick_every
                await self.on_tick()
            if time.monotonic() >= self._next_beat:
                self._next_beat = time.monotonic() + self.heartbeat
                beat = self.formatter.heartbeat(self.position)
                if beat is not None:
                    await self._send(beat)


@dataclass
class FeedSettings:
    """Service-wide feed settings."""

    queue_size: int = 1000  # messages queued per client before it counts as slow
    send_timeout: float = 10.0  # seconds a client may take to accept one frame
    heartbeat: float = 15.0  # seconds between heartbeat frames
    recheck: float = 2.0  # seconds between token re-checks (revoked, expired, quota, plan)
    offline_retry: float = 30.0  # douyinLive path: seconds between looks at an offline room


class Feeds:
    """Every feed client of the service: settings, counters, the shared douyinLive frame cache."""

    def __init__(self, hub: Hub, store: EventLog, settings: FeedSettings | None = None) -> None:
        self.hub = hub
        self.store = store
        self.settings = settings or FeedSettings()
        self.dylive = FeedStats()
        self.douyinlive = FeedStats()
        self.frame_cache = FrameCache()

    @property
    def offline_retry(self) -> float:
        return self.settings.offline_retry

    def session(
        self, socket: Socket, room_id: int, position: int, fmt: Formatter, stats: FeedStats
    ) -> FeedSession:
        s = self.settings
        return FeedSession(
            socket,
            self.hub,
            self.store,
            room_id,
            position,
            fmt,
            stats,
            queue_size=s.queue_size,
            send_timeout=s.send_timeout,
            heartbeat=s.heartbeat,
            tick_every=s.recheck,
        )
