"""The audience-ranking fallback (our own ledger) on a room whose users arrive masked: each
masked sender is ranked on its own, by webcast_uid, and its entry says so."""

from __future__ import annotations

from dylive.analytics.audience import _RoomTally, ledger_ranking
from dylive.proto import webcast_pb2 as pb
from dylive.sim.era import mask_payload, webcast_uid

WEB_RID, ANCHOR, GIFT = "80017709309", 1, "WebcastGiftMessage"


def gift(uid: int, nickname: str, group_id: int, repeat: int, end: int) -> bytes:
    msg = pb.GiftMessage(
        gift_id=463, group_id=group_id, repeat_count=repeat, group_count=1, repeat_end=end
    )
    msg.gift.id, msg.gift.name, msg.gift.diamond_count, msg.gift.combo = 463, "小心心", 10, True
    msg.user.CopyFrom(pb.User(id=uid, nickname=nickname, sec_uid=f"MS4w{uid}", id_str=str(uid)))
    return mask_payload(GIFT, msg.SerializeToString(), WEB_RID, ANCHOR)


def test_masked_senders_rank_apart_and_doubled_gifts_count_once() -> None:
    tally = _RoomTally()
    # A: a streak of 3 and its doubled copy; B: one gift and its copy. Stored without deltas.
    for msg_id, payload in enumerate(
        [
            gift(1001, "甲", 7, 1, 0),
            gift(1001, "甲", 7, 3, 0),
            gift(1001, "甲", 7, 3, 1),
            gift(1002, "乙", 8, 1, 0),
            gift(1002, "乙", 8, 1, 1),
        ],
        start=1,
    ):
        tally.add(msg_id, GIFT, payload, room_id=5)
    ranking = ledger_ranking(tally, ANCHOR)
    users = [(r["user"]["id"], r["user"].get("webcast_uid"), r["score"]) for r in ranking["ranks"]]
    assert users == [
        (111111, webcast_uid(WEB_RID, 1001), 30),
        (111111, webcast_uid(WEB_RID, 1002), 10),
    ]
    assert ranking["ranks"][0]["user"]["nickname"] == "甲***"
