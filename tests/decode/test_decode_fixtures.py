"""Golden fixtures built from the spec with our own .proto: frame bytes → expected JSON."""

from __future__ import annotations

import gzip
from typing import Any

import pytest

from dylive.decode import (
    ControlEvent,
    DecodeFailed,
    GiftEvent,
    UnknownEvent,
    decode,
    render,
)
from dylive.errors import PayloadTooLarge
from dylive.proto import webcast_pb2 as pb
from dylive.wire.frames import RawMessage, encode_frame, encode_response
from dylive.wire.session import PushSession

ROOM = 6922580638159719176
T0 = 1611801897133


def _user() -> pb.User:
    u = pb.User(
        id=61152922824,
        short_id=834508049,
        nickname="若他",
        display_id="834508049",
        sec_uid="MS4wLjABAAAAofSXImUFD30Qi7j1fV66kn0U7VinMZwzVkAfQnHZFvg",
    )
    u.avatar_thumb.url_list.append("https://p3.douyinpic.com/aweme/100x100/a.jpeg")
    u.pay_grade.level = 12
    u.fans_club.data.club_name = "熊粉"
    u.fans_club.data.level = 5
    return u


USER_JSON = {
    "uid": 61152922824,
    "nickname": "若他",
    "unique_id": "834508049",
    "sec_uid": "MS4wLjABAAAAofSXImUFD30Qi7j1fV66kn0U7VinMZwzVkAfQnHZFvg",
    "short_id": 834508049,
    "pay_grade_level": 12,
    "fans_club_level": 5,
    "fans_club_name": "熊粉",
    "avatar_url": "https://p3.douyinpic.com/aweme/100x100/a.jpeg",
}


def _common(method: str, msg_id: int, room_id: int = ROOM, describe: str = "") -> pb.Common:
    return pb.Common(
        method=method, msg_id=msg_id, room_id=room_id, create_time=T0, describe=describe
    )


def _raw(method: str, msg_id: int, message: Any) -> RawMessage:
    return RawMessage(method, msg_id, message.SerializeToString())


def _gift(msg_id: int, repeat: int, end: int = 0) -> RawMessage:
    m = pb.GiftMessage(
        common=_common("WebcastGiftMessage", msg_id, describe=f"若他:送给主播 {repeat}个小心心"),
        gift_id=463,
        group_count=1,
        repeat_count=repeat,
        combo_count=repeat,
        user=_user(),
        repeat_end=end,
        group_id=1611801890,
    )
    m.gift.id = 463
    m.gift.name = "小心心"
    m.gift.diamond_count = 1
    m.gift.combo = True
    m.gift.type = 1
    return _raw("WebcastGiftMessage", msg_id, m)


def _frame(messages: list[RawMessage]) -> bytes:
    body = encode_response(messages, cursor="c", internal_ext="e", need_ack=True)
    return encode_frame(body, log_id=7, seq_id=1)


def _through_session(messages: list[RawMessage]) -> list[dict[str, Any]]:
    raws = PushSession().receive_frame(_frame(messages))
    return [render(decode(r, room_id=ROOM)) for r in raws]


def test_chat() -> None:
    msg = pb.ChatMessage(
        common=_common("WebcastChatMessage", 6922636275858098944),
        user=_user(),
        content="想要长款连衣裙",
    )
    (out,) = _through_session([_raw("WebcastChatMessage", 6922636275858098944, msg)])
    assert out == {
        "method": "WebcastChatMessage",
        "msg_id": 6922636275858098944,
        "payload": {"room_id": ROOM, "content": "想要长款连衣裙", "user": USER_JSON},
    }


def test_gift_streak_renders_douyin_wording_and_fields() -> None:
    outs = _through_session([_gift(101, 1), _gift(102, 2), _gift(103, 3, end=1)])
    assert [o["payload"]["content"] for o in outs] == [
        "若他:送给主播 1个小心心",
        "若他:送给主播 2个小心心",
        "若他:送给主播 3个小心心",
    ]
    assert outs[2]["payload"]["gift"] == {
        "id": 463,
        "name": "小心心",
        "diamond_count": 1,
        "combo": True,
        "type": 1,
        "repeat_count": 3,
        "combo_count": 3,
        "group_count": 1,
        "group_id": 1611801890,
        "repeat_end": 1,
        "count": 3,
    }


def test_gift_content_without_describe_is_composed() -> None:
    m = pb.GiftMessage(
        common=_common("WebcastGiftMessage", 9),
        gift_id=2002,
        group_count=1,
        repeat_count=2,
        user=_user(),
    )
    m.gift.name = "大啤酒"
    event = decode(_raw("WebcastGiftMessage", 9, m))
    assert isinstance(event, GiftEvent)
    assert render(event)["payload"]["content"] == "若他:送给主播 2个大啤酒"


def test_like_member_social() -> None:
    like = pb.LikeMessage(
        common=_common("WebcastLikeMessage", 1), count=15, total=3200, user=_user()
    )
    member = pb.MemberMessage(
        common=_common("WebcastMemberMessage", 2), user=_user(), member_count=169
    )
    follow = pb.SocialMessage(common=_common("WebcastSocialMessage", 3), user=_user(), action=1)
    share = pb.SocialMessage(common=_common("WebcastSocialMessage", 4), user=_user(), action=3)
    outs = _through_session(
        [
            _raw("WebcastLikeMessage", 1, like),
            _raw("WebcastMemberMessage", 2, member),
            _raw("WebcastSocialMessage", 3, follow),
            _raw("WebcastSocialMessage", 4, share),
        ]
    )
    assert [o["payload"]["content"] for o in outs] == ["点赞", "来了", "关注了主播", "分享了直播间"]
    assert outs[0]["payload"]["like"] == {"count": 15, "total": 3200}
    assert outs[1]["payload"]["member_count"] == 169
    assert all(o["payload"]["user"] == USER_JSON for o in outs)


def test_room_stats_and_user_seq() -> None:
    stats = pb.RoomStatsMessage(
        common=_common("WebcastRoomStatsMessage", 5),
        display_long="2252在线观众",
        display_value=2252,
    )
    seq = pb.RoomUserSeqMessage(
        common=_common("WebcastRoomUserSeqMessage", 6), total=165, total_user=133339
    )
    seq.ranks.add(rank=1, score=99, user=_user(), exactly_score="99")
    outs = _through_session(
        [_raw("WebcastRoomStatsMessage", 5, stats), _raw("WebcastRoomUserSeqMessage", 6, seq)]
    )
    assert outs[0]["payload"] == {
        "room_id": ROOM,
        "content": "2252在线观众",
        "stats": {"display_long": "2252在线观众", "display_value": 2252, "total": 0},
    }
    assert outs[1]["payload"]["viewers"]["total"] == 165
    assert outs[1]["payload"]["ranks"] == [
        {"rank": 1, "score": 99, "score_str": "99", "user": USER_JSON}
    ]


def test_control_end() -> None:
    ctl = pb.ControlMessage(common=_common("WebcastControlMessage", 8), action=3)
    raw = _raw("WebcastControlMessage", 8, ctl)
    event = decode(raw)
    assert isinstance(event, ControlEvent) and event.ended
    assert render(event)["payload"] == {
        "room_id": ROOM,
        "content": "直播已结束",
        "control": {"action": 3, "ended": True},
    }


def test_room_intro_keeps_room_id_zero_and_anchor_as_user() -> None:
    intro = pb.RoomIntroMessage(
        common=_common("WebcastRoomIntroMessage", 6888847779519534083, room_id=0),
        user=_user(),
        intro="这里是TeenieWeenie官方直播间,欢迎熊粉们常来玩,主播在这里等你们哟~",
    )
    out = render(decode(_raw("WebcastRoomIntroMessage", 6888847779519534083, intro), room_id=ROOM))
    assert out["payload"]["room_id"] == 0
    assert out["payload"]["content"].startswith("这里是TeenieWeenie官方直播间")
    assert out["payload"]["user"] == USER_JSON


def test_unknown_method_keeps_raw_bytes() -> None:
    raw = RawMessage("WebcastBrandNewMessage", 42, b"\x08\x01")
    event = decode(raw, room_id=ROOM)
    assert isinstance(event, UnknownEvent)
    assert event.raw == b"\x08\x01"
    assert render(event) == {
        "method": "WebcastBrandNewMessage",
        "msg_id": 42,
        "payload": {"room_id": 0, "content": "", "raw_b64": "CAE="},
    }


def test_corrupt_payload_is_decode_failed_not_exception() -> None:
    raw = RawMessage("WebcastChatMessage", 43, b"\x0a\xff\xff")
    event = decode(raw, room_id=ROOM)
    assert isinstance(event, DecodeFailed)
    assert event.raw == b"\x0a\xff\xff"
    assert event.error
    assert render(event)["payload"]["raw_b64"] == "Cv//"


def test_gzip_bomb_frame_is_an_error_not_oom() -> None:
    bomb = gzip.compress(b"\x00" * (10 * 1024 * 1024))
    frame = pb.PushFrame(payload_type="msg", payload=bomb, log_id=1)
    frame.headers.add(key="compress_type", value="gzip")
    with pytest.raises(PayloadTooLarge):
        PushSession().receive_frame(frame.SerializeToString())
