"""Between broadcasts: what happens when a followed room's broadcast ends and the next starts.

Alone, a followed room (see :mod:`dylive.collect.follow`) waits for its next broadcast, which
starts collecting here, continuing from the ended broadcast's upstream position.

In a fleet, a followed room's watching is leased like its collection. The node holding a room's lease collects it while it is live and, once its broadcast has
ended, keeps the lease and waits for the next broadcast (:mod:`dylive.collect.follow`); the
lease is renewed while the room is watched, so a takeover (the node dies or hands off) moves
the watching to another node, which claims the row and resumes waiting. When the next
broadcast is found, the lease row moves to the new room_id (pinned / wanted as before, with
the ended broadcast's upstream position stored for it) and the fleet places the new broadcast
like any wanted room.
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import replace
from typing import TYPE_CHECKING

from dylive.errors import DyliveError
from dylive.source.room import STATUS_ENDED, RoomInfo, parse_ident
from dylive.source.transport import Checkpoint
from dylive.store import Fence

from .records import room_record, to_checkpoint, to_position
from .roomstate import RoomState

if TYPE_CHECKING:
    from .follow import Followed
    from .rooms import RoomManager

__all__ = [
    "WAITING",
    "broadcast_ended",
    "last_live_at",
    "leased_ended",
    "leased_offline",
    "moved",
    "next_live",
    "pin_later",
]

#: what a fleet node reports as a held room's "error" while it watches for the next broadcast
WAITING = "waiting for the next broadcast"

log = logging.getLogger(__name__)


async def last_live_at(rooms: RoomManager, web_rid: str) -> float | None:
    """When ``web_rid`` was last seen live, from its stored sessions (unix s; None: unknown),
    so that a restart keeps the schedule of rooms that ended shortly before it."""
    try:
        sessions = await rooms.store.list_sessions(web_rid=web_rid)
    except DyliveError:
        return None
    last = max((s.ended_at or s.updated_at for s in sessions), default=0)
    return last / 1000 if last else None


def pin_later(rooms: RoomManager, ident: str) -> None:
    """A pinned room that could not be resolved at startup (upstream failure) is watched like
    a room between broadcasts: collected as soon as a check finds it live."""
    try:
        web_rid, _ = parse_ident(ident)
    except DyliveError:
        return
    if web_rid and rooms.fleet is None and rooms.follows.get(web_rid) is None:
        rooms.follows.wait(RoomInfo(web_rid, 0, STATUS_ENDED), pinned=True)


def broadcast_ended(rooms: RoomManager, state: RoomState) -> None:
    """A collected broadcast ended: wait for the next one while the room is followed."""
    web_rid = state.info.web_rid
    if rooms.fleet is not None:
        leased_ended(rooms, state)
        return
    if not web_rid or rooms.current_room_of(web_rid) not in (0, state.room_id):
        return
    followed = rooms.follows.get(web_rid)
    pinned = state.pinned or (followed is not None and followed.pinned)
    last_polled = max(state.last_polled, followed.last_polled if followed else 0.0)
    info = replace(state.info, status=STATUS_ENDED)
    if pinned or time.monotonic() - last_polled <= rooms.idle_timeout:
        resume = getattr(state.source, "checkpoint", None)
        rooms.follows.wait(
            info,
            pinned=pinned,
            last_polled=last_polled,
            resume=resume if isinstance(resume, Checkpoint) else None,
        )
    elif followed is not None:
        followed.info = info
        rooms.follows.end(followed)


async def next_live(rooms: RoomManager, followed: Followed, info: RoomInfo) -> None:
    """A followed room's next broadcast is live: collect it (a new session), continuing from
    the ended broadcast's position (see RoomState.resume)."""
    rooms.forget_lookup(info.web_rid)
    with contextlib.suppress(DyliveError):
        await rooms.store.upsert_room(room_record(info))
        if followed.resume is None:  # e.g. after a restart, or a fleet takeover
            followed.resume = to_checkpoint(
                await rooms.store.upstream_position(followed.info.room_id)
            )
    if rooms.fleet is not None and followed.fence is not None:
        await moved(rooms, followed, info)
        return
    if info.room_id in rooms.rooms:
        return
    state = rooms.start_room(info, pinned=followed.pinned, resume=followed.resume)
    state.last_polled = followed.last_polled


async def leased_offline(
    rooms: RoomManager, info: RoomInfo, live: bool, room_id: int, fence: Fence
) -> Followed | None:
    """A leased room that is not live (or is another broadcast now): watch it under the lease,
    or move the lease to the newer broadcast (None: drop it)."""
    if not info.web_rid:
        rooms.note_not_live(room_id)
        return None
    if live:  # a newer broadcast already: the lease moves to it
        await rooms.fleet.moved(room_id, fence, info)
        return None
    ended = replace(info, room_id=room_id, status=STATUS_ENDED)
    log.info("room %s (%s): not live; watching for its next broadcast", room_id, info.web_rid)
    return rooms.follows.wait(ended, pinned=True, found_offline=True, fence=fence)


def leased_ended(rooms: RoomManager, state: RoomState) -> None:
    """A leased broadcast ended: keep the lease and wait for the next broadcast."""
    if state.fence is None or state.fenced_out or not state.info.web_rid:
        return
    resume = getattr(state.source, "checkpoint", None)
    rooms.follows.wait(
        replace(state.info, status=STATUS_ENDED),
        pinned=True,
        last_polled=state.last_polled,
        resume=resume if isinstance(resume, Checkpoint) else None,
        fence=state.fence,
    )


async def moved(rooms: RoomManager, followed: Followed, info: RoomInfo) -> None:
    """The next broadcast is live: its position first, then the lease row moves to it."""
    fence = followed.fence
    assert fence is not None
    if followed.resume is not None and await rooms.store.last_seq(info.room_id) == 0:
        await rooms.store.append([], position=to_position(info.room_id, followed.resume))
    await rooms.fleet.moved(followed.info.room_id, fence, info)
    rooms.follows.forget(followed.web_rid)
    log.info("room %s: next broadcast %s handed to the fleet", followed.web_rid, info.room_id)
