"""Fan-out to NATS JetStream: every stored message published once, from the store.

``dylive serve --sink nats://127.0.0.1:4222`` (``?stream=NAME`` picks the stream, default
``DYLIVE``; ``&prefix=`` the subject prefix, default ``dylive.room``):

- On start the node connects and creates the stream if it is absent (subjects ``<prefix>.>``,
  file storage, a duplicate window of 10 minutes).
- Each stored message is published to ``<prefix>.<room_id>.<method short name>`` (for example
  ``dylive.room.6922580638159719176.chat``) with the stored JSON as payload and the header
  ``Nats-Msg-Id: <msg_id>``.
- Publishing runs from the store through the durable outbox (:mod:`dylive.deliver.outbox`,
  consumer ``nats:<stream>``): a room's position advances only after JetStream acknowledged
  every message of a batch. A crash re-sends from the position; JetStream drops a re-sent
  ``Nats-Msg-Id`` within its duplicate window, so consumers see every message exactly once.
- In a fleet each node publishes the rooms it holds. A room that moves to another node is
  published there from the position stored in the database (a fresh outbox per room, so a
  position is never taken from a stale memory). A room that left a node keeps publishing there
  until it has caught up with what is stored (at most a minute), so the last batch of a room
  that ended or was handed off is not left behind; what two nodes send twice in the overlap is
  dropped by the duplicate window.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import nats
from nats.js.api import StorageType, StreamConfig
from nats.js.errors import NotFoundError

from dylive.errors import DyliveError
from dylive.store import EventStore

from .outbox import Batch, Outbox, OutboxPolicy

log = logging.getLogger(__name__)

DEFAULT_STREAM = "DYLIVE"
DEFAULT_PREFIX = "dylive.room"
DUPLICATE_WINDOW = 600.0  # seconds JetStream remembers a Nats-Msg-Id
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


class SinkError(DyliveError):
    """The NATS sink cannot be set up (bad URL, server unreachable, stream refused)."""


def short_name(method: str) -> str:
    """``WebcastRoomUserSeqMessage`` → ``room_user_seq``; safe as one subject token."""
    core = method.removeprefix("Webcast").removesuffix("Message") or method
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", core).lower()
    return _UNSAFE.sub("_", snake) or "unknown"


@dataclass(frozen=True)
class NatsTarget:
    """Where to publish: the server URL, the stream and the subject prefix."""

    server: str
    stream: str = DEFAULT_STREAM
    prefix: str = DEFAULT_PREFIX

    @classmethod
    def parse(cls, url: str) -> NatsTarget:
        parts = urlsplit(url)
        if parts.scheme not in ("nats", "tls") or not parts.hostname:
            raise SinkError(f"not a NATS URL: {url[:100]!r} (expected nats://host:port)")
        query = parse_qs(parts.query)
        stream = query.get("stream", [DEFAULT_STREAM])[0]
        prefix = query.get("prefix", [DEFAULT_PREFIX])[0]
        if _UNSAFE.search(stream) or not prefix or " " in prefix or "*" in prefix:
            raise SinkError(f"bad stream or prefix in {url[:100]!r}")
        return cls(urlunsplit(parts._replace(query="")), stream, prefix)

    def subject(self, room_id: int, method: str) -> str:
        return f"{self.prefix}.{room_id}.{short_name(method)}"


class JetStreamSink:
    """An outbox sink: publishes a batch, returns once JetStream acknowledged all of it."""

    def __init__(self, target: NatsTarget, *, ack_timeout: float = 10.0) -> None:
        self.target = target
        self.ack_timeout = ack_timeout
        self._nc: Any = None
        self._js: Any = None
        self.published = 0  # acknowledged publishes (re-sends included)
        self.duplicates = 0  # re-sends JetStream recognised and dropped

    async def connect(self) -> None:
        try:
            self._nc = await nats.connect(
                self.target.server, max_reconnect_attempts=-1, connect_timeout=5
            )
        except Exception as exc:
            raise SinkError(f"cannot connect to {self.target.server}: {exc}") from exc
        self._js = self._nc.jetstream(timeout=self.ack_timeout)
        await self.ensure_stream()

    async def ensure_stream(self) -> None:
        """Create the stream unless it exists (an existing one is used as configured)."""
        try:
            await self._js.stream_info(self.target.stream)
            return
        except NotFoundError:
            pass
        config = StreamConfig(
            name=self.target.stream,
            subjects=[f"{self.target.prefix}.>"],
            storage=StorageType.FILE,
            duplicate_window=DUPLICATE_WINDOW,
        )
        try:
            await self._js.add_stream(config)
        except Exception as exc:
            raise SinkError(f"cannot create stream {self.target.stream}: {exc}") from exc
        log.info("nats: created stream %s (%s.>)", self.target.stream, self.target.prefix)

    async def close(self) -> None:
        if self._nc is not None:
            with contextlib.suppress(Exception):
                await self._nc.drain()
            self._nc = None

    async def send(self, batch: Batch) -> None:
        """Publish every message of the batch in order; raise if any is not acknowledged."""
        acks = await asyncio.gather(
            *(
                self._js.publish(
                    self.target.subject(m.room_id, m.method),
                    m.rendered,
                    headers={"Nats-Msg-Id": str(m.msg_id)},
                )
                for m in batch.messages
            )
        )
        self.published += len(acks)
        self.duplicates += sum(1 for a in acks if a.duplicate)


RoomSet = Callable[[], Collection[int]]


class NatsPublisher:
    """Runs the outbox(es) that feed one JetStream sink.

    ``rooms=None``: one outbox for every room with stored messages (a single node). ``rooms``
    given (a fleet node: the rooms it holds): one outbox per held room, started when the room
    appears (reading its position from the store then) and stopped when it goes.
    """

    def __init__(
        self,
        store: EventStore,
        url: str,
        *,
        rooms: RoomSet | None = None,
        policy: OutboxPolicy | None = None,
        scan_interval: float = 1.0,
        linger: float = 60.0,
    ) -> None:
        self.store = store
        self.target = NatsTarget.parse(url)
        self.sink = JetStreamSink(self.target)
        self.consumer = f"nats:{self.target.stream}"
        self._rooms = rooms
        self._policy = policy or OutboxPolicy(batch_size=500, batch_ms=50)
        self._scan_interval = scan_interval
        self._linger = linger  # a room that left keeps publishing until caught up, at most this
        self._outboxes: dict[int | None, Outbox] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.sink.connect()
        if self._rooms is None:
            await self._open(None)
        else:
            self._task = asyncio.create_task(self._follow(self._rooms), name="dylive-nats")
        log.info("nats: publishing to %s stream %s", self.target.server, self.target.stream)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        outboxes, self._outboxes = list(self._outboxes.values()), {}
        await asyncio.gather(*(o.stop() for o in outboxes))
        await self.sink.close()

    async def _open(self, room_id: int | None) -> None:
        rooms = None if room_id is None else [room_id]
        outbox = Outbox(self.store, self.consumer, self.sink, rooms=rooms, policy=self._policy)
        await outbox.start()
        self._outboxes[room_id] = outbox

    async def _follow(self, rooms: RoomSet) -> None:
        leaving: dict[int, float] = {}  # room -> when its outbox stops at the latest
        while True:
            try:
                wanted = set(rooms())
                for room_id in wanted - set(self._outboxes):
                    await self._open(room_id)
                for room_id in wanted:
                    leaving.pop(room_id, None)
                for room_id in [r for r in self._outboxes if r is not None and r not in wanted]:
                    deadline = leaving.setdefault(room_id, time.monotonic() + self._linger)
                    if time.monotonic() > deadline or await self._caught_up(room_id):
                        leaving.pop(room_id, None)
                        await self._outboxes.pop(room_id).stop()
            except Exception as exc:
                log.warning("nats: %s", exc)
            await asyncio.sleep(self._scan_interval)

    async def _caught_up(self, room_id: int) -> bool:
        """Whether a room that left this node has everything stored here published (its last
        batch is flushed when it is handed off or ends; nobody else may publish it)."""
        done = self._outboxes[room_id].positions().get(room_id, 0)
        return done >= await self.store.last_seq(room_id)

    def stats(self) -> dict[str, Any]:
        delivered = sum(o.stats.delivered for o in self._outboxes.values())
        return {
            "stream": self.target.stream,
            "published": self.sink.published,
            "duplicates_dropped": self.sink.duplicates,
            "outboxes": len(self._outboxes),
            "delivered": delivered,
        }


async def stream_info(url: str) -> dict[str, Any]:
    """``{"messages", "bytes", "first_seq", "last_seq"}`` of the stream a sink URL names."""
    target = NatsTarget.parse(url)
    nc = await nats.connect(target.server, connect_timeout=5)
    try:
        info = await nc.jetstream().stream_info(target.stream)
        state = info.state
        return {
            "messages": state.messages,
            "bytes": state.bytes,
            "first_seq": state.first_seq,
            "last_seq": state.last_seq,
        }
    finally:
        await nc.close()
