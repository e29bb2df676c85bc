"""douyinLive-compatible frames follow douyinLive's schema (jwwsjlm/douyinlive-proto): text
pieces say ``valueRef`` and carry no ``userValue``, RoomIntro's ``style`` is a string,
``eventTime`` and ``webcastUid`` come out when Douyin sent them; FollowInfo's 6 is
``followerCountStr``."""

from __future__ import annotations

import orjson

from dylive.deliver.douyinlive import message_frame
from dylive.proto import webcast_pb2 as pb


def frame(method: str, msg: object) -> dict:  # type: ignore[type-arg]
    raw = msg.SerializeToString()  # type: ignore[attr-defined]
    out = message_frame(method, raw, live_name="主播", title="t")
    assert out is not None
    data: dict = orjson.loads(out)  # type: ignore[type-arg]
    return data


def test_emoji_chat_pieces_use_value_ref_and_no_user_value() -> None:
    msg = pb.EmojiChatMessage(emoji_id=3, default_content="[比心]")
    msg.emoji_content.pieces.add(type=1, string_value="[比心]")
    piece = msg.emoji_content.pieces.add(type=11)
    piece.user_value.user.id = 5
    msg.common.display_text.pieces.add(type=1, string_value="x")
    data = frame("WebcastEmojiChatMessage", msg)
    pieces = data["emojiContent"]["pieces"]
    assert pieces[0] == {"type": 1, "valueRef": "[比心]"}
    assert all("userValue" not in p and "stringValue" not in p for p in pieces)
    assert data["common"]["displayText"]["pieces"] == [{"type": 1, "valueRef": "x"}]
    assert data["method"] == "WebcastEmojiChatMessage" and data["livename"] == "主播"


def test_room_intro_style_is_a_string_and_chat_keeps_event_time_and_webcast_uid() -> None:
    intro = frame("WebcastRoomIntroMessage", pb.RoomIntroMessage(style=1, intro="hi"))
    assert intro["style"] == "1"
    chat = pb.ChatMessage(content="hi", event_time=1765000000)
    chat.user.CopyFrom(pb.User(id=111111, nickname="若***", webcast_uid="tok", id_str="tok"))
    chat.user.follow_info.follower_count_str = "12万"
    data = frame("WebcastChatMessage", chat)
    assert data["eventTime"] == "1765000000"
    assert data["user"]["webcastUid"] == "tok" and data["user"]["idStr"] == "tok"
    assert data["user"]["followInfo"] == {"followerCountStr": "12万"}
