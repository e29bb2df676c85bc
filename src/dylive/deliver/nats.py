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
- The server need not be up when the node starts: the node serves at once and connects in the
  background, retrying every few seconds (one log line per new reason, no tracebacks). Until
  JetStream answers, stored messages wait in the outbox (positions do not move) and the reason
  is shown in ``/healthz`` (``degraded``) and ``/api/fleet`` (``this.sink``). A connection lost
  later is re-established the same way; publishing resumes from the stored positions.
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
from nats.aio.client import Client
from nats.js.api import StorageType, StreamConfig
from nats.js.errors import NotFoundError

from dylive.errors import DyliveError
from dylive.store import EventStore
from dylive.store.dburl import redact

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
    """An outbox sink: publishes a batch, returns once JetStream acknowledged all of it.

    :meth:`connect` retries until the server answers (no tracebacks: one log line per new
    reason); :attr:`state` and :attr:`error` say where it stands. :meth:`send` waits while the
    connection is down, so the outbox keeps its positions and nothing becomes a dead letter
    because the server was away.
    """

    def __init__(
        self, target: NatsTarget, *, ack_timeout: float = 10.0, retry_wait: float = 2.0
    ) -> None:
        self.target = target
        self.ack_timeout = ack_timeout
        self.retry_wait = retry_wait  # seconds between connection attempts
        self._nc: Any = None
        self._js: Any = None
        self._up = asyncio.Event()  # connected and the stream exists: sends may go
        self._ready = False  # the stream was made sure of (a reconnect needs not do it again)
        self._logged = ""  # the last reason logged (each new one is logged once)
        self.state = "stopped"  # connecting | connected | reconnecting | stream error | closed
        self.error = ""  # why it is not connected (the last error seen), "" when connected
        self.changed_at = time.monotonic()
        self.published = 0  # acknowledged publishes (re-sends included)
        self.duplicates = 0  # re-sends JetStream recognised and dropped

    @property
    def connected(self) -> bool:
        return self._up.is_set()

    def _set(self, state: str, error: str = "") -> None:
        self.state, self.changed_at = state, time.monotonic()
        self.error = error or (self.error if state != "connected" else "")

    def _note(self, error: str) -> None:
        """Record why it is not connected; log it once per new reason."""
        self.error = error
        if error != self._logged:
            self._logged = error
            log.warning(
                "nats: %s: %s (retrying every %g s; stored messages wait in the outbox)",
                redact(self.target.server),
                error,
                self.retry_wait,
            )

    async def _on_error(self, exc: Exception) -> None:
        self._note(_one_line(exc))

    async def _on_disconnected(self) -> None:
        if self._up.is_set():
            self._up.clear()
            self._set("reconnecting")
            log.warning("nats: disconnected from %s; reconnecting", redact(self.target.server))

    async def _on_reconnected(self) -> None:
        if self._ready:
            self._logged = ""
            self._set("connected")
            self._up.set()
            log.info("nats: reconnected to %s", redact(self.target.server))

    async def connect(self) -> None:
        """Connect and make sure the stream exists, retrying both until they succeed (cancel
        to give up); the client reconnects by itself after that."""
        self._set("connecting")
        self._nc = Client()
        await self._nc.connect(
            servers=[self.target.server],
            error_cb=self._on_error,
            disconnected_cb=self._on_disconnected,
            reconnected_cb=self._on_reconnected,
            max_reconnect_attempts=-1,  # forever, the first connection included
            reconnect_time_wait=self.retry_wait,
            connect_timeout=5,
        )
        self._js = self._nc.jetstream(timeout=self.ack_timeout)
        while True:
            try:
                await self.ensure_stream()
                break
            except SinkError as exc:
                self._set("stream error")
                self._note(str(exc))
                await asyncio.sleep(self.retry_wait)
        self._ready, self._logged = True, ""
        self._set("connected")
        self._up.set()

    async def ensure_stream(self) -> None:
        """Create the stream unless it exists (an existing one is used as configured)."""
        try:
            await self._js.stream_info(self.target.stream)
            return
        except NotFoundError:
            pass
        except Exception as exc:  # JetStream not enabled, no answer, connection lost
            raise SinkError(f"cannot read stream {self.target.stream}: {_one_line(exc)}") from exc
        config = StreamConfig(
            name=self.target.stream,
            subjects=[f"{self.target.prefix}.>"],
            storage=StorageType.FILE,
            duplicate_window=DUPLICATE_WINDOW,
        )
        try:
            await self._js.add_stream(config)
        except Exception as exc:
            raise SinkError(f"cannot create stream {self.target.stream}: {_one_line(exc)}") from exc
        log.info("nats: created stream %s (%s.>)", self.target.stream, self.target.prefix)

    async def close(self) -> None:
        """Close the connection (or give up connecting); bounded, never hangs a shutdown."""
        self._up.clear()
        self._ready = False
        self._set("closed")
        nc, self._nc = self._nc, None
        if nc is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(5):
                    await nc.close()

    async def send(self, batch: Batch) -> None:
        """Publish every message of the batch in order; raise if any is not acknowledged.
        While the connection is down it waits (the batch stays in the outbox)."""
        await self._up.wait()
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


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


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
        """Return at once: connecting (retried until the server answers) and publishing run
        in the background; until then stored messages wait (see :meth:`problems`)."""
        self._task = asyncio.create_task(self._run(), name="dylive-nats")

    async def _run(self) -> None:
        await self.sink.connect()
        log.info("nats: publishing to %s stream %s", redact(self.target.server), self.target.stream)
        if self._rooms is not None:
            await self._follow(self._rooms)
            return
        while None not in self._outboxes:
            try:
                await self._open(None)
            except Exception as exc:  # the store failed: try again
                log.warning("nats: %s", exc)
                await asyncio.sleep(self._scan_interval)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        outboxes, self._outboxes = list(self._outboxes.values()), {}
        await asyncio.gather(*(o.stop() for o in outboxes))
        await self.sink.close()

    def notify(self, room_id: int) -> None:
        """A hint that ``room_id`` has new messages stored here: the every-room outbox picks a
        new room up at once instead of at its next scan (a fleet node's outboxes are one a held
        room, each already waiting on its room)."""
        outbox = self._outboxes.get(None)
        if outbox is not None:
            outbox.notify(room_id)

    def problems(self) -> list[str]:
        """Why nothing is published right now (empty when connected), for ``/healthz``."""
        sink = self.sink
        if sink.connected or sink.state in ("stopped", "closed"):
            return []
        since = time.monotonic() - sink.changed_at
        why = f": {sink.error}" if sink.error else ""
        return [
            f"nats sink {redact(self.target.server)} {sink.state} for {since:.0f} s{why}; "
            "stored messages wait in the outbox"
        ]

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
            "server": redact(self.target.server),
            "stream": self.target.stream,
            "connected": self.sink.connected,
            "state": self.sink.state,
            "error": self.sink.error,
            "state_seconds": round(time.monotonic() - self.sink.changed_at, 1),
            "published": self.sink.published,
            "duplicates_dropped": self.sink.duplicates,
            "outboxes": len(self._outboxes),
            "delivered": delivered,
        }


async def stream_info(url: str) -> dict[str, Any]:
    """``{"messages", "bytes", "first_seq", "last_seq"}`` of the stream a sink URL names."""
    target = NatsTarget.parse(url)
    nc = await nats.connect(target.server, connect_timeout=5, allow_reconnect=False)
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
