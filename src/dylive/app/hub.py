"""Live fan-out of stored messages: one pump per watched room, bounded subscriber queues.

A subscriber of the service's commit fan-out (:class:`dylive.app.commits.Commits`): every commit
of a room, ours or another node's, calls :meth:`StreamHub.notify`. Consumers are the SSE stream
(``GET /api/rooms/{room}/stream``) and the WebSocket feeds (:mod:`dylive.deliver.feed`).

Slow-consumer policy (practice 8, bounded fan-out): a commit only calls :meth:`StreamHub.notify`,
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
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import orjson

from dylive.errors import StoreError
from dylive.store import EventLog, StoredMessage

log = logging.getLogger(__name__)

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
        store: EventLog,
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
        """A batch of the room was committed (the commit fan-out): wake its pump; never blocks."""
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
