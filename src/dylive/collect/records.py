"""What collection stores: the record of each message (rendered once, right-sized), the row of a
resolved room, and the upstream position stored with each batch (and back to a checkpoint)."""

from __future__ import annotations

from dylive.decode import Event, GiftEvent, GiftLedger, render, stored_json
from dylive.decode.direct import Rendered
from dylive.numbers import U64_MAX, ascii_uint
from dylive.source.room import RoomInfo
from dylive.source.transport import Checkpoint
from dylive.store import Record, RoomRecord, UpstreamPosition

__all__ = ["room_record", "to_checkpoint", "to_position", "to_record"]


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


def to_record(room_id: int, event: Event | Rendered, ledger: GiftLedger | None = None) -> Record:
    """The store record of one decoded event (rendered once, here, with orjson), or of a message
    the collector already rendered (``Rendered``: its bytes as they are).

    A gift's rendered JSON carries ``gift.delta`` (the new gifts it adds): the one its source
    computed with the room's ledger, else (no delta yet) the one ``ledger`` gives it.
    """
    if isinstance(event, Rendered):
        return Record(room_id, event.msg_id, event.method, event.created_at, event.json, event.raw)
    if ledger is not None and isinstance(event, GiftEvent) and event.delta is None:
        event = ledger.apply(event)
    return Record(
        room_id=room_id,
        msg_id=event.msg_id,
        method=event.method,
        created_at=event.created_at,
        rendered=stored_json(render(event)),
        raw=event.raw,
    )


def to_checkpoint(pos: UpstreamPosition | None) -> Checkpoint | None:
    if pos is None or not pos:
        return None
    return Checkpoint(pos.cursor, pos.internal_ext, pos.push_server, pos.transport, pos.last_msg_id)


def to_position(room_id: int, cp: Checkpoint) -> UpstreamPosition:
    return UpstreamPosition(
        room_id=room_id,
        transport=cp.transport,
        cursor=cp.cursor,
        internal_ext=cp.internal_ext,
        push_server=cp.push_server,
        last_msg_id=cp.last_msg_id,
    )
