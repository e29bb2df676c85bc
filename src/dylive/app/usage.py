"""Usage metering: counted in memory on the hot path, flushed to the store in batches.

Every answered request adds one to the counters of its key ``(token, UTC hour, endpoint,
result code)``, with the messages it delivered and the bytes of its body; webhook and feed
deliveries add messages (``endpoint`` ``webhook`` / ``feed``, no request). A request costs a
clock read and one dictionary update; nothing touches the store.

Every ``interval`` seconds (2 by default) the counters gathered since the last flush are
written in one transaction (:meth:`~dylive.store.interfaces.Usage.add_usage`: additive
upserts, so the nodes of a fleet sharing a database add up to one figure) and start again from
zero. A graceful stop flushes what is left. The store therefore holds every count older than
one interval: after a crash (SIGKILL) at most the last ``interval`` seconds of counts are lost,
never counted twice. A failed flush keeps its counts for the next one.

Readers (``GET /api/usage``, the admin API) see the stored rows plus this process's counts not
flushed yet (:meth:`Meter.pending`): exact for a single node; in a fleet the other nodes'
last interval shows up once they flush.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, Protocol

from dylive.errors import StoreError
from dylive.store import StoredMessage, Usage, UsageRow

log = logging.getLogger(__name__)

HOUR_MS = 3_600_000

#: Counters of one key: [requests, messages, bytes].
Counts = list[int]
Key = tuple[int, int, str, int]  # (token_id, hour start ms, endpoint, code)


class Listener(Protocol):
    """Told of every count (the quota book keeps its running totals with it)."""

    def counted(self, token_id: int, hour: int, billable: int, messages: int) -> None: ...


class Meter:
    """The in-memory usage counters of this process and their flush task.

    ``enabled=False`` counts nothing (``GET /api/usage`` then shows the stored rows only).
    ``clock`` (seconds since the epoch) decides the hour a count falls in.
    """

    def __init__(
        self,
        store: Usage,
        *,
        interval: float = 2.0,
        enabled: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.interval = interval
        self.enabled = enabled
        self.clock = clock
        self._counts: dict[Key, Counts] = {}
        self._rooms: set[tuple[int, int, int]] = set()
        self._hour = 0  # ms
        self._next = 0.0  # s: when the hour changes
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._lock = asyncio.Lock()
        self.listener: Listener | None = None
        #: token id -> [requests, billable, messages, bytes] since this process started
        self.totals: dict[int, list[int]] = {}
        self.names: dict[int, str] = {}  # token id -> name, for the metrics
        self.flushes = 0
        self.flush_failures = 0
        #: run before each flush (sources of counts polled then, e.g. webhook deliveries)
        self.before_flush: list[Callable[[], None]] = []
        #: awaited after each periodic flush (the quota book re-reads its totals)
        self.after_flush: list[Callable[[], Awaitable[None]]] = []

    # -- counting (hot path) ------------------------------------------------------------------
    def hour(self) -> int:
        """The start of the current UTC hour (ms)."""
        now = self.clock()
        if now >= self._next or now < self._next - 3600:
            start = int(now // 3600) * 3600
            self._hour, self._next = start * 1000, start + 3600.0
        return self._hour

    def count(
        self, token_id: int, endpoint: str, code: int, messages: int = 0, nbytes: int = 0
    ) -> None:
        """One answered request of ``token_id``."""
        if not self.enabled:
            return
        hour = self.hour()
        key = (token_id, hour, endpoint, code)
        counts = self._counts.get(key)
        if counts is None:
            self._counts[key] = [1, messages, nbytes]
        else:
            counts[0] += 1
            counts[1] += messages
            counts[2] += nbytes
        billable = 1 if code == 200 else 0
        total = self.totals.get(token_id)
        if total is None:
            self.totals[token_id] = [1, billable, messages, nbytes]
        else:
            total[0] += 1
            total[1] += billable
            total[2] += messages
            total[3] += nbytes
        if self.listener is not None:
            self.listener.counted(token_id, hour, billable, messages)

    def deliver(self, token_id: int, channel: str, messages: int, nbytes: int = 0) -> None:
        """Messages pushed to ``token_id`` by ``channel`` (``webhook``, ``feed``): no request."""
        if not self.enabled or messages <= 0:
            return
        hour = self.hour()
        key = (token_id, hour, channel, 200)
        counts = self._counts.get(key)
        if counts is None:
            self._counts[key] = [0, messages, nbytes]
        else:
            counts[1] += messages
            counts[2] += nbytes
        total = self.totals.setdefault(token_id, [0, 0, 0, 0])
        total[2] += messages
        total[3] += nbytes
        if self.listener is not None:
            self.listener.counted(token_id, hour, 0, messages)

    def room(self, token_id: int, room_id: int) -> None:
        """``token_id`` used ``room_id`` this hour."""
        if self.enabled:
            self._rooms.add((token_id, self.hour(), room_id))

    # -- reading ------------------------------------------------------------------------------
    def pending(self, token_id: int | None = None) -> list[UsageRow]:
        """This process's counts not flushed yet (of one token, or all)."""
        return [
            UsageRow(t, h, e, c, *counts)
            for (t, h, e, c), counts in list(self._counts.items())
            if token_id is None or t == token_id
        ]

    def pending_rooms(self, token_id: int | None = None) -> list[tuple[int, int, int]]:
        return [use for use in list(self._rooms) if token_id is None or use[0] == token_id]

    def pending_totals(self, token_id: int, since_ms: int) -> tuple[int, int]:
        """(billable requests, messages) of ``token_id`` not flushed yet, from ``since_ms``."""
        billable = messages = 0
        for (t, h, _e, c), counts in list(self._counts.items()):
            if t == token_id and h >= since_ms:
                billable += counts[0] if c == 200 else 0
                messages += counts[1]
        return billable, messages

    # -- flushing -----------------------------------------------------------------------------
    async def flush(self) -> int:
        """Write the counts gathered so far (one transaction); the number of rows written.
        On failure they are kept (added back) for the next flush and StoreError is raised."""
        for poll in self.before_flush:
            poll()
        async with self._lock:
            counts, self._counts = self._counts, {}
            rooms, self._rooms = self._rooms, set()
            if not counts and not rooms:
                return 0
            rows = [UsageRow(t, h, e, c, *v) for (t, h, e, c), v in counts.items()]
            # shielded: a cancelled caller must not leave a queued write that may still commit
            # while its counts are put back (they would be written twice)
            write = asyncio.ensure_future(self.store.add_usage(rows, rooms))
            try:
                await asyncio.shield(write)
            except asyncio.CancelledError:
                if not write.done():
                    await asyncio.wait([write])  # the write's outcome decides, not the caller's
                if write.cancelled() or write.exception() is not None:
                    self._merge(counts, rooms)
                    self.flush_failures += 1
                else:
                    self.flushes += 1
                raise
            except Exception:
                self._merge(counts, rooms)
                self.flush_failures += 1
                raise
            self.flushes += 1
        return len(rows)

    def _merge(self, counts: dict[Key, Counts], rooms: Iterable[tuple[int, int, int]]) -> None:
        for key, values in counts.items():
            mine = self._counts.get(key)
            if mine is None:
                self._counts[key] = values
            else:
                for i, value in enumerate(values):
                    mine[i] += value
        self._rooms.update(rooms)

    def start(self) -> None:
        if self._task is None and self.enabled:
            self._task = asyncio.create_task(self._loop(), name="dylive-usage-flush")

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.interval)
            if self._stopping.is_set():
                return
            try:
                await self.flush()
                for callback in self.after_flush:
                    await callback()
            except StoreError as exc:
                log.warning("usage: flush failed (kept for the next one): %s", exc)
            except Exception:
                log.exception("usage: flush failed (kept for the next one)")

    async def stop(self) -> None:
        """Stop the flush task (after the flush it may be running) and flush what is left
        (logged if the store refuses)."""
        if self._task is not None:
            self._stopping.set()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        try:
            await self.flush()
        except StoreError as exc:
            log.error("usage: last flush failed, %s rows lost: %s", len(self._counts), exc)


class MeteredFormat:
    """A feed formatter (:class:`dylive.deliver.feed.Formatter`) that meters what it formats:
    the messages and frame bytes sent to ``token_id`` (channel ``feed``). Anything else is the
    wrapped formatter's.

    ``budget`` (the messages the token may still receive, None = no limit; asked once per
    batch, in :meth:`wanted`): a batch is cut to it there, so that what the session counts is
    what is sent, and ``exhausted`` is set once the budget is used up (the session then ends:
    the next message would go past the quota)."""

    def __init__(
        self,
        inner: Any,
        meter: Meter,
        token_id: int,
        budget: Callable[[], int | None] | None = None,
    ) -> None:
        self._inner = inner
        self._meter = meter
        self._token_id = token_id
        self._budget = budget
        self._cut = False  # the last batch was cut to the budget
        self.exhausted = False

    def wanted(self, messages: Sequence[StoredMessage]) -> Sequence[StoredMessage]:
        """The wrapped formatter's (its methods), cut to the budget."""
        wanted: Sequence[StoredMessage] = self._inner.wanted(messages)
        left = self._budget() if self._budget is not None else None
        self._cut = left is not None and left < len(wanted)
        if left is not None and left <= len(wanted):
            self.exhausted = True
            wanted = wanted[: max(0, left)]
        return wanted

    async def frames(self, messages: Sequence[StoredMessage], position: int) -> list[str]:
        # ``messages``: what :meth:`wanted` kept, all sent and counted; a batch cut to the
        # budget ends at its last message sent (nothing at all when the budget was used up)
        if self._cut:
            if not messages:
                return []
            position = messages[-1].seq
        frames: list[str] = await self._inner.frames(messages, position)
        size = sum(len(frame) for frame in frames)
        self._meter.deliver(self._token_id, "feed", len(messages), size)
        return frames

    def heartbeat(self, position: int) -> str | None:
        beat: str | None = self._inner.heartbeat(position)
        return beat

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)
