"""The collector: one room connection that survives Douyin (push + polling, failover, resume).

Public API (stable; exported as ``dylive.Room``)::

    async with Room("https://live.douyin.com/123456", upstream="http://127.0.0.1:9000",
                    cookie="ttwid=…", proxy=None, user_agent=None, follow=False) as room:
        print(room.info.anchor_nickname)
        async for event in room:          # typed dylive.decode events + GapEvent, arrival order
            ...
        room.status()                     # RoomStatus snapshot
        room.checkpoint                   # Checkpoint covering every event yielded so far

    Room(ident, resume=checkpoint)        # continue exactly after an earlier Room's checkpoint

Behaviour: start on push (its URL from im/fetch ``push_server`` unless DYLIVE_PUSH_URL); fall back
to im/fetch polling when the handshake is refused or the socket keeps failing, and try push again
after ``push_retry_after`` s; every reconnect resumes from the last cursor/internal_ext; backoff
is an injectable policy; msg_ids are de-duplicated across transports and reconnects; a watchdog
reconnects silent and fake-alive connections; a resume that lands later than asked yields a
:class:`GapEvent`; live end finishes the iteration (or, with ``follow=True``, waits for the next
broadcast of the same web_rid).

Resume across processes: ``room.checkpoint`` (a :class:`~dylive.source.transport.Checkpoint`)
covers exactly the events the iterator has handed out: read right after receiving an event, it
includes that event and everything before it, never a message not yet yielded. A new ``Room``
given ``resume=checkpoint`` continues after it (push with the stored position when the push
server is known, else an im/fetch with it first); when upstream can no longer replay that far,
the first delivery yields a :class:`GapEvent` with the number of messages missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import replace
from typing import cast

import httpx

from dylive import settings
from dylive.decode import ControlEvent, Event, GiftEvent, GiftLedger, decode
from dylive.decode.direct import render_direct
from dylive.errors import HandshakeRefused, SignatureRefused, UpstreamError
from dylive.source.batches import Batch, Item, one_by_one
from dylive.source.coverage import MASKED, Coverage
from dylive.source.credentials import Identity
from dylive.source.dedupe import Deduper
from dylive.source.failover import TransportPlan, failure_flag
from dylive.source.follow import FollowSchedule, next_broadcast
from dylive.source.gaps import GapEvent, PositionTracker, find_gap
from dylive.source.handlers import ConnectEvent, DisconnectEvent, Handlers, LiveEndEvent
from dylive.source.options import CollectorOptions, RoomStatus, Stats
from dylive.source.poll import fetch_batch
from dylive.source.reconnect import Backoff, BackoffPolicy, Failure, classify
from dylive.source.room import STATUS_ENDED, RoomInfo, make_client, resolve_room
from dylive.source.silence import SilenceWatch, SilentSocket
from dylive.source.transport import Checkpoint, Delivery, Position

log = logging.getLogger(__name__)

__all__ = ["CollectorOptions", "Room", "RoomStatus"]


class _SessionEnd(Exception):
    """Internal: leave the current transport session (switch back to push)."""


class Room(Handlers):
    """One Douyin live room: an async iterator of events, or handlers (see the module
    docstring and :mod:`dylive.source.handlers`)."""

    def __init__(
        self,
        ident: str | int,
        *,
        upstream: str | None = None,
        cookie: str | None = None,
        proxy: str | None = None,
        user_agent: str | None = None,
        follow: bool = False,
        options: CollectorOptions | None = None,
        backoff: BackoffPolicy | None = None,
        client: httpx.AsyncClient | None = None,
        identity: Identity | None = None,
        resume: Checkpoint | None = None,
        ledger: GiftLedger | None = None,
    ) -> None:
        super().__init__()
        self.ident = ident
        self.upstream = (upstream or settings.get("upstream")).rstrip("/")
        self.identity = identity or Identity.build(
            cookie=cookie, user_agent=user_agent, proxy=proxy
        )
        self.follow = follow
        opts = options or CollectorOptions()
        self.options = replace(
            opts,
            signing=opts.signing or settings.get("signing"),
            push_url=opts.push_url or settings.get("push_url"),
        )
        self.backoff: BackoffPolicy = backoff or Backoff()
        self._client = client
        self._own_client = client is None
        self.info: RoomInfo | None = None
        self._checkpoint = resume or Checkpoint()
        self._track = PositionTracker(self._checkpoint.position)
        self._plan = TransportPlan(self.options, self._checkpoint.push_server)
        self._dedupe = Deduper(self.options.dedupe_capacity)
        # GiftEvent.delta over everything this Room delivers; a caller may hand in its own (the
        # service hands the ledger rebuilt from its store, so deltas continue across restarts)
        self._ledger = ledger if ledger is not None else GiftLedger()
        self._stats = Stats()
        self._ended = False
        self._ended_room = 0
        self._watch = SilenceWatch(self.options)  # fake-alive and silent sockets
        self._ended_at: float | None = None  # unix s the last broadcast ended (follow)
        self._last_server_ms = 0
        self._gen: AsyncGenerator[Item, None] | AsyncGenerator[Batch, None] | None = None
        self._batched = False  # self._gen hands out batches (``batches()``)
        self.coverage = Coverage()
        self._flags: set[str] = set()  # heartbeat_only, refused, polling_refused, silent_socket

    def degraded(self) -> tuple[str, ...]:
        """Reasons data may be missing now: ``gifts_hidden`` (fan tickets or ranking grow, no
        gift message arrives), ``heartbeat_only`` (socket alive, no business message),
        ``refused`` (push handshake refused), ``polling`` (on im/fetch instead of push),
        ``polling_refused`` (im/fetch answers empty 200s), ``silent_socket`` (push carried
        nothing while the room was visibly live), ``users_masked`` (users arrive masked)."""
        out = set(self._flags)
        if self.coverage.hidden:
            out.add("gifts_hidden")
        if self.coverage.users == MASKED:
            out.add("users_masked")
        if self._stats.transport == "poll" and self._stats.state == "live":
            out.add("polling")
        return tuple(sorted(out))

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> Room:
        if self._client is None:
            self._client = make_client(self.identity, timeout=self.options.http_timeout)
        try:
            self.info = await self._first_resolve()
        except BaseException as exc:
            self._stats.state = "failed"
            self._stats.error = str(exc)
            await self.aclose()
            raise
        return self

    async def _first_resolve(self) -> RoomInfo:
        """Resolve, retrying upstream failures (5xx, refusals) a few times with backoff."""
        for _attempt in range(self.options.resolve_attempts - 1):
            try:
                return await self._resolve(require_live=not self.follow)
            except UpstreamError as exc:
                log.debug("room %s: resolution failed (%s); retrying", self.ident, exc)
                await asyncio.sleep(self.backoff.next_delay())
        return await self._resolve(require_live=not self.follow)

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._gen is not None:
            gen, self._gen = self._gen, None
            with contextlib.suppress(Exception):
                await gen.aclose()
        if self._own_client and self._client is not None:
            await self._client.aclose()
            self._client = None
        if self._stats.state not in ("ended", "failed"):
            self._stats.state = "closed"

    def __aiter__(self) -> AsyncIterator[Event | GapEvent]:
        """Typed events and gaps, in arrival order (with ``CollectorOptions(direct=True)``,
        the service's option, the common methods come as ``decode.direct.Rendered``)."""
        return cast(AsyncIterator[Event | GapEvent], self._iteration(batched=False))

    def batches(self) -> AsyncIterator[Batch]:
        """The service's path (:mod:`dylive.source.batches`; iterate this or the Room, once):
        a delivery's events at once, ``room.checkpoint`` moved past them as they are handed
        out; a delivery without events is not handed out (its checkpoint is taken)."""
        return cast(AsyncIterator[Batch], self._iteration(batched=True))

    def _iteration(self, *, batched: bool) -> AsyncIterator[Item] | AsyncIterator[Batch]:
        if self.info is None:
            raise RuntimeError("use `async with Room(...) as room:` before iterating")
        if self._gen is None:
            self._batched, deliveries = batched, self._deliveries(batched=batched)
            self._gen = deliveries if batched else one_by_one(deliveries, self._moved)
        elif self._batched != batched:
            raise RuntimeError("a Room is iterated either by event or by batch, not both")
        return self._gen

    def _moved(self, checkpoint: Checkpoint) -> None:
        self._checkpoint = checkpoint

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            raise RuntimeError("room is not open")
        return self._client

    async def _resolve(self, *, require_live: bool) -> RoomInfo:
        ident = self.info.web_rid if self.info is not None and self.info.web_rid else self.ident
        return await resolve_room(
            ident,
            upstream=self.upstream,
            client=self.client,
            identity=self.identity,
            signing=self.options.signing,
            require_live=require_live,
            on_refusal=self._on_refusal,
        )

    def _on_refusal(self, endpoint: str) -> None:
        """An HTTP endpoint answered an empty 200 body (a_bogus / cookie refused)."""
        self._stats.refusals += 1
        log.debug("room %s: %s refused (%d so far)", self.ident, endpoint, self._stats.refusals)

    # ------------------------------------------------------------------ status

    @property
    def checkpoint(self) -> Checkpoint:
        """The resumable point after every event yielded so far (see the module docstring)."""
        return self._checkpoint

    def _batch(self, events: list[Item], transport: str, batched: bool) -> Batch | None:
        """A delivery's events with the checkpoint after them; on the batch path the checkpoint
        moves now and an empty delivery is not handed out (None)."""
        pos, last = self._track.position, events[-1].msg_id if events else 0  # a gap's: 0
        checkpoint = Checkpoint(
            pos.cursor, pos.internal_ext, self._plan.push_server, transport,
            last or self._checkpoint.last_msg_id,
        )  # fmt: skip
        if batched:
            self._checkpoint = checkpoint
            if not events:
                return None
        return events, checkpoint

    def status(self) -> RoomStatus:
        info = self.info
        return self._stats.snapshot(
            room_id=info.room_id if info else 0,
            web_rid=info.web_rid if info else str(self.ident),
            duplicates=self._dedupe.duplicates,
            degraded=self.degraded(),
            coverage=self.coverage.as_dict(),
        )

    # ------------------------------------------------------------------ main loop

    async def _deliveries(self, *, batched: bool) -> AsyncGenerator[Batch, None]:
        while True:
            info = self._info()
            if not info.live:
                if not self.follow:
                    self._stats.state = "ended"
                    return
                await self._wait_for_broadcast()
            try:
                async for batch in self._session(batched):
                    yield batch
            except _SessionEnd:
                pass
            except Exception as exc:
                await self._on_failure(exc)
            if self._ended:
                self._ended = False
                self._ended_room = self._info().room_id
                self._ended_at = time.time()
                self._stats.connected_since = None
                self.info = replace(self._info(), status=STATUS_ENDED)
                log.info("room %s: live ended", self._info().room_id)
                self._lifecycle(LiveEndEvent(self._ended_room))

    def _info(self) -> RoomInfo:
        if self.info is None:
            raise RuntimeError("room is not resolved")
        return self.info

    async def _session(self, batched: bool) -> AsyncIterator[Batch]:
        transport = self._plan.choose(time.monotonic())
        self._stats.state = "connecting"
        self._stats.transport = transport
        self._watch.start(transport, time.monotonic())
        asked = self._track.position
        if transport == "push" and not (self._track.position and self._plan.push_server):
            if (batch := await self._bootstrap(batched)) is not None:
                yield batch
            asked = Position()  # bootstrap covered the resume; the socket continues from it
        stream = self._open(transport)
        first = True
        try:
            async for delivery in stream:
                if first:
                    first = False
                    self._on_connected(transport)
                if delivery.asked is not None:
                    asked = delivery.asked  # every im/fetch response is a resume
                events = self._accept(delivery, asked)
                if asked and delivery.messages:
                    asked = Position()
                if (batch := self._batch(events, transport, batched)) is not None:
                    yield batch
                if self._ended:
                    return
                await self._after_delivery(delivery, transport)
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()

    def _open(self, transport: str) -> AsyncIterator[Delivery]:
        return self._plan.open(
            transport,
            client=self.client,
            upstream=self.upstream,
            info=self._info(),
            identity=self.identity,
            position=self._track.position,
            on_refusal=self._on_refusal,
        )

    async def _bootstrap(self, batched: bool) -> Batch | None:
        """One im/fetch: the first position, the push server and the recent backlog."""
        info = self._info()
        asked = self._track.position
        try:
            batch = await fetch_batch(
                self.client,
                self.upstream,
                info,
                self.identity,
                asked,
                signing=self.options.signing,
                on_refusal=self._on_refusal,
            )
        except SignatureRefused:
            log.info("room %s: im/fetch refused; connecting push without it", info.room_id)
            return None
        self._plan.learn(batch.push_server, batch.push_servers)
        self._watch.fetched(batch.messages)
        self._lifecycle(ConnectEvent(info.room_id, "push"))  # the push session's first answer
        pos = Position(batch.cursor or asked.cursor, batch.internal_ext or asked.internal_ext)
        delivery = Delivery(batch.messages, pos, "poll", now=batch.now)
        return self._batch(self._accept(delivery, asked), "poll", batched)

    def _accept(self, delivery: Delivery, asked: Position) -> list[Item]:
        """De-duplicate and decode one delivery, after a ``GapEvent`` when it starts later than
        ``asked`` (the position a resume asked for); advance the position after it."""
        room_id = self._info().room_id
        out: list[Item] = []
        if asked and delivery.messages:
            gap = find_gap(asked, delivery, room_id=room_id, last_ms=self._last_server_ms)
            if gap is not None:
                self._track.reset(delivery.position)  # the hole is reported; continue after it
                self._stats.gaps += 1
                log.warning(
                    "room %s: gap %s..%s (%s)", room_id, gap.start_ms, gap.end_ms, gap.reason
                )
                out.append(gap)
        gaps = len(out)
        now, business = time.monotonic(), False  # business: a message other than housekeeping
        seen, watch, direct = self._dedupe.seen, self._watch.observe, self.options.direct
        for raw in delivery.messages:
            if seen(raw.msg_id):
                continue
            event: Item | None = render_direct(raw, room_id=room_id) if direct else None
            if event is None:
                event = decode(raw, room_id=room_id)
                if isinstance(event, GiftEvent):
                    event = self._ledger.settle(event)  # just decoded: no copy
            out.append(event)
            self.coverage.observe(event)
            business = watch(raw, event, now) or business
            if isinstance(event, ControlEvent) and event.ended:
                self._ended = True
                break
        if business:
            self._flags.discard("heartbeat_only")
            if delivery.transport == "push":
                self._flags.discard("silent_socket")
        if accepted := len(out) - gaps:
            self._stats.messages += accepted
            self._stats.last_message = now
            self._stats.rate.add(now, accepted)
            self.backoff.reset()
        if delivery.messages:
            self._plan.delivered()
        self._track.advance(delivery.position, accepted)
        if delivery.now:
            self._last_server_ms = delivery.now
        return out

    def _on_connected(self, transport: str) -> None:
        self._flags.discard("refused")
        if transport == "poll":
            self._flags.discard("polling_refused")
        self._stats.state = "live"
        self._stats.transport = transport
        self._stats.connected_since = time.time()
        log.info("room %s: connected (%s)", self._info().room_id, transport)
        self._lifecycle(ConnectEvent(self._info().room_id, transport))

    async def _after_delivery(self, delivery: Delivery, transport: str) -> None:
        if delivery.closed:
            info = await self._resolve(require_live=False)
            if not info.live or info.room_id != self._info().room_id:
                self._ended = True
                return
            raise UpstreamError("push closed by the server", room_id=info.room_id)
        self._watch.check(time.monotonic(), self._info().room_id)
        if self._plan.retry_push_due(transport, time.monotonic()):
            raise _SessionEnd

    # ------------------------------------------------------------------ failures

    async def _on_failure(self, exc: Exception) -> None:
        kind = classify(exc)
        info = self._info()
        transport = self._stats.transport
        self._lifecycle(DisconnectEvent(info.room_id, f"{type(exc).__name__}: {exc}"))
        self._stats.reconnects += 1
        self._stats.state = "reconnecting"
        self._stats.connected_since = None
        self._stats.error = f"{type(exc).__name__}: {exc}"
        log.info("room %s: %s failed (%s): %s", info.room_id, transport, kind.value, exc)
        if kind is Failure.FATAL:
            self._stats.state = "failed"
            raise exc
        if kind is Failure.ENDED:
            self._ended = True
            return
        self._note_failure(exc, transport)
        if transport == "push":
            self._on_push_failure(exc)
        elif isinstance(exc, SignatureRefused):
            self._plan.poll_refused()
        if kind is Failure.RERESOLVE:
            await self._reresolve()
        await asyncio.sleep(self.backoff.next_delay())

    def _note_failure(self, exc: Exception, transport: str) -> None:
        """Degradation flags from a failure (HTTP refusals are counted in _on_refusal)."""
        flag = failure_flag(exc, transport)
        if flag == "refused":
            self._stats.refusals += 1
        elif flag == "polling_refused":
            log.warning("room %s: im/fetch polling refused", self._info().room_id)
        if flag:
            self._flags.add(flag)

    def _on_push_failure(self, exc: Exception) -> None:
        fell_back = self._plan.push_failed(
            refused=isinstance(exc, HandshakeRefused),
            silent=isinstance(exc, SilentSocket),
            polling_refused="polling_refused" in self._flags,
            now=time.monotonic(),
        )
        if fell_back:
            self._stats.fallbacks += 1
            log.info("room %s: falling back to polling", self._info().room_id)

    async def _reresolve(self) -> None:
        try:
            info = await self._resolve(require_live=False)
        except Exception as exc:  # keep the old info; the next failure tries again
            log.info("room %s: re-resolve failed: %s", self._info().room_id, exc)
            return
        if info.room_id != self._info().room_id:
            self._new_broadcast(info)
        else:
            self.info = info

    def _new_broadcast(self, info: RoomInfo) -> None:
        # The position is kept: an upstream whose log spans broadcasts (the simulator) then
        # replays the new broadcast from its start; others ignore a foreign cursor.
        self.info = info
        self._plan.forget()
        self._last_server_ms = 0
        self.coverage.reset()

    async def _wait_for_broadcast(self) -> None:
        """follow=True: wait until a new broadcast of the same web_rid is live."""
        self._stats.state = "waiting"
        o = self.options
        info = await next_broadcast(
            lambda: self._resolve(require_live=False),
            ended_room=self._ended_room,
            schedule=FollowSchedule(interval=o.follow_interval, ceiling=o.follow_max_interval),
            last_live_at=self._ended_at,
        )
        self._new_broadcast(info)
