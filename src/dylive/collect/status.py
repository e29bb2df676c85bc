"""What a followed or starting room looks like from outside: listing entries and ``live_status``
(:class:`~dylive.collect.rooms.RoomManager` delegates here)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dylive.errors import RoomNotFound
from dylive.source.room import parse_ident

if TYPE_CHECKING:
    from .rooms import RoomManager

__all__ = ["follow_status", "live_status", "starting_rooms", "waiting_rooms"]


def waiting_rooms(rooms: RoomManager) -> list[dict[str, Any]]:
    """The listing entries of followed rooms not being collected (waiting or ended)."""
    collected = {s.info.web_rid for s in rooms.rooms.values() if not s.ended}
    return [
        f.status()
        for f in list(rooms.follows.rooms.values())
        if f.web_rid not in collected and f.state != "live"
    ]


def live_status(rooms: RoomManager, web_rid: str, room_id: int) -> dict[str, Any]:
    """``{"status": live|waiting|ended, "room_id", "web_rid", …}`` of an anchor (its
    current broadcast), or of one broadcast when ``web_rid`` is empty."""
    state = rooms.current(web_rid) if web_rid else rooms.rooms.get(room_id)
    if state is not None and not state.ended:
        return {"status": "live", "room_id": state.room_id, "web_rid": state.info.web_rid}
    followed = rooms.follows.get(web_rid) if web_rid else None
    out: dict[str, Any] = {"status": "ended", "room_id": room_id, "web_rid": web_rid}
    if followed is not None and followed.state == "waiting":
        out.update(
            status="waiting",
            room_id=followed.info.room_id,
            last_live_at=followed.last_live_at,
            next_check_at=followed.next_check_at,
        )
    return out


def follow_status(rooms: RoomManager, ident: str) -> dict[str, Any] | None:
    """The status of a followed room that is not being collected now (else None)."""
    try:
        web_rid, _ = parse_ident(ident)
    except RoomNotFound:
        return None
    followed = rooms.follows.get(web_rid) if web_rid else None
    if followed is None or followed.state == "live":
        return None
    state = rooms.current(web_rid)
    return None if state is not None and not state.ended else followed.status()


def starting_rooms(rooms: RoomManager) -> list[dict[str, Any]]:
    """The pinned rooms still being resolved and started (``start(background=True)``)."""
    return [
        {
            "room": ident,  # as pinned: not resolved yet, so no room_id / web_rid
            "room_id": None,
            "web_rid": None,
            "state": "starting",
            "pinned": True,
            "collecting": False,
            "since": since,
        }
        for ident, since in list(rooms.starting.items())
    ]
