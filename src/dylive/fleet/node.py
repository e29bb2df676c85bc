"""One fleet node: registers itself, holds room leases, places rooms, hands them off.

A :class:`FleetNode` drives the local :class:`~dylive.collect.rooms.RoomManager` from the
database instead of from local requests. Each tick (1 s by default) it

1. heartbeats its ``fleet_nodes`` row (registering again if it was swept),
2. renews the leases of the rooms it runs and reports their lag, rate and error; a lease that is
   no longer ours at our epoch was taken over: the room stops here (its writes are refused by
   the store's fencing check anyway),
3. records the rooms its tokens polled (fleet-wide room limits) and the rooms polled here that
   nobody collects (on-demand wants),
4. claims free rooms or hands one off, per :mod:`dylive.fleet.placement`, and lets go of rooms
   nobody wants any more.

Stopping (SIGTERM) hands every room off: each room's collector is stopped (its pending batch
flushed with its upstream position), then its lease is released so another node takes it over
at its next tick.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dylive import __version__
from dylive.collect.watch import WAITING
from dylive.errors import StoreError
from dylive.store import Fence

from .db import FleetDB, Held, Lease, NodeRow, RoomStats
from .placement import to_claim, to_release

if TYPE_CHECKING:
    from dylive.collect.rooms import RoomManager
    from dylive.source.room import RoomInfo

log = logging.getLogger(__name__)


def default_node_id() -> str:
    """``<host name>-<pid>``: unique per process on one machine."""
    return f"{socket.gethostname()}-{os.getpid()}"


@dataclass
class FleetOptions:
    node_id: str = ""
    max_rooms: int = 500
    address: str = ""
    tick: float = 1.0  # seconds between heartbeats / renewals / placement rounds
    lease_ttl: float = 10.0  # a lease not renewed for this long may be taken over
    node_timeout: float = 10.0  # a node silent for this long counts as dead for placement
    starts_at_once: int = 16  # rooms resolved and started concurrently after a claim


class FleetNode:
    """``FleetNode(url, rooms, options)``; :meth:`start` / :meth:`stop` with the service."""

    def __init__(self, url: str, rooms: RoomManager, options: FleetOptions) -> None:
        self.options = options
        self.node_id = options.node_id or default_node_id()
        self.db = FleetDB(url)
        self.rooms = rooms
        self.held: dict[int, Lease] = {}
        self._starting: set[int] = set()
        self._start_slots = asyncio.Semaphore(options.starts_at_once)
        self._wants: dict[int, tuple[str, bool]] = {}  # room -> (ident, pinned), to record
        self._wanted_at: dict[int, float] = {}  # room -> when this node last recorded a poll
        self._polls: set[tuple[int, int]] = set()  # (token, room) polled since the last tick
        self._extends: set[int] = set()  # rooms polled while not live (watched between broadcasts)
        self.token_rooms: dict[int, set[int]] = {}  # fleet-wide view, refreshed every tick
        self._kick = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._ticks = 0
        self.state = "up"
        self.takeovers = 0
        self.handoffs = 0
        self.lost = 0

    # -- lifecycle ----------------------------------------------------------------------------
    @property
    def ttl_ms(self) -> int:
        return int(self.options.lease_ttl * 1000)

    async def start(self) -> None:
        await self._register()
        self._task = asyncio.create_task(self._loop(), name="dylive-fleet")
        log.info("fleet: node %s joined (max %s rooms)", self.node_id, self.options.max_rooms)

    async def _register(self) -> None:
        await self.db.register(
            NodeRow(
                self.node_id,
                self.options.address,
                __version__,
                self.options.max_rooms,
                0,
                0,
                self.state,
            )
        )

    async def stop(self) -> None:
        """Hand every room off, leave the registry, close."""
        self.state = "draining"
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(StoreError):
            await self.db.heartbeat(self.node_id, self.options.address, self.state)
        await asyncio.gather(*(self._hand_off(lease) for lease in list(self.held.values())))
        with contextlib.suppress(StoreError):
            await self.db.leave(self.node_id)
        await self.db.close()
        log.info("fleet: node %s left", self.node_id)

    # -- called by the room manager (request path, never blocks) ------------------------------
    def touched(self, token_id: int, room_limit: int, info: RoomInfo, live: bool) -> bool:
        """A token polled a room here; False when that would exceed its fleet-wide room limit."""
        rooms = self.token_rooms.get(token_id, set())
        if info.room_id not in rooms and room_limit and len(rooms) >= room_limit:
            return False
        if (token_id, info.room_id) not in self._polls and info.room_id not in rooms:
            self._kick.set()  # record it soon: the limit holds across nodes
        self._polls.add((token_id, info.room_id))
        self.token_rooms.setdefault(token_id, set()).add(info.room_id)
        if live:
            self.want(info, pinned=False)
        else:  # a followed room between broadcasts stays wanted while it is polled
            self._extends.add(info.room_id)
        return True

    def want(self, info: RoomInfo, *, pinned: bool) -> None:
        """Record (at the next tick, or now when new) that the fleet should collect a room."""
        now = time.monotonic()
        refresh = max(1.0, min(self.rooms.idle_timeout / 4, 30.0))
        if not pinned and now - self._wanted_at.get(info.room_id, -1e9) < refresh:
            return
        self._wanted_at[info.room_id] = now
        self._wants[info.room_id] = (info.web_rid or str(info.room_id), pinned)
        self._kick.set()

    async def pin(self, info: RoomInfo) -> None:
        await self.db.want(
            info.room_id, info.web_rid or str(info.room_id), pinned=True, for_ms=self._idle_ms
        )
        self._kick.set()

    async def unpin(self, room_id: int) -> None:
        await self.db.unpin(room_id, self._idle_ms)

    @property
    def _idle_ms(self) -> int:
        return int(self.rooms.idle_timeout * 1000)

    # -- the loop -----------------------------------------------------------------------------
    async def _loop(self) -> None:
        while True:
            try:
                await self._tick()
            except StoreError as exc:
                log.warning("fleet: %s", exc)
            except Exception:
                log.exception("fleet: tick failed")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.options.tick):
                    await self._kick.wait()
            self._kick.clear()

    async def _tick(self) -> None:
        self._ticks += 1
        if not await self.db.heartbeat(self.node_id, self.options.address, self.state):
            await self._register()
        await self._renew()
        await self._record_demand()
        await self._place()
        if self._ticks % 30 == 0:
            await self.db.forget_rooms(grace_ms=self._idle_ms)
            await self.db.forget_nodes(silent_ms=3_600_000)

    async def _renew(self) -> None:
        leases = list(self.held.values())
        stats = [self._stats(lease) for lease in leases]
        held = {h.room_id: h for h in await self.db.renew(self.node_id, stats, self.ttl_ms)}
        for lease in leases:
            current = held.get(lease.room_id)
            if current is None or current.epoch != lease.epoch:
                await self._lost(lease)
            elif lease.room_id not in self._starting and not self._running(lease):
                await self._let_go(lease, drop=self._ended(lease.room_id))
            elif not current.wanted:
                log.info("room %s: no longer polled or pinned; stopping", lease.room_id)
                await self._hand_off(lease)

    def _stats(self, lease: Lease) -> RoomStats:
        state = self.rooms.rooms.get(lease.room_id)
        if state is None or state.ended:
            fence = Fence(self.node_id, lease.epoch)
            note = WAITING if self.rooms.follows.watching(lease.room_id, fence) else ""
            return RoomStats(lease.room_id, lease.epoch, -1, 0.0, 0, note)
        lag = int(time.time() * 1000 - state.last_created_at) if state.last_created_at else -1
        return RoomStats(
            lease.room_id, lease.epoch, lag, state.rate(), state.stored, state.error or ""
        )

    def _running(self, lease: Lease) -> bool:
        """Collecting the room, or watching it for its next broadcast, under this lease."""
        fence = Fence(self.node_id, lease.epoch)
        state = self.rooms.rooms.get(lease.room_id)
        return (
            state is not None
            and state.fence == fence
            and state.task is not None
            and not state.task.done()
        ) or self.rooms.follows.watching(lease.room_id, fence)

    async def moved(self, room_id: int, fence: Fence, info: RoomInfo) -> None:
        """A room watched here has a new broadcast: the lease row moves to it (placed anew)."""
        if self.held.get(room_id) is not None and self.held[room_id].epoch == fence.epoch:
            del self.held[room_id]
        ident = info.web_rid or str(info.room_id)
        await self.db.move(self.node_id, room_id, fence.epoch, info.room_id, ident, self._idle_ms)
        self._kick.set()

    def _ended(self, room_id: int) -> bool:
        state = self.rooms.rooms.get(room_id)
        return state is not None and state.ended

    async def _lost(self, lease: Lease) -> None:
        """Another node holds the room now: stop here without touching its row."""
        self.held.pop(lease.room_id, None)
        self.lost += 1
        log.warning("room %s: lease epoch %s lost; stopping", lease.room_id, lease.epoch)
        await self.rooms.stop_room(lease.room_id)

    async def _let_go(self, lease: Lease, *, drop: bool) -> None:
        self.held.pop(lease.room_id, None)
        await self.rooms.stop_room(lease.room_id)
        await self.db.release(self.node_id, lease.room_id, lease.epoch, drop=drop)

    async def _hand_off(self, lease: Lease) -> None:
        """Graceful: stop the collector (flushing its batch and position), then release."""
        self.handoffs += 1
        try:
            await self._let_go(lease, drop=False)
        except StoreError as exc:  # the lease expires by itself
            log.warning("room %s: release failed: %s", lease.room_id, exc)
        log.info("room %s: handed off", lease.room_id)

    async def _record_demand(self) -> None:
        wants, self._wants = self._wants, {}
        for room_id, (ident, pinned) in wants.items():
            await self.db.want(room_id, ident, pinned=pinned, for_ms=self._idle_ms)
        extends, self._extends = self._extends, set()
        await self.db.extend(sorted(extends), self._idle_ms)
        polls, self._polls = self._polls, set()
        self.token_rooms = await self.db.token_rooms(sorted(polls), self._idle_ms)

    # -- placement ----------------------------------------------------------------------------
    async def _place(self) -> None:
        if self.state != "up":
            return
        nodes = await self.db.nodes()
        live = [
            n
            for n in nodes
            if n.state == "up" and n.heartbeat_age_ms < self.options.node_timeout * 1000
        ]
        loads = {n.node_id: n.rooms for n in live}
        loads[self.node_id] = len(self.held)
        capacities = {n.node_id: n.capacity for n in live}
        capacities[self.node_id] = self.options.max_rooms
        wanted = await self.db.wanted()
        for lease in self._pick_handoffs(to_release(self.node_id, loads, capacities, wanted)):
            await self._hand_off(lease)
        for lease in await self.db.claim(
            self.node_id, to_claim(self.node_id, loads, capacities, wanted), self.ttl_ms
        ):
            self._take(lease)

    def _pick_handoffs(self, n: int) -> list[Lease]:
        """The most recently taken rooms go first (they have the least local state)."""
        candidates = [lease for lease in self.held.values() if lease.room_id not in self._starting]
        return candidates[::-1][:n]

    def _take(self, lease: Lease) -> None:
        self.held[lease.room_id] = lease
        self._starting.add(lease.room_id)
        if lease.epoch > 1:
            self.takeovers += 1
        task = asyncio.create_task(self._start(lease), name=f"dylive-fleet-start-{lease.room_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _start(self, lease: Lease) -> None:
        try:
            async with self._start_slots:
                started = await self.rooms.start_leased(
                    lease.ident, lease.room_id, Fence(self.node_id, lease.epoch)
                )
        except Exception as exc:
            log.warning("room %s: cannot start: %s", lease.room_id, exc)
            started = None
        finally:
            self._starting.discard(lease.room_id)
        if started is None and self.held.get(lease.room_id) == lease:
            # not live any more, or unresolvable right now: let another round decide
            with contextlib.suppress(StoreError):
                await self._let_go(lease, drop=started is None and self._gone(lease))
        elif started is not None:
            log.info("room %s: collecting under lease epoch %s", lease.room_id, lease.epoch)

    def _gone(self, lease: Lease) -> bool:
        return lease.room_id in self.rooms.not_live

    # -- views --------------------------------------------------------------------------------
    def counters(self) -> dict[str, Any]:
        """This node's own view: rooms held and what happened to leases here."""
        return {
            "node_id": self.node_id,
            "state": self.state,
            "held": sorted(self.held),
            "starting": len(self._starting),
            "takeovers": self.takeovers,
            "handoffs": self.handoffs,
            "leases_lost": self.lost,
            "fenced_writes": self.rooms.fenced_writes,
            # long-polls of this node blocked until a commit or a notification wakes them, and
            # how their waits ended: woken, or run out (or a re-check without the listener)
            "waiting_polls": getattr(self.rooms.store, "waiting", 0),
            "polls_woken": getattr(self.rooms.store, "woken", 0),
            "poll_timeouts": getattr(self.rooms.store, "wait_timeouts", 0),
        }

    async def nodes(self) -> list[dict[str, Any]]:
        return [
            {
                "node_id": n.node_id,
                "address": n.address,
                "version": n.version,
                "capacity": n.capacity,
                "state": n.state,
                "alive": n.heartbeat_age_ms < self.options.node_timeout * 1000,
                "heartbeat_age_seconds": n.heartbeat_age_ms / 1000,
                "started_at": n.started_at,
                "rooms": n.rooms,
                "self": n.node_id == self.node_id,
            }
            for n in await self.db.nodes()
        ]

    async def room_rows(self) -> list[dict[str, Any]]:
        """Every room of the fleet: owner, lease expiry, lag, rate (from the owners' reports)."""
        out = []
        for row in await self.db.rooms():
            now = row.pop("now")
            lag = row.pop("lag_ms")
            row["collecting"] = bool(row["node"]) and row["lease_expires_at"] >= now
            row["lease_expires_in_seconds"] = (row["lease_expires_at"] - now) / 1000
            row["lag_seconds"] = lag / 1000 if lag >= 0 else None
            row["wanted"] = bool(row["pinned"]) or row["wanted_until"] > now
            out.append(row)
        return out


__all__ = ["FleetNode", "FleetOptions", "Held", "default_node_id"]
