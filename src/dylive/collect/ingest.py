"""One room's ingestion: collector → bounded pending batch → store, with its upstream position.

:func:`Ingest.run` is the task :class:`~dylive.collect.rooms.RoomManager` runs per room:

- The *reader* opens the source (the collector) resumed from the room's stored
  :class:`~dylive.store.UpstreamPosition` and queues each delivery's events as one entry with
  the checkpoint covering them (the source's ``batches()``, :mod:`dylive.source.batches`; a
  source without it, one event at a time with its ``checkpoint``). The queue is bounded in
  events (``Tuning.max_pending``), and so is the total across rooms
  (``Tuning.budget``, :mod:`dylive.collect.budget`): while the store cannot keep up or is down,
  the reader blocks, so nothing more is read upstream, whose replay fills the hole once reading
  resumes. A source failure reopens the source from the last queued checkpoint (capped backoff).
- The *writer* stores the queued entries, up to ``batch_size`` events (or one delivery bigger
  than that) at a time, together with the position of the last one, in one transaction (the
  stored position never runs ahead of the stored messages). A transient store error
  (connection lost, database locked, disk full) is retried with capped exponential backoff, the
  batch kept. A batch the store refuses for its data is split in halves until each poison
  message is alone; poison messages go to the quarantine table (raw bytes and error) and the
  rest is stored.
- Any unexpected exception restarts the pipeline with capped backoff, resuming from the stored
  position (``RoomState.restarts``); the error stays visible in the room's status. Each start
  rebuilds the room's gift ledger from the store (:mod:`dylive.collect.ledger`).
- Stopping (SIGTERM, idle, unpin) stops the reader and lets the writer drain the queue, which
  stores the final position with the last batch (bounded by ``Tuning.drain_timeout``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from dylive.decode import ControlEvent, Event, GiftLedger
from dylive.decode.direct import Rendered
from dylive.errors import LeaseLost, RoomNotLive, StoreError
from dylive.source.gaps import GapEvent
from dylive.source.reconnect import Backoff
from dylive.source.room import RoomInfo
from dylive.source.transport import Checkpoint
from dylive.store import EventLog, Record, UpstreamPosition

from .budget import Budget
from .ledger import ledger_from_store
from .pending import Pending
from .records import to_checkpoint, to_position, to_record
from .roomstate import RoomState as RoomState

log = logging.getLogger(__name__)

#: ``factory(info, resume, ledger)``: the room's source (an async context manager yielding an
#: async iterable of events), resumed after ``resume`` (None: from now). ``ledger`` is the room's
#: gift ledger, rebuilt from the store: a source that computes ``GiftEvent.delta`` (the collector
#: ``Room``) computes it with this ledger; a gift that comes without a delta gets it here.
SourceFactory = Callable[
    [RoomInfo, Checkpoint | None, GiftLedger | None],
    AbstractAsyncContextManager[AsyncIterable[Any]],
]
T = TypeVar("T")
_STOP = object()
#: A batch from the source (``batches()``: a ``GapEvent`` only first) and, without the gap, one
#: queued entry: a delivery's events, the checkpoint after them (None: the source has none).
Entry = tuple[list[Any], Checkpoint | None]
_QUEUED = (Rendered, Event)  # what the reader queues (anything else a source yields is skipped)
_READ = (GapEvent, *_QUEUED)  # what it takes from a source without batches()


class IngestHooks(Protocol):
    """What ingestion reports (the service's metrics implement it)."""

    def on_stored(self, room_id: int, inserted: int) -> None: ...

    def on_retry(self, room_id: int) -> None: ...

    def on_quarantined(self, room_id: int) -> None: ...

    def on_restart(self, room_id: int) -> None: ...

    def on_gap(self, room_id: int, missed: int) -> None: ...

    def on_fenced(self, room_id: int) -> None: ...


class NoHooks:
    def on_stored(self, room_id: int, inserted: int) -> None:
        pass

    def on_retry(self, room_id: int) -> None:
        pass

    def on_quarantined(self, room_id: int) -> None:
        pass

    def on_restart(self, room_id: int) -> None:
        pass

    def on_gap(self, room_id: int, missed: int) -> None:
        pass

    def on_fenced(self, room_id: int) -> None:
        pass


@dataclass(frozen=True, slots=True)
class Tuning:
    """Bounds and delays of one room's pipeline (tests shrink them)."""

    max_pending: int = 50_000  # events queued before reading upstream pauses
    batch_size: int = 1000  # events per store transaction
    retry_initial: float = 0.05  # s, first delay after a transient store error
    retry_cap: float = 5.0  # s, longest delay between store retries
    source_initial: float = 0.5  # s, first delay before reopening a failed source
    source_cap: float = 30.0
    restart_initial: float = 0.5  # s, first delay before restarting a crashed pipeline
    restart_cap: float = 60.0
    drain_timeout: float = 5.0  # s, how long stopping waits for the queue to be stored
    #: events pending across every room that shares it (None: this room's max_pending only)
    budget: Budget | None = None


class Ingest:
    """The pipeline of one room (see the module docstring)."""

    def __init__(
        self,
        state: RoomState,
        store: EventLog,
        source_factory: SourceFactory,
        *,
        tuning: Tuning | None = None,
        hooks: IngestHooks | None = None,
    ) -> None:
        self.state = state
        self.store = store
        self._factory = source_factory
        self.tuning = tuning or Tuning()
        self.hooks: IngestHooks = hooks or NoHooks()
        self._queue = Pending(self.tuning.max_pending)
        self._queued: Checkpoint | None = None  # covers every event queued so far
        self._budget = self.tuning.budget or Budget()  # taken per queued batch, given back

    # -- supervision --------------------------------------------------------------------------
    async def run(self) -> None:
        """Run until the broadcast ends or the task is cancelled; restart after a crash."""
        t = self.tuning
        backoff = Backoff(initial=t.restart_initial, cap=t.restart_cap, jitter=0.2)
        while True:
            try:
                await self._pipeline()
                return
            except LeaseLost as exc:  # another node holds the room now: never write it again
                self.state.fenced_out = True
                self.state.fail(f"lease lost: {exc}")
                self.hooks.on_fenced(self.state.room_id)
                log.warning("room %s: write refused (%s); stopping", self.state.room_id, exc)
                return
            except Exception as exc:
                self.state.restarts += 1
                self.state.fail(f"crashed: {type(exc).__name__}: {exc}")
                self.hooks.on_restart(self.state.room_id)
                log.exception("room %s: ingestion crashed; restarting", self.state.room_id)
            await asyncio.sleep(backoff.next_delay())

    async def _pipeline(self) -> None:
        self._queue = Pending(self.tuning.max_pending)
        self.state.pending = 0
        stored = await self._retry("read the position", self._stored_position)
        self._queued = to_checkpoint(stored) or self.state.resume
        self.state.ledger = await self._retry(
            "read stored gifts", lambda: ledger_from_store(self.store, self.state.room_id)
        )
        writer = asyncio.create_task(self._write_loop(), name=f"dylive-writer-{self.state.room_id}")
        reader = asyncio.create_task(self._read_loop(), name=f"dylive-reader-{self.state.room_id}")
        try:
            done, _ = await asyncio.wait({reader, writer}, return_when=asyncio.FIRST_COMPLETED)
            if writer in done:
                writer.result()  # the writer only ends by raising
                raise RuntimeError("the writer stopped")
            reader.result()
        finally:
            try:
                await _cancel(reader)
                await self._drain(writer)
            finally:  # what was taken and not stored (dropped at stop) goes back
                self._budget.give(self.state.pending)
                self.state.pending = 0

    async def _stored_position(self) -> UpstreamPosition | None:
        return await self.store.upstream_position(self.state.room_id)

    async def _drain(self, writer: asyncio.Task[None]) -> None:
        """Let the writer store what is queued, the final position with it (bounded)."""
        if writer.done():  # it failed as the pipeline was stopped: its failure is still news
            failure = None if writer.cancelled() else writer.exception()
            if isinstance(failure, LeaseLost):
                raise failure  # one warning line (``run``), not a stray task's traceback
            if failure is not None:
                log.error(
                    "room %s: the writer failed while stopping: %r", self.state.room_id, failure
                )
            return
        try:
            async with asyncio.timeout(self.tuning.drain_timeout):
                await self._queue.put(_STOP)
                await asyncio.shield(writer)
        except TimeoutError:
            log.warning(
                "room %s: %s events not stored at stop (they are replayed on restart)",
                self.state.room_id,
                len(self._queue),
            )
        finally:
            await _cancel(writer)

    # -- reader -------------------------------------------------------------------------------
    async def _read_loop(self) -> None:
        t = self.tuning
        backoff = Backoff(initial=t.source_initial, cap=t.source_cap, jitter=0.2)
        state = self.state
        while not state.ended:
            try:
                async with self._factory(state.info, self._queued, state.ledger) as source:
                    state.source = source
                    backoff.reset()
                    await self._read(source)
                return
            except RoomNotLive:
                state.ended = True
            except Exception as exc:  # the collector has its own reconnect policy; reopen
                state.fail(f"source: {type(exc).__name__}: {exc}")
                log.warning("room %s: source failed: %s", state.room_id, state.error)
                await asyncio.sleep(backoff.next_delay())

    async def _read(self, source: AsyncIterable[Any]) -> None:
        state = self.state
        budget, queue = self._budget, self._queue
        batches = getattr(source, "batches", None)
        async for batch in batches() if batches is not None else _one_each(source):
            events, checkpoint = batch
            if state.error and state.error.startswith("source:"):
                state.error = ""  # the reopened source works
            if isinstance(gap := events[0], GapEvent):
                state.gaps += 1
                state.missed += gap.missed
                self.hooks.on_gap(state.room_id, gap.missed)
                if len(events) == 1:
                    continue
                events = events[1:]
                batch = events, checkpoint
            # a delivery's events at once; no coroutine while neither bound is reached (the
            # common case), else wait while every room's bound is spent, then while this
            # room's queue is full
            n = len(events)
            if not budget.try_take(n):
                await budget.take(n, state.room_id)
            state.pending += n
            if not queue.put_nowait(batch, n):
                await queue.put(batch, n)
            if checkpoint is not None:
                self._queued = checkpoint
            if isinstance(last := events[-1], ControlEvent) and last.ended:
                state.ended = True
                return

    # -- writer -------------------------------------------------------------------------------
    async def _write_loop(self) -> None:
        limit, queue = self.tuning.batch_size, self._queue
        while True:
            entries: list[Entry] = await queue.take(limit)
            stop = entries[-1] is _STOP  # queued last, once the reader has stopped
            if stop:
                del entries[-1]
            if entries:
                n = await self._store(entries)
                self.state.pending = max(0, self.state.pending - n)
                self._budget.give(n)
            if stop:
                return

    async def _store(self, entries: list[Entry]) -> int:
        """Store the entries' events with the last checkpoint; their number."""
        state = self.state
        room_id, ledger = state.room_id, state.ledger
        records: list[Record] = []
        checkpoint: Checkpoint | None = None  # the last one: covers the whole batch
        newest = state.last_created_at
        n = 0
        for events, cp in entries:  # one pass over the batch
            if cp is not None:
                checkpoint = cp
            n += len(events)
            for event in events:
                if event.created_at > newest:
                    newest = event.created_at
                try:
                    records.append(to_record(room_id, event, ledger))
                except Exception as exc:  # rendering is not supposed to fail: keep the bytes
                    raw = Record(room_id, event.msg_id, event.method, 0, b"", event.raw)
                    await self._quarantine(raw, f"render failed: {type(exc).__name__}: {exc}")
        position = to_position(room_id, checkpoint) if checkpoint else None
        state.received += n
        state.last_received_at = time.monotonic()
        state.last_created_at = newest
        inserted = await self._append(records, position)
        state.last_write_at = time.time()
        if state.error.startswith("crashed:"):
            state.error = ""  # the restarted pipeline stores again
        state.count(n)
        state.stored += inserted
        self.hooks.on_stored(state.room_id, inserted)
        return n

    async def _append(self, records: list[Record], position: UpstreamPosition | None) -> int:
        """Store with retries; a refused batch is split until its poison messages are alone.

        Every write carries the room's lease (fleet mode); a refused lease ends the pipeline."""
        fence = self.state.fence
        try:
            try:  # the common case without the retry loop's coroutine (nor a closure) in between
                return await self.store.append(records, position=position, fence=fence)
            except StoreError as exc:
                if not exc.transient:
                    raise

                def store() -> Awaitable[int]:
                    return self.store.append(records, position=position, fence=fence)

                return await self._retry("store", store, failed=exc)
        except LeaseLost:
            raise
        except StoreError as exc:  # not transient: the data
            if len(records) <= 1:
                if records:
                    await self._quarantine(records[0], str(exc))
                if position is not None:
                    await self._retry(
                        "store", lambda: self.store.append([], position=position, fence=fence)
                    )
                return 0
        half = len(records) // 2
        first = await self._append(records[:half], None)
        return first + await self._append(records[half:], position)

    async def _quarantine(self, record: Record, error: str) -> None:
        log.warning(
            "room %s: message %s (%s) quarantined: %s",
            record.room_id,
            record.msg_id,
            record.method,
            error,
        )
        try:
            await self._retry("quarantine", lambda: self.store.quarantine(record, error))
        except LeaseLost:
            raise
        except StoreError as exc:  # lost, so not counted: the counters equal the stored rows
            log.error("room %s: cannot quarantine %s: %s", record.room_id, record.msg_id, exc)
            return
        self.state.quarantined += 1
        self.hooks.on_quarantined(record.room_id)

    async def _retry(
        self, what: str, op: Callable[[], Awaitable[T]], *, failed: StoreError | None = None
    ) -> T:
        """``op()``, retried with capped backoff while it fails transiently (``failed``: the
        transient failure of a first try the caller made itself; the next try is a retry)."""
        t = self.tuning
        backoff: Backoff | None = None  # built on the first failure (it seeds an RNG from
        while True:  # os.urandom: 4 % of the event loop when built for every stored batch)
            if failed is None:
                try:
                    result = await op()
                except StoreError as exc:
                    if not exc.transient:
                        raise
                    failed = exc
                else:
                    if backoff is not None and backoff.attempt:
                        self.state.error = ""
                        log.info("room %s: %s works again", self.state.room_id, what)
                    return result
            if backoff is None:
                backoff = Backoff(initial=t.retry_initial, cap=t.retry_cap, jitter=0.2)
            self.state.retries += 1
            self.state.fail(f"cannot {what}: {failed}")
            room, delay = self.state.room_id, backoff.next_delay()
            self.hooks.on_retry(room)
            log.warning("room %s: cannot %s (%s); retrying in %.2f s", room, what, failed, delay)
            failed = None
            await asyncio.sleep(delay)


async def _one_each(source: AsyncIterable[Any]) -> AsyncIterator[Entry]:
    """A source without ``batches()`` (a plain iterable of events) as batches of one event,
    each with the checkpoint the source shows after it (its ``checkpoint``, if any)."""
    async for item in source:
        if isinstance(item, _READ):
            yield [item], getattr(source, "checkpoint", None)


async def _cancel(task: asyncio.Task[None]) -> None:
    if not task.done():
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
