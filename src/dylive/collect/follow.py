"""Followed rooms: an anchor (web_rid) is watched after its broadcast ends until the next one.

A room is *followed* while it is pinned, or while a token polls it (the chat endpoint, an SSE
stream, a WebSocket feed, a webhook's keeper all count as polls) within the manager's
``idle_timeout``. When a followed room's broadcast ends, :class:`Follows` waits for the next
one with :func:`dylive.source.follow.next_broadcast` (the same schedule as
``Room(follow=True)``): ≤ ``interval`` s between checks while the room was live in the last hour,
backing off with jitter to ``ceiling``, staggered, each check through ``pace`` (the identity
pool's pacing). A new room_id starts collecting at once as a new session (``on_live``).

States (``/api/rooms``): ``live`` (a broadcast is being collected), ``waiting`` (checked on the
schedule; ``last_live_at``, ``next_check_at``), ``ended`` (no longer followed: unpinned and not
polled; kept in the listing for a while, revived by a poll or a pin).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from dylive.source.follow import FollowSchedule, next_broadcast
from dylive.source.room import RoomInfo
from dylive.source.transport import Checkpoint
from dylive.store import Fence

__all__ = ["FOLLOW_STATES", "Followed", "Follows"]

log = logging.getLogger(__name__)

FOLLOW_STATES = ("live", "waiting", "ended")
#: ended entries kept for the listing, at most
MAX_ENDED = 1000


@dataclass
class Followed:
    """One followed anchor (web_rid) and its latest broadcast."""

    web_rid: str
    info: RoomInfo  # the latest broadcast known (live or ended)
    state: str = "live"
    pinned: bool = False
    last_live_at: float | None = None  # unix s the room was last seen live (None: unknown)
    next_check_at: float | None = None  # unix s of the next status check (waiting)
    last_polled: float = field(default_factory=time.monotonic)
    checks: int = 0  # status checks made while waiting
    broadcasts: int = 0  # broadcasts started while followed here
    resume: Checkpoint | None = None  # the ended broadcast's last position (see RoomManager)
    fence: Fence | None = None  # fleet mode: the lease of the ended broadcast's room (watching)
    task: asyncio.Task[None] | None = None
    changed_at: float = field(default_factory=time.time)

    @property
    def waiting(self) -> bool:
        return self.task is not None and not self.task.done()

    def status(self) -> dict[str, Any]:
        """The listing entry of a room that is not being collected (waiting or ended)."""
        return {
            "room_id": self.info.room_id,
            "web_rid": self.web_rid,
            "title": self.info.title,
            "anchor": self.info.anchor_nickname,
            "state": self.state,
            "collecting": False,
            "pinned": self.pinned,
            "ended": True,
            "last_live_at": self.last_live_at,
            "next_check_at": self.next_check_at if self.state == "waiting" else None,
            "checks": self.checks,
        }

    def live_status(self, previous: str) -> list[dict[str, Any]]:
        """The ``live_status`` events of a change from ``previous`` to the current state (a live
        broadcast that ends tells ``ended``, then ``waiting`` while followed)."""
        event = {
            "status": self.state,
            "room_id": self.info.room_id,
            "web_rid": self.web_rid,
            "title": self.info.title,
            "anchor": self.info.anchor_nickname,
        }
        if self.state == "waiting":
            event.update(last_live_at=self.last_live_at, next_check_at=self.next_check_at)
        if previous == "live" and self.state == "waiting":
            return [{**event, "status": "ended"}, event]
        return [event] if previous or self.state == "live" else []


Check = Callable[[str], Awaitable[RoomInfo]]
OnLive = Callable[[Followed, RoomInfo], Awaitable[None]]
OnState = Callable[[Followed, str], None]  # (room, previous state)


class Follows:
    """The followed rooms of one node, keyed by web_rid (see the module docstring)."""

    def __init__(
        self,
        check: Check,
        on_live: OnLive,
        *,
        schedule: FollowSchedule | None = None,
        pace: Callable[[], Awaitable[object]] | None = None,
        on_state: OnState | None = None,
    ) -> None:
        self._check = check
        self._on_live = on_live
        self.schedule = schedule or FollowSchedule()
        self.pace = pace
        self.on_state = on_state
        self.rooms: dict[str, Followed] = {}

    def get(self, web_rid: str) -> Followed | None:
        return self.rooms.get(web_rid)

    def counts(self) -> dict[str, int]:
        """Rooms per state (``live`` counts the followed rooms being collected)."""
        out = dict.fromkeys(FOLLOW_STATES, 0)
        for f in self.rooms.values():
            out[f.state] += 1
        return out

    def _set(self, f: Followed, state: str) -> None:
        if f.state != state:
            previous, f.state = f.state, state
            f.changed_at = time.time()
            if self.on_state is not None:
                self.on_state(f, previous)

    def live(self, info: RoomInfo, *, pinned: bool) -> Followed:
        """A broadcast of ``info.web_rid`` is being collected."""
        f = self.rooms.get(info.web_rid)
        if f is None:
            f = self.rooms[info.web_rid] = Followed(info.web_rid, info, state="", pinned=pinned)
        f.info = info
        f.pinned = f.pinned or pinned
        f.last_live_at = time.time()
        f.next_check_at = None
        self._cancel(f)
        self._set(f, "live")
        return f

    def wait(
        self,
        info: RoomInfo,
        *,
        pinned: bool,
        last_polled: float | None = None,
        resume: Checkpoint | None = None,
        found_offline: bool = False,
        fence: Fence | None = None,
        last_live_at: float | None = None,
    ) -> Followed:
        """Watch ``info.web_rid`` for its next broadcast (``info``: the one that ended, or
        ``found_offline``: the room was found not live, so any live broadcast is a new one).
        The first check is staggered over the first delay either way (1,000 rooms pinned
        offline at startup must not all check at once)."""
        f = self.rooms.get(info.web_rid)
        if f is None:
            f = self.rooms[info.web_rid] = Followed(info.web_rid, info, state="", pinned=pinned)
        else:
            f.info = info if info.room_id else f.info
        f.pinned = f.pinned or pinned
        if last_polled is not None:
            f.last_polled = max(f.last_polled, last_polled)
        if resume is not None:
            f.resume = resume
        f.fence = fence
        if last_live_at is not None and f.last_live_at is None:
            f.last_live_at = last_live_at
        if f.state == "live" and f.last_live_at is not None:
            f.last_live_at = time.time()  # it was live until now
        self._set(f, "waiting")
        if not f.waiting:
            task = self._watch(f, found_offline)
            f.task = asyncio.create_task(task, name=f"dylive-follow-{f.web_rid}")
        return f

    def end(self, f: Followed) -> None:
        """No longer followed (unpinned, not polled): stop checking; listed as ``ended``."""
        self._cancel(f)
        f.next_check_at = None
        self._set(f, "ended")
        ended = [x for x in self.rooms.values() if x.state == "ended"]
        if len(ended) > MAX_ENDED:
            oldest = min(ended, key=lambda x: x.changed_at)
            del self.rooms[oldest.web_rid]

    def watching(self, room_id: int, fence: Fence) -> bool:
        """Fleet mode: this node waits for the next broadcast after ``room_id`` under ``fence``."""
        return any(
            f.fence == fence and f.info.room_id == room_id and f.waiting
            for f in self.rooms.values()
        )

    def forget(self, web_rid: str) -> None:
        f = self.rooms.pop(web_rid, None)
        if f is not None:
            self._cancel(f)

    def _cancel(self, f: Followed) -> None:
        task, f.task = f.task, None
        if task is not None and not task.done() and task is not asyncio.current_task():
            task.cancel()

    async def _watch(self, f: Followed, found_offline: bool) -> None:
        def scheduled(at: float) -> None:
            f.next_check_at = at

        async def check() -> RoomInfo:
            f.checks += 1
            return await self._check(f.web_rid)

        info = await next_broadcast(
            check,
            ended_room=0 if found_offline else f.info.room_id,
            schedule=self.schedule,
            last_live_at=f.last_live_at if f.last_live_at is not None else self._unknown(),
            on_schedule=scheduled,
            pace=self.pace,
        )
        f.broadcasts += 1
        f.task = None
        log.info("room %s: next broadcast %s; collecting", f.web_rid, info.room_id)
        await self._on_live(f, info)

    def _unknown(self) -> float:
        """A room whose last broadcast time is unknown is treated as just past ``recent``."""
        return time.time() - self.schedule.recent

    async def stop(self) -> None:
        tasks = [f.task for f in self.rooms.values() if f.task is not None]
        for f in self.rooms.values():
            f.task = None
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


class StatusWatch:
    """What one consumer (an SSE stream, a WebSocket feed) of a room has been told of its live
    status: :meth:`changes` gives the ``live_status`` events to send since the last call, and
    the room_id of a new broadcast to move to (0: stay) when the consumer follows the anchor
    (``moves``: it named the room by its web_rid)."""

    def __init__(self, status: Callable[[], dict[str, Any]], room_id: int, *, moves: bool) -> None:
        self._status = status
        self.room_id = room_id
        self.moves = moves
        self.last = ""

    def changes(self) -> tuple[list[dict[str, Any]], int]:
        now = self._status()
        state, room_id = now["status"], int(now.get("room_id") or 0)
        moved = state == "live" and room_id != self.room_id and self.moves
        if state == self.last and not moved:
            return [], 0
        events = []
        if self.last == "live" and state != "live":  # the broadcast ended (then: waiting)
            events.append({**now, "status": "ended", "room_id": self.room_id})
        if state != "ended" or not events:
            events.append(now)
        self.last = state
        if moved:
            self.room_id = room_id
            return events, room_id
        return events, 0
