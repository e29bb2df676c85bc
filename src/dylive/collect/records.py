"""The row a resolved room is stored as (``rooms`` table): what collection knows of a broadcast."""

from __future__ import annotations

from dylive.numbers import U64_MAX, ascii_uint
from dylive.source.room import RoomInfo
from dylive.store import RoomRecord

__all__ = ["room_record"]


def _uid(text: str) -> int:
    value = ascii_uint(text) or 0
    return value if value <= U64_MAX else 0


def room_record(info: RoomInfo) -> RoomRecord:
    """The stored row of ``info`` (an anchor uid that is not a u64 is stored as 0)."""
    return RoomRecord(
        room_id=info.room_id,
        web_rid=info.web_rid,
        status=info.status,
        anchor_uid=_uid(str(info.anchor_uid)),
        anchor_sec_uid=info.anchor_sec_uid,
        anchor_nickname=info.anchor_nickname,
        title=info.title,
    )
