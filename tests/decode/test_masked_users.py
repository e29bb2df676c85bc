"""Masked users (Douyin 2025-2026, guests): uid 111111 for everyone, the per-room webcast_uid
(User field 73 / id_str) is the only stable id. Decoding keeps what Douyin sent and adds
``webcast_uid`` / ``masked``; the gift ledger keys streaks by the stable key; doubled gifts (a
copy with a new msg_id, the same group_id and repeat_count) are counted once."""

from __future__ import annotations

import orjson

from dylive.decode import GiftEvent, GiftLedger, UserInfo, decode, render
from dylive.decode.direct import render_direct
from dylive.decode.events import MASKED_UID, json_user_key, key_order, user_key
from dylive.proto import webcast_pb2 as pb
from dylive.sim.era import mask_payload, webcast_uid
from dylive.wire.frames import RawMessage

WEB_RID = "615189692839"
ANCHOR = 99
CHAT = "WebcastChatMessage"
GIFT = "WebcastGiftMessage"


def _user(uid: int, nickname: str) -> pb.User:
    return pb.User(
        id=uid, short_id=uid + 1, nickname=nickname, sec_uid=f"MS4w{uid}", id_str=str(uid)
    )


def _chat(uid: int, nickname: str, content: str = "hi") -> bytes:
    msg = pb.ChatMessage(content=content)
    msg.common.method = CHAT
    msg.common.room_id = 7
    msg.user.CopyFrom(_user(uid, nickname))
    data: bytes = msg.SerializeToString()
    return data


def _masked_chat(uid: int, nickname: str) -> bytes:
    return mask_payload(CHAT, _chat(uid, nickname), WEB_RID, ANCHOR)


def test_masked_chat_decodes_webcast_uid_and_keeps_the_rest_as_sent() -> None:
    event = decode(RawMessage(CHAT, 1, _masked_chat(61152922824, "若他")), room_id=7)
    token = webcast_uid(WEB_RID, 61152922824)
    assert event.user.uid == MASKED_UID and event.user.nickname == "若***"  # type: ignore[attr-defined]
    assert event.user.webcast_uid == token and event.user.masked  # type: ignore[attr-defined]
    assert event.user.key == token  # type: ignore[attr-defined]
    user = render(event)["payload"]["user"]
    assert user["uid"] == MASKED_UID and user["sec_uid"] == "" and user["unique_id"] == ""
    assert user["webcast_uid"] == token and user["masked"] is True
    assert json_user_key(user) == token


def test_unmasked_user_renders_exactly_as_before() -> None:
    raw = RawMessage(CHAT, 1, _chat(61152922824, "若他"))
    event = decode(raw, room_id=7)
    assert event.user.webcast_uid == "" and not event.user.masked  # type: ignore[attr-defined]
    assert event.user.key == 61152922824  # type: ignore[attr-defined]
    user = render(event)["payload"]["user"]
    assert "webcast_uid" not in user and "masked" not in user
    assert json_user_key(user) == 61152922824


def test_id_str_alone_is_a_webcast_uid_when_it_is_not_the_uid() -> None:
    msg = pb.ChatMessage(content="x")
    msg.user.CopyFrom(pb.User(id=MASKED_UID, nickname="a***", id_str="opaque-token"))
    event = decode(RawMessage(CHAT, 1, msg.SerializeToString()))
    assert event.user.webcast_uid == "opaque-token" and event.user.masked  # type: ignore[attr-defined]


def test_direct_renderer_writes_the_typed_bytes_for_masked_users() -> None:
    for payload in (_masked_chat(5, "甲"), _chat(5, "甲"), _masked_chat(6, "")):
        raw = RawMessage(CHAT, 3, payload)
        got = render_direct(raw, room_id=7)
        assert got is not None
        assert got.json == orjson.dumps(render(decode(raw, room_id=7)))


def test_user_keys() -> None:
    assert user_key(42) == 42
    assert user_key(42, "tok") == 42  # a real uid wins
    assert user_key(MASKED_UID, "tok") == "tok"
    assert user_key(0, "tok") == "tok"
    assert user_key(MASKED_UID) == MASKED_UID  # nothing better known
    assert json_user_key(None) == 0 and json_user_key({"uid": True}) == 0
    assert sorted(["b", 3, "a", 1], key=key_order) == [1, 3, "a", "b"]


def _gift(msg_id: int, user: UserInfo, group_id: int, repeat: int, end: int) -> GiftEvent:
    return GiftEvent(
        method=GIFT,
        msg_id=msg_id,
        room_id=1,
        user=user,
        gift_id=463,
        gift_name="小心心",
        diamond_count=1,
        combo=True,
        repeat_count=repeat,
        combo_count=repeat,
        group_count=1,
        group_id=group_id,
        repeat_end=end,
    )


def test_masked_users_streaks_do_not_collapse_into_uid_111111() -> None:
    a = UserInfo(uid=MASKED_UID, nickname="a***", webcast_uid="A", masked=True)
    b = UserInfo(uid=MASKED_UID, nickname="b***", webcast_uid="B", masked=True)
    ledger = GiftLedger()
    # Same gift, same group_id (group ids sometimes repeat across users), two senders.
    assert ledger.delta(_gift(1, a, 77, 3, 1)) == 3
    assert ledger.delta(_gift(2, b, 77, 2, 1)) == 2
    assert ledger.total_gifts == 5
    assert {s[0] for s in ledger.streaks()} == {"A", "B"}
    again = GiftLedger()
    again.restore(ledger.streaks())
    assert again.delta(_gift(3, a, 77, 4, 1)) == 1


def test_doubled_gifts_are_counted_once() -> None:
    """docs/simulator.md: the last message of a send is followed by a copy with a new msg_id,
    the same group_id/user/gift/counts and repeat_end 1; the first copy then has repeat_end 0."""
    user = UserInfo(uid=7, nickname="u7")
    ledger = GiftLedger()
    streak = [_gift(10, user, 900, 1, 0), _gift(11, user, 900, 2, 0), _gift(12, user, 900, 3, 0)]
    copy = _gift(13, user, 900, 3, 1)
    single, single_copy = _gift(20, user, 901, 1, 0), _gift(21, user, 901, 1, 1)
    deltas = [ledger.delta(e) for e in [*streak, copy, single, single_copy]]
    assert deltas == [1, 1, 1, 0, 1, 0]
    assert ledger.total_gifts == 4
    # The copy arriving first (out of order) still makes one gift send.
    other = GiftLedger()
    assert other.delta(single_copy) == 1 and other.delta(single) == 0
