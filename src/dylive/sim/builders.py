"""Protobuf payload builders: one function per Douyin message type (douyin-protocol.md §4).

Each returns a :class:`Draft` whose ``common`` lacks msg_id, room_id and create_time; the room
fills them in (:func:`stamp`) when it logs the message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dylive.proto import webcast_pb2 as pb

from .catalog import ROOM_NOTICE, Gift
from .users import SimUser

STATS_METHODS = frozenset({"WebcastRoomStatsMessage", "WebcastRoomUserSeqMessage"})


@dataclass(slots=True)
class Draft:
    """A message before it is logged: method and payload object (or raw bytes if unknown)."""

    method: str
    msg: Any  # a webcast_pb2 message with a ``common`` field, or None
    payload: bytes = b""
    zero_room_id: bool = False  # RoomIntroMessage carries Common.room_id 0 (api-contract.md)
    #: what the message means for the room's totals (ground truth, see ``sim/totals.py``):
    #: ("gift", uid, gifts, diamonds), ("like", n), ("viewers", n), ("chat", uid),
    #: ("follow",), ("share",), ("join",) — or None
    fact: tuple[Any, ...] | None = None
    #: era ``double_gifts``: this draft repeats the gift message before it (not in the totals)
    copy: bool = False


def stamp(draft: Draft, *, msg_id: int, room_id: int, now_ms: int) -> bytes:
    """Fill in Common and serialize; unknown-method drafts return their raw payload."""
    if draft.msg is None:
        return draft.payload
    common = draft.msg.common
    common.method = draft.method
    common.msg_id = msg_id
    common.room_id = 0 if draft.zero_room_id else room_id
    common.create_time = now_ms
    common.is_show_msg = True
    common.app_id = 1128
    data: bytes = draft.msg.SerializeToString()
    return data


def _user(target: pb.User, u: SimUser) -> None:
    target.CopyFrom(u.to_pb())


def chat(user: SimUser, content: str) -> Draft:
    msg = pb.ChatMessage(content=content)
    _user(msg.user, user)
    msg.common.describe = f"{user.nickname}:{content}"
    return Draft("WebcastChatMessage", msg)


def emoji_chat(user: SimUser, emoji_id: int, text: str) -> Draft:
    msg = pb.EmojiChatMessage(emoji_id=emoji_id, default_content=text)
    _user(msg.user, user)
    msg.emoji_content.key = "live_emoji_chat"
    msg.emoji_content.default_pattern = text
    piece = msg.emoji_content.pieces.add(type=1, string_value=text)
    piece.format.color = "#ffffff"
    return Draft("WebcastEmojiChatMessage", msg)


def member(user: SimUser, member_count: int) -> Draft:
    msg = pb.MemberMessage(member_count=member_count, action=1, user_id=user.id)
    _user(msg.user, user)
    text = msg.common.display_text
    text.key = "live_room_enter_toast"
    text.default_pattern = "{0:user} 来了{1:string}"
    _user(text.pieces.add(type=11).user_value.user, user)
    text.pieces.add(type=1, string_value="")
    msg.common.describe = f"{user.nickname} 来了"
    return Draft("WebcastMemberMessage", msg)


def like(user: SimUser, count: int, total: int) -> Draft:
    msg = pb.LikeMessage(count=count, total=total)
    _user(msg.user, user)
    msg.common.describe = f"{user.nickname}:为主播点赞了"
    return Draft("WebcastLikeMessage", msg)


def social(user: SimUser, action: int, *, follow_count: int = 0, share_total: int = 0) -> Draft:
    msg = pb.SocialMessage(action=action, follow_count=follow_count)
    if action == 3:
        msg.share_type = 1
        msg.share_target = "1"
        msg.share_total_count = share_total
        msg.common.describe = f"{user.nickname} 分享了直播间"
    else:
        msg.common.describe = f"{user.nickname} 关注了主播"
    _user(msg.user, user)
    return Draft("WebcastSocialMessage", msg)


def fansclub(user: SimUser, action: int, content: str) -> Draft:
    msg = pb.FansclubMessage(action=action, content=content)
    _user(msg.user, user)
    return Draft("WebcastFansclubMessage", msg)


def gift(
    user: SimUser,
    anchor: SimUser,
    g: Gift,
    *,
    repeat: int,
    group_count: int,
    group_id: int,
    end: bool,
    room_tickets: int,
) -> Draft:
    msg = pb.GiftMessage(
        gift_id=g.id,
        fan_ticket_count=g.diamond_count * group_count,
        group_count=group_count,
        repeat_count=repeat,
        combo_count=repeat,
        repeat_end=1 if end else 0,
        group_id=group_id,
        room_fan_ticket_count=room_tickets,
        total_count=repeat * group_count,
        send_type=1,
        trace_id=f"666666_1_{anchor.id}_{user.id}_{group_id}",
    )
    _user(msg.user, user)
    _user(msg.to_user, anchor)
    gs = msg.gift
    gs.id, gs.name, gs.diamond_count, gs.combo, gs.type = (
        g.id, g.name, g.diamond_count, g.combo, g.type,
    )  # fmt: skip
    gs.describe = f"送出{g.name}"
    gs.image.url_list.append(
        f"https://p3-webcast.douyinpic.com/img/webcast/{g.id}.png~tplv-obj.png"
    )
    msg.common.describe = f"{user.nickname}:送给主播 {repeat * group_count}个{g.name}"
    return Draft("WebcastGiftMessage", msg)


def contributor_list(top: list[tuple[SimUser, int]], target: Any) -> None:
    for rank, (user, score) in enumerate(top, 1):
        item = target.add(score=score, rank=rank, exactly_score=str(score))
        item.score_description = f"{score}"
        _user(item.user, user)


def room_user_seq(c: Any, top: list[tuple[SimUser, int]]) -> Draft:
    msg = pb.RoomUserSeqMessage(
        total=c.online,
        total_user=c.total_user,
        total_user_str=_wan(c.total_user),
        total_str=_wan(c.online),
        popularity=c.online * 7,
        online_user_for_anchor=str(c.online),
        total_pv_for_anchor=_wan(c.total_user * 3),
    )
    contributor_list(top, msg.ranks)
    return Draft("WebcastRoomUserSeqMessage", msg)


def room_stats(online: int) -> Draft:
    text = str(online)
    msg = pb.RoomStatsMessage(
        display_short=text,
        display_middle=text,
        display_long=f"{online}在线观众",
        display_value=online,
        total=online,
        display_type=1,
    )
    return Draft("WebcastRoomStatsMessage", msg)


def room_rank(top: list[tuple[SimUser, int]], scores: dict[int, int]) -> Draft:
    msg = pb.RoomRankMessage()
    for user, score in top:
        item = msg.ranks.add(score_str=str(score))
        _user(item.user, user)
    return Draft("WebcastRoomRankMessage", msg)


def room_intro(anchor: SimUser, intro: str) -> Draft:
    msg = pb.RoomIntroMessage(intro=intro, style=1)
    _user(msg.user, anchor)
    return Draft("WebcastRoomIntroMessage", msg, zero_room_id=True)


def room_notice() -> Draft:
    msg = pb.RoomMessage(content=ROOM_NOTICE, room_message_type=0, system_top_msg=False)
    return Draft("WebcastRoomMessage", msg)


def fan_ticket(count: int) -> Draft:
    msg = pb.UpdateFanTicketMessage(
        room_fan_ticket_count=count, room_fan_ticket_count_text=_wan(count), force_update=False
    )
    return Draft("WebcastUpdateFanTicketMessage", msg)


def control(action: int) -> Draft:
    tips = "直播已结束" if action == 3 else ""
    return Draft("WebcastControlMessage", pb.ControlMessage(action=action, tips=tips))


def _wan(n: int) -> str:
    """Douyin's count rendering: 9999, 1.2万, 13.3万."""
    if n < 10_000:
        return str(n)
    return f"{n / 10_000:.1f}万"


#: method → payload class; every known method the simulator emits.
PAYLOAD_TYPES: dict[str, type[Any]] = {
    "WebcastChatMessage": pb.ChatMessage,
    "WebcastGiftMessage": pb.GiftMessage,
    "WebcastLikeMessage": pb.LikeMessage,
    "WebcastMemberMessage": pb.MemberMessage,
    "WebcastSocialMessage": pb.SocialMessage,
    "WebcastRoomUserSeqMessage": pb.RoomUserSeqMessage,
    "WebcastFansclubMessage": pb.FansclubMessage,
    "WebcastControlMessage": pb.ControlMessage,
    "WebcastEmojiChatMessage": pb.EmojiChatMessage,
    "WebcastRoomStatsMessage": pb.RoomStatsMessage,
    "WebcastRoomRankMessage": pb.RoomRankMessage,
    "WebcastRoomMessage": pb.RoomMessage,
    "WebcastRoomIntroMessage": pb.RoomIntroMessage,
    "WebcastUpdateFanTicketMessage": pb.UpdateFanTicketMessage,
}
