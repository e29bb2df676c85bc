"""On-demand collection: resolve rooms, run one collector per room into the store, stop idle ones.

A room starts collecting on the first authorized request for it (subject to the token's room
limit) or when pinned; it stops after ``idle_timeout`` seconds without a poll unless pinned.
Ingestion is "an async iterator of events per room → store" (:mod:`dylive.collect.ingest`): the
source is injectable (``source_factory(info, resume)`` returns an async context manager yielding
an async iterator of events; ``resume`` is the checkpoint to continue after, or None); the
default is the collector ``dylive.source.collector.Room``, resumed from the room's stored
upstream position.

Followed rooms (pinned, or polled by a token — webhooks and feeds poll too — within
``idle_timeout``) are watched after their broadcast ends and the next broadcast (a new room_id)
starts collecting by itself as a new session: :mod:`dylive.collect.follow`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import httpx

from dylive.decode import GiftLedger
from dylive.errors import (
    DyliveError,
    InvalidRoom,
    RoomError,
    RoomLimitReached,
    RoomNotFound,
    RoomNotLive,
    UpstreamError,
)
from dylive.source.collector import Room
from dylive.source.follow import FollowSchedule
from dylive.source.room import STATUS_ENDED, RoomInfo, parse_ident, resolve_room
from dylive.source.transport import Checkpoint
from dylive.store import EventStore, Fence, RoomRecord

from . import status, watch
from .follow import Followed, Follows
from .ingest import Ingest, IngestHooks, RoomState, SourceFactory, Tuning
from .records import room_record, to_record

__all__ = ["RoomManager", "RoomState", "SourceFactory", "collector_source", "to_record"]

log = logging.getLogger(__name__)

Resolver = Callable[[str], Awaitable[RoomInfo]]


def collector_source(**options: Any) -> SourceFactory:
    """The default source: ``dylive.source.collector.Room(ident, **options)``, handed the
    room's gift ledger."""

    @asynccontextmanager
    async def open_room(
        info: RoomInfo, resume: Checkpoint | None, ledger: GiftLedger | None = None
    ) -> AsyncIterator[AsyncIterable[Any]]:
        ident = info.web_rid or str(info.room_id)
        async with Room(ident, resume=resume, ledger=ledger, **options) as room:
            yield room

    return open_room


class RoomManager:
    """Resolves room identifiers and runs the collectors."""

    def __init__(
        self,
        store: EventStore,
        *,
        resolver: Resolver,
        source_factory: SourceFactory,
        idle_timeout: float = 300.0,
        resolve_ttl: float = 30.0,
        tuning: Tuning | None = None,
        hooks: IngestHooks | None = None,
        follow: FollowSchedule | None = None,
        pace: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        self.store = store
        self._resolver = resolver
        self._source_factory = source_factory
        self.idle_timeout = idle_timeout
        self._resolve_ttl = resolve_ttl
        self.tuning = tuning or Tuning()
        self.hooks = hooks
        self.rooms: dict[int, RoomState] = {}
        self._web_rids: dict[str, int] = {}  # web_rid -> room_id of its latest collected room
        self._inflight: dict[str, asyncio.Future[RoomInfo]] = {}
        self._cache: dict[str, tuple[float, RoomInfo]] = {}
        self._token_rooms: dict[int, dict[int, float]] = {}
        self._reaper: asyncio.Task[None] | None = None
        self._pinning: asyncio.Task[None] | None = None  # start(background=True)
        self.starting: dict[str, float] = {}  # pinned ident -> unix s: not started yet
        # fleet mode (dylive.fleet.FleetNode): placement decides which rooms run here
        self.fleet: Any = None
        self.not_live: set[int] = set()  # leased rooms that turned out not live (fleet)
        self.fenced_writes = 0  # batches the store refused (lease lost)
        #: stored room records by room_id, remembered for listings (the fleet's rooms)
        self.described: dict[int, RoomRecord] = {}
        #: followed rooms: watched between broadcasts (see dylive.collect.follow)
        self.follows = Follows(
            self._check_room, self._next_live, schedule=follow, pace=pace, on_state=self._told
        )
        #: told every change of a followed room's state: the live_status events to send
        self.on_live_status: Callable[[list[dict[str, Any]]], None] | None = None

    # -- lifecycle ----------------------------------------------------------------------------
    async def start(
        self, pins: list[str], *, concurrency: int = 4, background: bool = False
    ) -> None:
        """Pin the stored and the given rooms, ``concurrency`` resolutions at a time (hundreds
        of pinned rooms would otherwise delay startup by one upstream round trip each).

        ``background``: return at once and pin them in a task (paced the same way); until a
        room is started, :meth:`starting_status` lists it as ``starting``."""
        idents = list(dict.fromkeys([*await self.store.pins(), *pins]))
        if background:
            self.starting.update(dict.fromkeys(idents, time.time()))
            self._pinning = asyncio.create_task(
                self._pin_all(idents, concurrency), name="dylive-room-pins"
            )
        else:
            await self._pin_all(idents, concurrency)
        self._reaper = asyncio.create_task(self._reap(), name="dylive-room-reaper")

    async def _pin_all(self, idents: list[str], concurrency: int) -> None:
        gate = asyncio.Semaphore(concurrency)

        async def pin(ident: str) -> None:
            async with gate:
                try:
                    await self.pin(ident, persist=False)
                except UpstreamError as exc:  # a pinned room is never dropped: watched instead
                    log.warning("room %s: cannot pin now (%s); watching it", ident, exc)
                    watch.pin_later(self, ident)
                except (RoomError, RoomLimitReached) as exc:
                    log.warning("room %s: cannot pin: %s", ident, exc)
                finally:
                    self.starting.pop(ident, None)

        await asyncio.gather(*(pin(ident) for ident in idents))

    def starting_status(self) -> list[dict[str, Any]]:
        """The pinned rooms still being resolved and started (``start(background=True)``)."""
        return status.starting_rooms(self)

    async def stop(self) -> None:
        if self._pinning is not None:
            self._pinning.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pinning
        self.starting.clear()
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
        await self.follows.stop()
        await asyncio.gather(*(self._stop_room(s) for s in list(self.rooms.values())))

    # -- resolution ---------------------------------------------------------------------------
    def _active(self, web_rid: str, room_id: str) -> RoomState | None:
        if room_id.isdigit() and (state := self.rooms.get(int(room_id))) is not None:
            return state
        if web_rid and web_rid in self._web_rids:
            state = self.rooms.get(self._web_rids[web_rid])
            if state is not None and not state.ended:
                return state
        return None

    async def lookup(self, ident: str) -> tuple[RoomInfo, bool]:
        """``(info, live)`` for a URL / web_rid / room_id. When it cannot be served: InvalidRoom
        (no identifier), RoomNotFound, RoomNotLive (never collected), UpstreamError."""
        try:
            web_rid, room_id = parse_ident(ident)
        except RoomNotFound as exc:
            raise InvalidRoom(str(exc)) from None
        state = self._active(web_rid, room_id)
        if state is not None and not state.ended:
            return state.info, True
        key = web_rid or room_id
        cached = self._cache.get(key)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1], cached[1].live
        try:
            info = await self._resolve_once(key, web_rid, room_id)
        except RoomNotLive:
            followed = self.follows.get(web_rid) if web_rid else None
            if followed is None or not followed.info.room_id:
                raise
            return followed.info, False  # followed, never collected here: served as offline
        self._cache[key] = (time.monotonic() + self._resolve_ttl, info)
        if info.room_id:
            await self.store.upsert_room(room_record(info))
        return info, info.live

    async def _resolve_once(self, key: str, web_rid: str, room_id: str) -> RoomInfo:
        """One resolution per key at a time: concurrent requests share it."""
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.ensure_future(self._resolve(key, web_rid, room_id))
            self._inflight[key] = task
            task.add_done_callback(lambda _: self._inflight.pop(key, None))
        return await asyncio.shield(task)

    async def _resolve(self, key: str, web_rid: str, room_id: str) -> RoomInfo:
        try:
            info = await self._resolver(key)
        except RoomNotFound as exc:
            known = await self._known(web_rid, room_id)
            if known is None:
                raise RoomNotFound(str(exc)) from None
            return known
        except RoomNotLive as exc:
            known = await self._known(web_rid, room_id)
            if known is None:
                raise RoomNotLive(str(exc)) from None
            return known
        except (UpstreamError, httpx.HTTPError, DyliveError) as exc:
            log.warning("room %s: upstream failed: %s", key, exc)
            known = await self._known(web_rid, room_id)
            if known is None:
                raise UpstreamError(str(exc) or type(exc).__name__) from None
            return known
        if not info.live:
            known = await self._known(info.web_rid, "") or await self._known("", room_id)
            if known is None:
                raise RoomNotLive(f"room {key} is not live (status {info.status})")
            return known
        return info

    async def _known(self, web_rid: str, room_id: str) -> RoomInfo | None:
        """A room we stored messages for (served from the store even when not live)."""
        rec = await self.store.find_room(room_id=int(room_id or 0), web_rid=web_rid)
        if rec is None or await self.store.last_seq(rec.room_id) == 0:
            return None
        return RoomInfo(
            web_rid=rec.web_rid,
            room_id=rec.room_id,
            status=rec.status if rec.status != 2 else 4,
            title=rec.title,
            anchor_nickname=rec.anchor_nickname,
            anchor_uid=str(rec.anchor_uid or ""),
            anchor_sec_uid=rec.anchor_sec_uid,
        )

    # -- collection ---------------------------------------------------------------------------
    def touch(self, token_id: int, room_limit: int, info: RoomInfo, live: bool) -> None:
        """Record a poll by a token; start collecting a live room (room limit enforced).

        In fleet mode the room is asked of the fleet (the least-loaded node starts it) and the
        room limit counts the token's rooms on every node."""
        now = time.monotonic()
        seen = self._token_rooms.setdefault(token_id, {})
        if info.room_id not in seen and room_limit and len(seen) >= room_limit:
            self._expire(seen, now)  # only here: a scan per poll costs O(rooms of the token)
            if len(seen) >= room_limit:
                raise RoomLimitReached(f"this token may poll {room_limit} room(s) at a time")
        if self.fleet is not None and not self.fleet.touched(token_id, room_limit, info, live):
            raise RoomLimitReached(f"this token may poll {room_limit} room(s) at a time")
        seen[info.room_id] = now
        state = self.rooms.get(info.room_id)
        followed = self.follows.get(info.web_rid) if info.web_rid else None
        if (
            followed is not None
            and live
            and (followed.state == "live") != (followed.info.room_id == info.room_id)
        ):
            live = False  # a stale view: this broadcast has ended, or a newer one runs
        if state is None and live and self.fleet is None:
            state = self.start_room(info, pinned=False)
        if state is not None:
            state.last_polled = now
        if followed is not None:
            followed.last_polled = now
        offline = state is None and not live and bool(info.web_rid) and self.fleet is None
        if offline and (followed is None or followed.state == "ended"):  # followed (again)
            self.follows.wait(info, pinned=False, last_polled=now, found_offline=followed is None)

    def _expire(self, seen: dict[int, float], now: float) -> None:
        """Forget the rooms a token has not polled for ``idle_timeout`` seconds."""
        for rid, stamp in list(seen.items()):
            if now - stamp > self.idle_timeout:
                del seen[rid]

    async def pin(self, ident: str, *, persist: bool = True) -> RoomInfo:
        """Collect a room without polling; a room that is not live is followed (waiting for
        its next broadcast) when its web_rid is known, else RoomNotLive."""
        try:
            info, live = await self.lookup(ident)
        except RoomNotLive:
            web_rid, _ = parse_ident(ident)
            if not web_rid:
                raise
            info, live = await self._check_room(web_rid), False
        if not live:
            if not info.web_rid or (self.fleet is not None and not info.room_id):
                raise RoomNotLive(f"room {ident} is not live")
            if self.fleet is not None:  # the lease holder watches it (collect/watch.py)
                await self.fleet.pin(info)
            else:
                last = await watch.last_live_at(self, info.web_rid)
                self.follows.wait(info, pinned=True, found_offline=True, last_live_at=last)
        elif self.fleet is not None:
            await self.fleet.pin(info)
        else:
            state = self.rooms.get(info.room_id) or self.start_room(info, pinned=True)
            state.pinned = True
        if persist:
            await self.store.set_pin(info.web_rid or str(info.room_id), True)
        return info

    async def unpin(self, ident: str) -> None:
        web_rid, room_id = parse_ident(ident)
        state = self._active(web_rid, room_id)
        if state is not None:
            state.pinned = False
            state.last_polled = time.monotonic()
            await self.store.set_pin(state.info.web_rid or str(state.room_id), False)
        await self.store.set_pin(web_rid or room_id, False)
        followed = self.follows.get(web_rid or (state.info.web_rid if state else ""))
        if followed is not None:
            followed.pinned = False
            followed.last_polled = max(followed.last_polled, time.monotonic())
        if self.fleet is not None and room_id.isdigit():
            await self.fleet.unpin(int(room_id))

    async def start_leased(
        self, ident: str, room_id: int, fence: Fence
    ) -> RoomState | Followed | None:
        """Fleet mode: start a room this node holds the lease of (None: not live / not found;
        other errors raise); a followed room between broadcasts is watched under the lease."""
        self._cache.pop(ident, None)  # a lease is decided on a fresh answer
        try:
            info, live = await self.lookup(ident)
        except (RoomNotFound, RoomNotLive):
            self.note_not_live(room_id)
            return None
        if not live or info.room_id != room_id:
            return await watch.leased_offline(self, info, live, room_id, fence)
        old = self.rooms.get(room_id)
        if old is not None:
            await self._stop_room(old)
        return self.start_room(info, pinned=True, fence=fence)

    def note_not_live(self, room_id: int) -> None:
        if len(self.not_live) > 10_000:
            self.not_live.clear()
        self.not_live.add(room_id)

    async def stop_room(self, room_id: int) -> None:
        """Stop collecting a room here (its pending batch is flushed first)."""
        state = self.rooms.get(room_id)
        if state is not None:
            await self._stop_room(state)
        for followed in list(self.follows.rooms.values()):  # fleet: its watching too
            if followed.fence is not None and followed.info.room_id == room_id:
                self.follows.forget(followed.web_rid)

    def start_room(
        self,
        info: RoomInfo,
        *,
        pinned: bool,
        fence: Fence | None = None,
        resume: Checkpoint | None = None,
    ) -> RoomState:
        followed = self.follows.get(info.web_rid) if info.web_rid else None
        if resume is None and followed is not None and followed.info.room_id != info.room_id:
            resume = followed.resume  # the previous broadcast's position (see RoomState)
        state = RoomState(info=info, pinned=pinned, fence=fence, resume=resume)
        self.rooms[info.room_id] = state
        if info.web_rid:
            self._web_rids[info.web_rid] = info.room_id
            if self.fleet is None:
                self.follows.live(info, pinned=pinned)
        state.task = asyncio.create_task(self._run(state), name=f"dylive-room-{info.room_id}")
        log.info("room %s (%s): collecting", info.room_id, info.web_rid)
        return state

    async def _stop_room(self, state: RoomState) -> None:
        if self.rooms.get(state.room_id) is state:
            del self.rooms[state.room_id]
        if self._web_rids.get(state.info.web_rid) == state.room_id:
            del self._web_rids[state.info.web_rid]
        if state.task is not None and not state.task.done():
            state.task.cancel()
            try:
                await state.task
            except asyncio.CancelledError:
                if _cancelling():  # the caller is being cancelled too (SIGTERM): not ours to eat
                    raise
        log.info("room %s: stopped", state.room_id)

    async def _reap(self) -> None:
        while True:
            await asyncio.sleep(max(0.05, min(self.idle_timeout / 4, 10.0)))
            now = time.monotonic()
            for seen in self._token_rooms.values():
                self._expire(seen, now)
            for state in list(self.rooms.values()):
                idle = now - state.last_polled > self.idle_timeout and state.fence is None
                done = state.task is None or state.task.done()
                if (idle and not state.pinned) or done:
                    await self._stop_room(state)
                    if not done:
                        self._unfollow(state.info.web_rid)
            for followed in list(self.follows.rooms.values()):
                if followed.state == "waiting" and not self._followed(followed):
                    self.follows.end(followed)

    async def _run(self, state: RoomState) -> None:
        ingest = Ingest(
            state, self.store, self._source_factory, tuning=self.tuning, hooks=self.hooks
        )
        await ingest.run()
        if state.ended:  # a cached "live" answer must not start the ended broadcast again
            self._cache.pop(state.info.web_rid, None)
            self._cache.pop(str(state.room_id), None)
            if not state.fenced_out:
                self._broadcast_ended(state)

    # -- following ----------------------------------------------------------------------------
    def current(self, web_rid: str) -> RoomState | None:
        """The collected room of ``web_rid``'s latest broadcast (ended or not), if any."""
        return self.rooms.get(self._web_rids.get(web_rid, 0))

    def waiting_rooms(self) -> list[dict[str, Any]]:
        return status.waiting_rooms(self)

    def live_status(self, web_rid: str, room_id: int) -> dict[str, Any]:
        return status.live_status(self, web_rid, room_id)

    def follow_status(self, ident: str) -> dict[str, Any] | None:
        return status.follow_status(self, ident)

    def _followed(self, followed: Followed) -> bool:
        """Pinned, or polled by a token within ``idle_timeout``."""
        return followed.pinned or time.monotonic() - followed.last_polled <= self.idle_timeout

    def current_room_of(self, web_rid: str) -> int:
        """The room_id of ``web_rid``'s latest collected broadcast (0: none)."""
        return self._web_rids.get(web_rid, 0)

    def forget_lookup(self, *keys: str) -> None:
        for key in keys:
            self._cache.pop(key, None)

    def _unfollow(self, web_rid: str) -> None:
        followed = self.follows.get(web_rid)
        idle = followed is not None and followed.state == "live" and not followed.pinned
        if followed is not None and idle and self._web_rids.get(web_rid) is None:
            self.follows.end(followed)

    def _broadcast_ended(self, state: RoomState) -> None:
        watch.broadcast_ended(self, state)

    async def _check_room(self, web_rid: str) -> RoomInfo:
        """One status check of a followed room (not live: its last known info, not live)."""
        try:
            return await self._resolver(web_rid)
        except (RoomNotLive, RoomNotFound):
            followed = self.follows.get(web_rid)
            known = followed.info if followed is not None else RoomInfo(web_rid, 0, STATUS_ENDED)
            return replace(known, status=STATUS_ENDED)
        except DyliveError as exc:
            raise UpstreamError(str(exc) or type(exc).__name__) from None

    async def _next_live(self, followed: Followed, info: RoomInfo) -> None:
        await watch.next_live(self, followed, info)

    def _told(self, followed: Followed, previous: str) -> None:
        if self.on_live_status is not None:
            try:
                self.on_live_status(followed.live_status(previous))
            except Exception:
                log.exception("room %s: live_status listener failed", followed.web_rid)


def _cancelling() -> bool:
    """Whether the running task has been asked to stop (awaiting a task we cancelled raises
    CancelledError either way: this tells ours from the caller's own)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def default_resolver(**options: Any) -> Resolver:
    async def resolve(ident: str) -> RoomInfo:
        return await resolve_room(ident, require_live=False, **options)

    return resolve
