"""Gift combos as Douyin sends them, and a collection source that replays fixed events."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from dylive.decode import Event, decode
from dylive.proto import webcast_pb2 as pb
from dylive.source.room import RoomInfo
from dylive.wire.frames import RawMessage


def combo_gift(
    msg_id: int,
    repeat: int,
    *,
    room_id: int,
    uid: int = 5,
    diamonds: int = 1,
    group_id: int = 99,
    end: bool = False,
) -> Event:
    """One click of a 小心心 combo: ``repeat`` clicks so far, 2 gifts per click."""
    msg = pb.GiftMessage(
        gift_id=463, repeat_count=repeat, combo_count=repeat, group_count=2,
        group_id=group_id, repeat_end=1 if end else 0,
    )  # fmt: skip
    msg.common.method = "WebcastGiftMessage"
    msg.common.msg_id = msg_id
    msg.common.room_id = room_id
    msg.user.id = uid
    msg.user.nickname = "combo"
    msg.gift.id, msg.gift.name, msg.gift.combo = 463, "小心心", True
    msg.gift.diamond_count = diamonds
    raw = RawMessage("WebcastGiftMessage", msg_id, msg.SerializeToString())
    return decode(raw, room_id=room_id)


def replay(events: list[Event]) -> Any:
    """A collection source factory that yields ``events`` once, then ends."""

    @contextlib.asynccontextmanager
    async def factory(
        _info: RoomInfo, _resume: object, _ledger: object = None
    ) -> AsyncIterator[AsyncIterator[Event]]:
        async def gen() -> AsyncIterator[Event]:
            for e in events:
                yield e

        yield gen()

    return factory
