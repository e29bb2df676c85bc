"""Waiting for an anchor's next broadcast: the one code path of ``Room(follow=True)`` and of the
service's followed rooms (:mod:`dylive.collect.follow`).

:class:`FollowSchedule` says when to check the room page again: at most ``interval`` seconds
apart while the room was live within the last ``recent`` seconds, then backing off (the delay
doubles for every further ``recent`` seconds offline) up to ``ceiling``; every delay is jittered
down by up to ``jitter`` of itself, and the first check of a wait lands at a random point of the
first delay (so that many rooms ending together — a service restart with 1,000 pinned offline
rooms — do not re-check together). :func:`next_broadcast` repeats a status check on that
schedule until a live broadcast with another room_id than the one that ended is found.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx

from dylive.errors import UpstreamError
from dylive.source.room import RoomInfo

log = logging.getLogger(__name__)

__all__ = ["FollowSchedule", "next_broadcast"]


@dataclass(slots=True)
class FollowSchedule:
    """When to check a waiting room again (see the module docstring). Pure: the clock is passed."""

    interval: float = 10.0  # s, longest delay while the room was live within ``recent``
    ceiling: float = 300.0  # s, longest delay for a room offline for days
    recent: float = 3600.0  # s
    jitter: float = 0.2
    rng: random.Random = field(default_factory=random.Random)

    def base(self, offline_for: float) -> float:
        """The delay before jitter for a room offline for ``offline_for`` seconds."""
        if offline_for < self.recent or self.recent <= 0:
            return self.interval
        doublings = min(64.0, (offline_for - self.recent) / self.recent + 1.0)
        backed_off: float = self.interval * 2.0**doublings
        return max(self.interval, min(self.ceiling, backed_off))

    def delay(self, offline_for: float) -> float:
        """The next delay: ``base`` jittered into [base * (1 - jitter), base]."""
        return self.base(offline_for) * (1.0 - self.jitter * self.rng.random())

    def first_delay(self, offline_for: float) -> float:
        """The first delay of a wait: anywhere in (0, base], staggering rooms that end together."""
        return self.base(offline_for) * max(0.05, self.rng.random())


async def next_broadcast(
    check: Callable[[], Awaitable[RoomInfo]],
    *,
    ended_room: int,
    schedule: FollowSchedule,
    last_live_at: float | None = None,
    first_check_now: bool = False,
    on_schedule: Callable[[float], None] | None = None,
    pace: Callable[[], Awaitable[object]] | None = None,
) -> RoomInfo:
    """The next live broadcast: ``check()`` (a room status lookup) is repeated on ``schedule``
    until it answers a live room whose room_id is not ``ended_room``; failed checks are logged
    and retried.

    ``last_live_at`` (unix s; default now) is when the room was last seen live; ``on_schedule``
    is told the unix time of every next check; ``pace`` is awaited before each check (the
    identity pool's pacing in the service). ``first_check_now`` checks at once (a room found
    offline at startup), else the first check is staggered."""
    live_at = time.time() if last_live_at is None else last_live_at
    delay = 0.0 if first_check_now else schedule.first_delay(time.time() - live_at)
    while True:
        if on_schedule is not None:
            on_schedule(time.time() + delay)
        if delay > 0:
            await asyncio.sleep(delay)
        if pace is not None:
            await pace()
        try:
            info = await check()
        except (UpstreamError, httpx.HTTPError) as exc:
            log.info("room %s: status check failed: %s", ended_room, exc)
        else:
            if info.live and info.room_id != ended_room:
                log.info("room %s: broadcast %s is live", info.web_rid, info.room_id)
                return info
        delay = schedule.delay(time.time() - live_at)
