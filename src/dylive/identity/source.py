"""One room collected through the identity pool, moved to another identity on risk signals.

:class:`PooledRoom` is an async iterator of events like :class:`dylive.source.collector.Room`
(the API service's source). It takes an identity from the pool, opens a collector with that
identity's cookie, User-Agent and proxy (an httpx client paced per identity and per exit; the
room start waits for a token too, which staggers starts), and checks the collector's
``degraded()`` every ``check_every`` seconds:

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
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import asdict, dataclass
from typing import Any

import httpx

from dylive.decode import GiftLedger
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
_STOP = object()
_CHECK = object()  # time for a look at the collector's degraded()


#: events a room's pump may hold ahead of its consumer: a few push frames' worth (a frame carries
#: ~2.5 messages). Outside the global ingestion bound (``collect/budget.py``), so it is per room
#: times the rooms: 256 held ~1.2 MB a room when ingestion waited (1,000 rooms: 1.2 GB).
PUMP_QUEUE = 32


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
        return self._events()

    async def _events(self) -> AsyncIterator[Any]:
        while True:
            lease = await self._lease()
            self._moving = False
            try:
                async for item in self._run(lease):
                    yield item
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

    async def _run(self, lease: Lease) -> AsyncIterator[Any]:
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
                queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=PUMP_QUEUE)
                pump = asyncio.create_task(_pump(room, queue))
                ticker = asyncio.create_task(_tick(queue, self.guard.check_every))
                try:
                    async for item in self._drain(queue, pump, room, lease, client):
                        yield item
                finally:
                    for task in (pump, ticker):
                        task.cancel()
                        with contextlib.suppress(asyncio.CancelledError, Exception):
                            await task

    async def _drain(
        self,
        queue: asyncio.Queue[Any],
        pump: asyncio.Task[None],
        room: Room,
        lease: Lease,
        client: httpx.AsyncClient,
    ) -> AsyncIterator[Any]:
        # no timer per message (one per get cost ~9 % of the loop at 500 rooms): a ticker task
        # queues _CHECK every check_every seconds, and a busy room checks on its own clock
        next_check = time.monotonic() + self.guard.check_every
        while True:
            item: Any
            if queue.empty() and pump.done():
                item = _STOP  # the pump's own _STOP did not fit in a full queue
            else:
                item = queue.get_nowait() if not queue.empty() else await queue.get()
            if item is _STOP:
                await asyncio.wait({pump})
                pump.result()  # raises the collector's error, if any
                return
            if item is not _CHECK:
                yield self._take(item)
                if time.monotonic() < next_check:
                    continue
            next_check = time.monotonic() + self.guard.check_every
            reason = await self._verdict(room, lease, client)
            if reason:
                pump.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await pump
                while not queue.empty():  # what was received before leaving: nothing lost
                    item = queue.get_nowait()
                    if item is not _STOP and item is not _CHECK:
                        yield self._take(item)
                await self._rotate(lease, reason)
                return

    def _take(self, item: tuple[Any, Checkpoint]) -> Any:
        event, self.checkpoint = item
        return event

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


async def _tick(queue: asyncio.Queue[Any], every: float) -> None:
    while True:
        await asyncio.sleep(every)
        if queue.empty():  # a busy room checks on its own clock (see PooledRoom._drain)
            queue.put_nowait(_CHECK)


async def _pump(room: Room, queue: asyncio.Queue[Any]) -> None:
    try:
        async for item in room:
            await queue.put((item, room.checkpoint))
    finally:
        with contextlib.suppress(asyncio.QueueFull):
            queue.put_nowait(_STOP)


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
