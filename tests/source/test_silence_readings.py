"""The silence watchdog reads the viewer figures of a pre-rendered housekeeping message (the
service's ``direct`` path) from its JSON: the readings the typed path gives, so the same quiet
spells prove the room live."""

from __future__ import annotations

from dylive.decode import decode
from dylive.decode.direct import render_direct
from dylive.proto import webcast_pb2 as pb
from dylive.source.options import CollectorOptions
from dylive.source.silence import SilenceWatch
from dylive.wire.frames import RawMessage

U64 = (1 << 64) - 1


def housekeeping(i: int) -> list[RawMessage]:
    seq = pb.RoomUserSeqMessage(total=1000 + i, total_user=U64 - i, total_user_str="1万")
    seq.common.msg_id, seq.common.room_id = 10 + i, 7
    rank = seq.ranks.add(rank=1, score=5, exactly_score="5")
    rank.user.id, rank.user.nickname = 42, "n"
    stats = pb.RoomStatsMessage(display_long="1000在线观众", display_value=i % 2, total=U64)
    stats.common.msg_id = 20 + i
    return [
        RawMessage("WebcastRoomUserSeqMessage", 10 + i, seq.SerializeToString()),
        RawMessage("WebcastRoomStatsMessage", 20 + i, stats.SerializeToString()),
    ]


def readings(direct: bool, messages: list[RawMessage]) -> list[tuple[bool, set[object]]]:
    watch = SilenceWatch(CollectorOptions())
    watch.start("push", 0.0)
    out = []
    for raw in messages:
        event = (render_direct(raw, room_id=7) if direct else None) or decode(raw, room_id=7)
        assert watch.observe(raw, event, 1.0) is False  # housekeeping, not business
        out.append((watch.live_evidence, set(watch._readings)))
        watch._readings.clear()  # every message read (the watch stops at MOVING readings)
    return out


def test_pre_rendered_readings_equal_the_typed_ones() -> None:
    messages = [m for i in range(3) for m in housekeeping(i)]
    assert all(render_direct(m, room_id=7) is not None for m in messages)
    typed, direct = readings(False, messages), readings(True, messages)
    assert direct == typed
    assert {r for _, rs in typed for r in rs} >= {
        ("WebcastRoomUserSeqMessage", 1000, U64),
        ("WebcastRoomStatsMessage", 1, U64),
    }
