"""A durable outbox: deliver every stored message to a sink at least once, in seq order per room.

How it works (the transactional-outbox pattern; the messages table *is* the outbox):

- A consumer has a name (``"webhook:<id>"``, ``"nats:<name>"``…) and, in the store, one position
  per room: the seq up to which the sink has acknowledged (``EventStore.consumer_positions`` /
  ``set_consumer_position``).
- One task per room reads the stored messages after the position (``EventStore.read``, in seq
  order, filtered by ``methods``), waits up to ``batch_ms`` for a batch of up to ``batch_size``,
  and awaits ``sink.send(batch)``. Returning normally is the acknowledgement: only then is the
  position advanced (committed). Raising means "not delivered": the same batch is retried with
  capped exponential backoff and full jitter. So a crash or restart re-sends from the position,
  never skips: **at least once, in order per room**; duplicates are possible after a crash or a
  lost acknowledgement, and receivers de-duplicate by ``msg_id``.
- A batch that keeps failing for ``dead_after`` seconds becomes a *dead letter* (stored with its
  messages and last error, and the position moved past it in the same transaction); the room
  goes on. :meth:`Outbox.replay` sends a dead letter again and deletes it on success.
- A consumer whose deliveries have all failed for ``pause_after`` seconds is *paused*: every room
  task stops sending (positions stay, nothing is dropped) until :meth:`Outbox.resume`.
- New messages wake the room tasks through ``EventStore.wait_for`` (in-process signals for
  SQLite, LISTEN/NOTIFY for PostgreSQL, so rows written by another process are seen too).

Using it from another sink (for example a NATS JetStream publisher)::

    class JetStreamSink:
        async def send(self, batch: Batch) -> None:
            for m in batch.messages:            # in seq order
                await js.publish(subject, m.rendered, headers={"Nats-Msg-Id": f"{m.room_id}:{m.msg_id}"})
            # returning = acknowledged: the outbox advances the room's position to batch.last_seq

    outbox = Outbox(store, "nats:main", JetStreamSink(), rooms=None)   # None = every room
    await outbox.start()      # runs until stop(); positions survive restarts
    ...
    await outbox.stop()

Run at most one :class:`Outbox` per consumer name at a time (two would both send, which is still
at-least-once, but wasteful). ``rooms`` is a fixed collection of room_ids, an async callable
returning the current set (re-evaluated every ``scan_interval`` seconds), or ``None`` for every room
with stored messages (``EventStore.room_heads``). A room seen for the first time starts at
``start_seq(room_id)`` when given, else at 0 (everything stored for it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import orjson

from dylive.errors import StoreError
from dylive.store import DeadLetter, EventStore, StoredMessage

log = logging.getLogger(__name__)

RoomSource = Collection[int] | Callable[[], Awaitable[Collection[int]]] | None


@dataclass(frozen=True, slots=True)
class Batch:
    """Messages of one room handed to a sink: ``messages`` in seq order.

    ``last_seq`` is where the room's position moves once the sink acknowledges (it may be past
    the last message when rows not matching the consumer's methods were skipped). ``delivery_id``
    is stable across retries of the same batch. ``attempt`` counts from 1; ``replay`` marks a
    dead letter sent again.
    """

    consumer: str
    room_id: int
    messages: Sequence[StoredMessage]
    last_seq: int
    delivery_id: str
    attempt: int = 1
    replay: bool = False


class Sink(Protocol):
    """Where an outbox delivers. Return = acknowledged; raise = not delivered (will retry)."""

    async def send(self, batch: Batch) -> None: ...


@dataclass(frozen=True, slots=True)
class OutboxPolicy:
    """Batching, retry and give-up settings (seconds unless named ``_ms``)."""

    batch_size: int = 100
    batch_ms: int = 100  # wait this long after a message is stored for more to batch
    backoff_initial: float = 0.2
    backoff_max: float = 60.0
    dead_after: float = 600.0  # a batch failing this long becomes a dead letter
    pause_after: float = 3600.0  # a consumer failing this long (no success at all) is paused
    idle_wait: float = 5.0  # wake up at least this often even without a signal
    scan_interval: float = 5.0  # how often the room set is re-evaluated


@dataclass(slots=True)
class OutboxStats:
    """Counters of one consumer (read by the metrics endpoint and the API)."""

    delivered: int = 0  # messages acknowledged
    batches: int = 0  # batches acknowledged
    retried: int = 0  # failed attempts
    dead_lettered: int = 0  # messages moved to dead letters
    replayed: int = 0  # dead letters delivered on replay
    last_error: str = ""
    last_error_at: int = 0  # ms
    last_success_at: int = 0  # ms
    pending_since: dict[int, int] = field(default_factory=dict)  # room -> stored_at of oldest

    def lag_seconds(self) -> float:
        """Age of the oldest message handed to the sink and not yet acknowledged (0 if none)."""
        if not self.pending_since:
            return 0.0
        return max(0.0, (_now_ms() - min(self.pending_since.values())) / 1000)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def backoff_delay(attempt: int, policy: OutboxPolicy) -> float:
    """Capped exponential with jitter: uniform(c/2, c), c = min(max, initial * 2^(attempt-1))."""
    ceiling = min(policy.backoff_max, policy.backoff_initial * 2 ** min(attempt - 1, 30))
    return random.uniform(ceiling / 2, ceiling)


def letter_body(messages: Sequence[StoredMessage]) -> bytes:
    """The bytes a dead letter keeps: enough to rebuild the batch (see ``DeadLetter``)."""
    parts = [
        b'{"seq":%d,"msg_id":%d,"method":%s,"created_at":%d,"stored_at":%d,"message":%s}'
        % (m.seq, m.msg_id, orjson.dumps(m.method), m.created_at, m.stored_at, m.rendered)
        for m in messages
    ]
    return b"[" + b",".join(parts) + b"]"


def letter_messages(letter: DeadLetter) -> list[StoredMessage]:
    return [
        StoredMessage(
            seq=int(item["seq"]),
            room_id=letter.room_id,
            msg_id=int(item["msg_id"]),
            method=str(item["method"]),
            created_at=int(item["created_at"]),
            stored_at=int(item["stored_at"]),
            rendered=orjson.dumps(item["message"]),
        )
        for item in orjson.loads(letter.body)
    ]


class Outbox:
    """Deliver one consumer's rooms to a sink (see the module doc for the guarantees)."""

    def __init__(
        self,
        store: EventStore,
        consumer: str,
        sink: Sink,
        *,
        rooms: RoomSource = None,
        methods: frozenset[str] | None = None,
        policy: OutboxPolicy | None = None,
        start_seq: Callable[[int], Awaitable[int]] | None = None,
        on_pause: Callable[[str], Awaitable[None]] | None = None,
        paused: bool = False,
    ) -> None:
        self.store = store
        self.consumer = consumer
        self.sink = sink
        self.methods = methods
        self.policy = policy or OutboxPolicy()
        self.stats = OutboxStats()
        self._rooms = rooms
        self._start_seq = start_seq
        self._on_pause = on_pause
        self._running = asyncio.Event()
        if not paused:
            self._running.set()
        self.pause_reason = "paused" if paused else ""
        self._failing_since = 0.0  # monotonic time of the first failure since the last success
        self._positions: dict[int, int] = {}
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._supervisor: asyncio.Task[None] | None = None
        self._rescan = asyncio.Event()

    # -- lifecycle ------------------------------------------------------------------------------
    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    async def start(self) -> None:
        """Load the positions and start delivering (returns at once)."""
        self._positions = await self.store.consumer_positions(self.consumer)
        self._supervisor = asyncio.create_task(self._supervise(), name=f"outbox-{self.consumer}")

    async def stop(self) -> None:
        """Stop every task (an unacknowledged batch is simply re-sent next time)."""
        tasks = [t for t in (self._supervisor, *self._tasks.values()) if t is not None]
        self._supervisor = None
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def notify(self, room_id: int) -> None:
        """Optional hint that ``room_id`` has new messages (a new room is picked up at once)."""
        if room_id not in self._tasks:
            self._rescan.set()

    def pause(self, reason: str) -> None:
        self.pause_reason = reason
        self._running.clear()

    def resume(self) -> None:
        self.pause_reason = ""
        self._failing_since = 0.0
        self._running.set()

    def positions(self) -> dict[int, int]:
        """The acknowledged position per room (as of now, in memory)."""
        return dict(self._positions)

    # -- rooms ----------------------------------------------------------------------------------
    async def _current_rooms(self) -> Collection[int]:
        if self._rooms is None:
            return (await self.store.room_heads()).keys()
        if callable(self._rooms):
            return await self._rooms()
        return self._rooms

    async def _supervise(self) -> None:
        while True:
            # cleared before listing, not after: a notify() while the rooms are listed (a room
            # committed after the listing's snapshot) is kept and lists them again at once
            self._rescan.clear()
            try:
                wanted = set(await self._current_rooms())
            except (StoreError, OSError) as exc:
                log.warning("%s: cannot list rooms: %s", self.consumer, exc)
                wanted = set(self._tasks)
            except Exception as exc:  # a room source's own failure: keep the current rooms
                log.warning("%s: room source failed: %r", self.consumer, exc)
                wanted = set(self._tasks)
            for room_id in wanted - set(self._tasks):
                self._tasks[room_id] = asyncio.create_task(
                    self._room_loop(room_id), name=f"outbox-{self.consumer}-{room_id}"
                )
            for room_id in set(self._tasks) - wanted:
                self._tasks.pop(room_id).cancel()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.policy.scan_interval):
                    await self._rescan.wait()

    # -- one room -------------------------------------------------------------------------------
    async def _room_loop(self, room_id: int) -> None:
        position = self._positions.get(room_id)
        if position is None:
            position = await self._start_seq(room_id) if self._start_seq else 0
            self._positions[room_id] = position
        while True:
            try:
                await self._running.wait()
                batch = await self._collect(room_id, position)
                if batch is not None:
                    await self._deliver(batch)
                    position = batch.last_seq
            except StoreError as exc:
                log.warning("%s: room %s: store failed: %s", self.consumer, room_id, exc)
                await asyncio.sleep(self.policy.idle_wait)
            # also after a wait with nothing to deliver: a skip of unwanted rows moved it
            position = max(position, self._positions.get(room_id, 0))

    async def _collect(self, room_id: int, position: int) -> Batch | None:
        """The next batch after ``position`` (None after waiting when there is nothing new)."""
        size = self.policy.batch_size
        page = await self.store.read(room_id, position, size, self.methods)
        if not page.messages:
            if page.last_seq > position:  # only rows this consumer does not want: skip them
                await self._advance(room_id, page.last_seq)
            await self.store.wait_for(room_id, page.last_seq, self.policy.idle_wait)
            return None
        messages = list(page.messages)
        last = page.last_seq
        linger = messages[0].stored_at + self.policy.batch_ms
        while len(messages) < size and (remaining := linger - _now_ms()) > 0:
            if not await self.store.wait_for(room_id, last, remaining / 1000):
                break
            more = await self.store.read(room_id, last, size - len(messages), self.methods)
            messages.extend(more.messages)
            last = more.last_seq
        first = messages[0].seq
        return Batch(self.consumer, room_id, messages, last, f"{room_id}-{first}-{last}")

    async def _advance(self, room_id: int, seq: int) -> None:
        await self.store.set_consumer_position(self.consumer, room_id, seq)
        self._positions[room_id] = max(seq, self._positions.get(room_id, 0))

    async def _deliver(self, batch: Batch) -> None:
        """Send until acknowledged (then advance) or dead-lettered; waits while paused."""
        self.stats.pending_since[batch.room_id] = batch.messages[0].stored_at
        started = time.monotonic()
        attempt = 1
        try:
            while True:
                await self._running.wait()
                error = await self._attempt(batch, attempt)
                if error is None:
                    await self._advance(batch.room_id, batch.last_seq)
                    return
                if time.monotonic() - started >= self.policy.dead_after:
                    await self._dead_letter(batch, error, attempt)
                    return
                await self._maybe_pause()
                await asyncio.sleep(backoff_delay(attempt, self.policy))
                attempt += 1
        finally:
            self.stats.pending_since.pop(batch.room_id, None)

    async def _attempt(self, batch: Batch, attempt: int) -> str | None:
        """One send; None on success, else the error text."""
        try:
            await self.sink.send(_with_attempt(batch, attempt))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            text = str(exc) or type(exc).__name__
            self.stats.retried += 1
            self.stats.last_error = text
            self.stats.last_error_at = _now_ms()
            if not self._failing_since:
                self._failing_since = time.monotonic()
            log.info("%s: room %s: delivery failed: %s", self.consumer, batch.room_id, text)
            return text
        self._failing_since = 0.0
        self.stats.delivered += len(batch.messages)
        self.stats.batches += 1
        self.stats.last_success_at = _now_ms()
        return None

    async def _maybe_pause(self) -> None:
        since = self._failing_since
        if self.paused or not since or time.monotonic() - since < self.policy.pause_after:
            return
        reason = f"every delivery failed for {self.policy.pause_after:g}s: {self.stats.last_error}"
        log.warning("%s: paused: %s", self.consumer, reason)
        self.pause(reason)
        if self._on_pause is not None:
            await self._on_pause(reason)

    async def _dead_letter(self, batch: Batch, error: str, attempts: int) -> None:
        letter = DeadLetter(
            id=0,
            consumer=self.consumer,
            room_id=batch.room_id,
            first_seq=batch.messages[0].seq,
            last_seq=batch.last_seq,
            count=len(batch.messages),
            error=error[:1000],
            attempts=attempts,
            created_at=_now_ms(),
            body=letter_body(batch.messages),
        )
        await self.store.add_dead_letter(letter)
        self._positions[batch.room_id] = max(batch.last_seq, self._positions.get(batch.room_id, 0))
        self.stats.dead_lettered += len(batch.messages)
        log.warning(
            "%s: room %s: %s message(s) dead-lettered after %s attempts: %s",
            self.consumer,
            batch.room_id,
            len(batch.messages),
            attempts,
            error,
        )

    # -- dead letters ---------------------------------------------------------------------------
    async def replay(self, letter_id: int) -> str | None:
        """Send one dead letter again (once); deleted on success. None on success, else why not."""
        letter = await self.store.dead_letter(self.consumer, letter_id)
        if letter is None:
            return "no such dead letter"
        messages = letter_messages(letter)
        batch = Batch(
            self.consumer,
            letter.room_id,
            messages,
            letter.last_seq,
            f"{letter.room_id}-{letter.first_seq}-{letter.last_seq}-replay{letter.id}",
            replay=True,
        )
        try:
            await self.sink.send(batch)
        except Exception as exc:
            return str(exc) or type(exc).__name__
        await self.store.delete_dead_letter(self.consumer, letter.id)
        self.stats.replayed += 1
        return None


def _with_attempt(batch: Batch, attempt: int) -> Batch:
    if attempt == batch.attempt:
        return batch
    return Batch(
        batch.consumer,
        batch.room_id,
        batch.messages,
        batch.last_seq,
        batch.delivery_id,
        attempt,
        batch.replay,
    )
