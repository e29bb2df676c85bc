"""One room collected through the identity pool, moved to another identity on risk signals.

:class:`PooledRoom` is an async iterator of events like :class:`dylive.source.collector.Room`,
with the same batch path (``batches()``: what the API service's ingestion reads; a pump task
hands the collector's batches to the consumer through a :class:`Handoff` bounded in events).
It takes an identity from the pool, opens a collector with that identity's cookie, User-Agent
and proxy (an httpx client paced per identity and per exit; the room start waits for a token
too, which staggers starts), and checks the collector's ``degraded()`` every ``check_every``
seconds:

- ``refused``, ``heartbeat_only``, ``polling_refused`` with a pooled identity: the identity is
  cooled down and the room moves to another one, resuming from the last position (nothing lost
  while the replay reaches back that far);
- ``silent_socket`` (the push socket carries nothing while the room is live) is a risk signal
  like ``heartbeat_only``;
- ``gifts_hidden`` or ``users_masked`` with a logged-in identity: the room page says whether the
  cookie is still logged in: if not, the identity is marked expired (``identity_expired``), else
  cooled down; either way the room moves.
- ``users_masked`` with an identity that is not logged in (or a guest): the pool remembers that
  the room needs users, and the room moves (nothing cooled down) when a logged-in identity is
  free, which a room that needs users is given first.

With no identity left the room waits and reports ``no_identity`` (plus the reason it lost the
last one) instead of silently collecting less.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import asdict, dataclass
from typing import Any

import httpx

from dylive.decode import GiftLedger
from dylive.source.batches import Batch, one_by_one
from dylive.source.collector import CollectorOptions, Room
from dylive.source.reconnect import Backoff
from dylive.source.room import RoomInfo
from dylive.source.tls import tls_context
from dylive.source.transport import Checkpoint

from .check import login_state
from .pool import IdentityPool, Lease, logged_in_cookie

log = logging.getLogger(__name__)

#: Degradations that mean "this identity is being refused": cool it down, move the room.
RISK = ("refused", "heartbeat_only", "polling_refused", "silent_socket")
#: Every ``degraded`` reason a room can report (one Prometheus gauge label each).
REASONS = (
    "gifts_hidden", "heartbeat_only", "refused", "identity_expired", "polling",
    "polling_refused", "no_identity", "silent_socket", "users_masked",
)  # fmt: skip


#: events a room's pump may hold ahead of its consumer: a few push frames' worth (a frame carries
#: ~2.5 messages; a batch bigger than this alone is taken when nothing else waits). Outside the
#: global ingestion bound (``collect/budget.py``), so it is per room times the rooms: 256 held
#: ~1.2 MB a room when ingestion waited (1,000 rooms: 1.2 GB).
PUMP_QUEUE = 32


STOP = object()  # the pump ended
CHECK = object()  # time for a look at the collector's degraded()


class Handoff:
    """A room's batches from its pump task to its consumer, bounded by the events they hold: a
    batch is let in while it fits under ``limit`` or nothing is held (``put`` waits otherwise);
    the ``STOP`` and ``CHECK`` marks always. One putter, one getter."""

    __slots__ = ("_getter", "_held", "_items", "_limit", "_putter")

    def __init__(self, limit: int) -> None:
        self._items: deque[Any] = deque()
        self._held = 0  # events in the queued batches
        self._limit = limit
        self._getter: asyncio.Future[None] | None = None
        self._putter: asyncio.Future[None] | None = None

    def __len__(self) -> int:
        return len(self._items)

    def put_nowait(self, item: Any) -> bool:
        """Queue a batch (or a mark) unless the batch does not fit (False: nothing queued)."""
        if item is not STOP and item is not CHECK:
            n = len(item[0])
            if self._held and self._held + n > self._limit:
                return False
            self._held += n
        self._items.append(item)
        if (getter := self._getter) is not None:
            self._getter = None
            if not getter.done():
                getter.set_result(None)
        return True

    async def put(self, batch: Batch) -> None:
        while not self.put_nowait(batch):
            self._putter = waiter = asyncio.get_running_loop().create_future()
            try:
                await waiter
            finally:
                if self._putter is waiter:
                    self._putter = None

    def get_nowait(self) -> Any:
        """The oldest batch or mark; None when nothing is queued."""
        if not self._items:
            return None
        item = self._items.popleft()
        if item is not STOP and item is not CHECK:
            self._held -= len(item[0])
            if (putter := self._putter) is not None:
                self._putter = None
                if not putter.done():
                    putter.set_result(None)
        return item

    async def get(self) -> Any:
        while (item := self.get_nowait()) is None:
            self._getter = waiter = asyncio.get_running_loop().create_future()
            try:
                await waiter
            finally:
                if self._getter is waiter:
                    self._getter = None
        return item


@dataclass(frozen=True, slots=True)
class GuardOptions:
    check_every: float = 1.0  # seconds between looks at the collector's degraded()
    wait_for_identity: float = 5.0  # seconds between tries when no identity is free
    http_timeout: float = 10.0


class PooledRoom:
    """See the module docstring."""

    def __init__(
        self,
        pool: IdentityPool,
        info: RoomInfo,
        *,
        upstream: str,
        options: CollectorOptions,
        guard: GuardOptions | None = None,
        backoff: Any = None,
        resume: Checkpoint | None = None,
        ledger: GiftLedger | None = None,
    ) -> None:
        self.pool = pool
        #: The gift ledger every collector of this room computes ``GiftEvent.delta`` with (one
        #: for the room's whole run, whichever identity collects it).
        self.ledger = ledger
        self.info = info
        self.upstream = upstream
        self.options = options
        self.guard = guard or GuardOptions()
        self._backoff = backoff
        self.key = info.web_rid or str(info.room_id)
        self.lease: Lease | None = None
        self.room: Room | None = None
        #: Covers every event this room yielded; a new identity's collector resumes from it.
        self.checkpoint: Checkpoint | None = resume
        self.rotations: list[dict[str, Any]] = []
        self._waiting = ""  # why the room has no identity now ("" = it has one)
        self._moving = False  # the current run ends because the room changes identity

    # ------------------------------------------------------------ status

    def degraded(self) -> tuple[str, ...]:
        out = set(self.room.degraded()) if self.room is not None else set()
        if self._waiting:
            out.update(("no_identity", self._waiting))
        return tuple(sorted(out))

    def status(self) -> dict[str, Any]:
        snap: dict[str, Any] = asdict(self.room.status()) if self.room is not None else {}
        snap["degraded"] = list(self.degraded())
        lease = self.lease
        snap["identity"] = None if lease is None else {"name": lease.name, "guest": lease.guest}
        snap["rotations"] = self.rotations[-10:]
        return snap

    # ------------------------------------------------------------ iteration

    def __aiter__(self) -> AsyncIterator[Any]:
        """Events one at a time (on the batch path: :func:`dylive.source.batches.one_by_one`)."""
        return one_by_one(self._batches(batched=False), self._moved)

    def batches(self) -> AsyncIterator[Batch]:
        """The service's path: each delivery's events at once with the checkpoint after them,
        which ``checkpoint`` becomes as the batch is handed out (``Room.batches``)."""
        return self._batches(batched=True)

    def _moved(self, checkpoint: Checkpoint) -> None:
        self.checkpoint = checkpoint

    async def _batches(self, *, batched: bool) -> AsyncGenerator[Batch, None]:
        while True:
            lease = await self._lease()
            self._moving = False
            try:
                async for batch in self._run(lease, batched):
                    yield batch
            finally:
                self.pool.release(lease)
                self.lease = None
            if not self._moving:
                return  # the collector finished (live end): so does the room

    async def _lease(self) -> Lease:
        while True:
            await self.pool.refresh()
            lease = self.pool.acquire(self.key)
            if lease is not None:
                self._waiting = ""
                self.lease = lease
                return lease
            self._waiting = self._waiting or "no_identity"
            log.warning("room %s: no healthy identity free; waiting", self.key)
            await asyncio.sleep(self.guard.wait_for_identity)

    def _client(self, lease: Lease) -> httpx.AsyncClient:
        hooks = [self.pool.pacer.hook(lease.name, lease.exit)] if self.pool.paces(lease) else []
        return httpx.AsyncClient(
            proxy=lease.identity.proxy,
            timeout=self.guard.http_timeout,
            trust_env=False,
            verify=tls_context(),
            event_hooks={"request": hooks},
        )

    async def _run(self, lease: Lease, batched: bool) -> AsyncIterator[Batch]:
        async with self._client(lease) as client:
            if self.pool.paces(lease):
                await self.pool.pacer.take(lease.name, lease.exit)  # staggered room starts
            room = Room(
                self.key,
                upstream=self.upstream,
                identity=lease.identity,
                client=client,
                options=self.options,
                backoff=self._backoff() if callable(self._backoff) else Backoff(),
                resume=self.checkpoint,
                ledger=self.ledger,
            )
            async with room:
                self.room = room
                # small: when ingestion stops taking events (the store is behind, the service
                # is overloaded) the pump stops reading the collector after this many, so the
                # socket is not read either (what is not read waits upstream)
                queue = Handoff(PUMP_QUEUE)
                pump = asyncio.create_task(_pump(room, queue))
                ticker = asyncio.create_task(_tick(queue, self.guard.check_every))
                try:
                    async for batch in self._drain(queue, pump, room, lease, client, batched):
                        yield batch
                finally:
                    for task in (pump, ticker):
                        task.cancel()
                        with contextlib.suppress(asyncio.CancelledError, Exception):
                            await task

    async def _drain(
        self,
        queue: Handoff,
        pump: asyncio.Task[None],
        room: Room,
        lease: Lease,
        client: httpx.AsyncClient,
        batched: bool,
    ) -> AsyncIterator[Batch]:
        # no timer per batch (one per get cost ~9 % of the loop at 500 rooms): a ticker task
        # queues CHECK every check_every seconds, and a busy room checks on its own clock
        next_check = time.monotonic() + self.guard.check_every
        while True:
            item = queue.get_nowait()
            if item is None:  # a pump cancelled before it ran queued no STOP
                item = STOP if pump.done() else await queue.get()
            if item is STOP:
                await asyncio.wait({pump})
                pump.result()  # raises the collector's error, if any
                return
            if item is not CHECK:
                if batched:
                    self.checkpoint = item[1]
                yield item
                if time.monotonic() < next_check:
                    continue
            next_check = time.monotonic() + self.guard.check_every
            reason = await self._verdict(room, lease, client)
            if reason:
                pump.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await pump
                # what was received before leaving: nothing lost
                while (item := queue.get_nowait()) is not None:
                    if item is not STOP and item is not CHECK:
                        if batched:
                            self.checkpoint = item[1]
                        yield item
                await self._rotate(lease, reason)
                return

    async def _verdict(self, room: Room, lease: Lease, client: httpx.AsyncClient) -> str:
        """Why the room must leave this identity ("" = it stays)."""
        degraded = room.degraded()
        has_login = not lease.guest and logged_in_cookie(lease.identity.cookie)
        if "users_masked" in degraded and not has_login:
            self.pool.need_users(self.key)
            if self.pool.logged_in_free(frozenset({lease.name})):
                return "users_masked"  # a logged-in identity sees the real users
        if lease.guest:
            return ""  # nothing better to move to; the degradation is reported
        for reason in RISK:
            if reason in degraded:
                return reason
        if "gifts_hidden" in degraded or ("users_masked" in degraded and has_login):
            try:
                logged_in = await login_state(
                    client, self.upstream, lease.identity, room_web_rid(room)
                )
            except httpx.HTTPError as exc:
                log.info("room %s: login check failed: %s", self.key, exc)
                logged_in = None
            if logged_in is False:
                return "identity_expired"
            return "gifts_hidden" if "gifts_hidden" in degraded else "users_masked"
        return ""

    async def _rotate(self, lease: Lease, reason: str) -> None:
        if reason == "identity_expired":
            await self.pool.expire(lease.name)
        elif reason == "users_masked" and not logged_in_cookie(lease.identity.cookie):
            pass  # not the identity's fault: it is moved to a logged-in one, not cooled down
        else:
            await self.pool.cool_down(lease.name, reason)
        self._waiting = reason  # reported until the next identity is leased
        self._moving = True
        self.rotations.append({"identity": lease.name, "reason": reason, "at": time.time()})
        log.warning("room %s: leaving identity %s (%s)", self.key, lease.name, reason)


def coverage_of(source: Any) -> dict[str, Any] | None:
    """``data.coverage`` of the chat response for a room's source (None: not collected)."""
    room = getattr(source, "room", None) or source
    coverage = getattr(room, "coverage", None)
    if coverage is None:
        return None
    out: dict[str, Any] = coverage.as_dict()
    degraded = getattr(source, "degraded", None)
    out["degraded"] = list(degraded()) if callable(degraded) else []
    return out


def room_web_rid(room: Room) -> str:
    return room.info.web_rid if room.info is not None else ""


async def _tick(queue: Handoff, every: float) -> None:
    while True:
        await asyncio.sleep(every)
        if not queue:  # a busy room checks on its own clock (see PooledRoom._drain)
            queue.put_nowait(CHECK)


async def _pump(room: Room, queue: Handoff) -> None:
    try:
        async for batch in room.batches():
            if not queue.put_nowait(batch):
                await queue.put(batch)
    finally:
        queue.put_nowait(STOP)


def pool_source(
    pool: IdentityPool,
    *,
    upstream: str,
    options: CollectorOptions,
    guard: GuardOptions | None = None,
    backoff: Any = None,
) -> Any:
    """A ``SourceFactory`` for :class:`dylive.collect.rooms.RoomManager`."""

    def factory(
        info: RoomInfo, resume: Checkpoint | None = None, ledger: GiftLedger | None = None
    ) -> AbstractAsyncContextManager[PooledRoom]:
        @asynccontextmanager
        async def open_room() -> AsyncIterator[PooledRoom]:
            yield PooledRoom(
                pool, info, upstream=upstream, options=options, guard=guard, backoff=backoff,
                resume=resume, ledger=ledger,
            )  # fmt: skip

        return open_room()

    return factory
