"""Waiting for an anchor's next broadcast (``Room(follow=True)``).

The room page is checked again with a jittered backoff from ``initial`` up to ``cap`` seconds
until a live broadcast with another room_id than the one that ended is found.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import httpx

from dylive.errors import UpstreamError
from dylive.source.reconnect import Backoff
from dylive.source.room import RoomInfo

log = logging.getLogger(__name__)

__all__ = ["next_broadcast"]


async def next_broadcast(
    check: Callable[[], Awaitable[RoomInfo]],
    *,
    ended_room: int,
    initial: float,
    cap: float,
) -> RoomInfo:
    """The next live broadcast: ``check()`` (a room status lookup) is repeated, with backoff,
    until it answers a live room whose room_id is not ``ended_room``; failed checks are logged
    and retried."""
    wait = Backoff(initial=initial, cap=cap, jitter=0.2)
    while True:
        try:
            info = await check()
        except (UpstreamError, httpx.HTTPError) as exc:
            log.info("room %s: status check failed: %s", ended_room, exc)
        else:
            if info.live and info.room_id != ended_room:
                log.info("room %s: broadcast %s is live", info.web_rid, info.room_id)
                return info
        await asyncio.sleep(wait.next_delay())
