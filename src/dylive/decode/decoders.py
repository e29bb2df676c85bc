"""One METHOD → decoder table, from wire payloads (generated classes) to our events.

``decode`` never raises: an unknown method becomes an ``UnknownEvent`` and a payload that fails to
parse a ``DecodeFailed``, both carrying the raw bytes. Unknown methods are logged once each.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from dylive.decode import events as ev
from dylive.numbers import I64_MAX, ascii_uint
from dylive.proto import webcast_pb2 as pb
from dylive.wire.frames import RawMessage

log = logging.getLogger(__name__)

Envelope = dict[str, Any]
Builder = Callable[[Any, Envelope], ev.Event]


def user_info(u: pb.User) -> ev.UserInfo:
    """Our UserInfo from a wire User (nickname, 抖音号 = display_id, levels, first avatar URL,
    the webcast_uid and whether Douyin masked the user)."""
    if not u.id and not u.nickname and not u.webcast_uid:
        return ev.NO_USER
    club = u.fans_club.data
    avatar = u.avatar_thumb.url_list
    token = webcast_uid(u)
    return ev.UserInfo(
        u.id,
        u.nickname,
        u.display_id,
        u.sec_uid,
        u.short_id,
        u.gender,
        u.pay_grade.level,
        club.level,
        club.club_name,
        avatar[0] if avatar else "",
        token,
        ev.is_masked(u.id, token),
    )


def webcast_uid(u: pb.User) -> str:
    """User field 73, else ``id_str`` when it is not just the decimal uid ("" for neither)."""
    token: str = u.webcast_uid
    if token:
        return token
    id_str: str = u.id_str
    if id_str and id_str != str(u.id):
        return id_str
    return ""


def _chat(m: pb.ChatMessage, env: Envelope) -> ev.Event:
    return ev.ChatEvent(user=user_info(m.user), content=m.content, event_time=m.event_time, **env)


def _gift(m: pb.GiftMessage, env: Envelope) -> ev.Event:
    g = m.gift
    return ev.GiftEvent(
        user=user_info(m.user),
        to_user=user_info(m.to_user),
        gift_id=m.gift_id or g.id,
        gift_name=g.name,
        diamond_count=g.diamond_count,
        combo=g.combo,
        gift_type=g.type,
        repeat_count=m.repeat_count,
        combo_count=m.combo_count,
        group_count=m.group_count,
        group_id=m.group_id,
        repeat_end=m.repeat_end,
        describe=m.common.describe,
        trace_id=m.trace_id,
        **env,
    )


def _like(m: pb.LikeMessage, env: Envelope) -> ev.Event:
    return ev.LikeEvent(user=user_info(m.user), count=m.count, total=m.total, **env)


def _member(m: pb.MemberMessage, env: Envelope) -> ev.Event:
    return ev.MemberEvent(
        user=user_info(m.user),
        member_count=m.member_count,
        action=m.action,
        enter_type=m.enter_type,
        **env,
    )


def _social(m: pb.SocialMessage, env: Envelope) -> ev.Event:
    return ev.SocialEvent(
        user=user_info(m.user),
        action=m.action,
        share_type=m.share_type,
        share_target=m.share_target,
        follow_count=m.follow_count,
        **env,
    )


def _room_user_seq(m: pb.RoomUserSeqMessage, env: Envelope) -> ev.Event:
    ranks = tuple(
        ev.RankEntry(
            rank=c.rank,
            user=user_info(c.user),
            score=c.score,
            score_str=c.exactly_score,
            delta=c.delta,
        )
        for c in m.ranks
    )
    return ev.RoomUserSeqEvent(
        total=m.total,
        total_user=m.total_user,
        total_user_str=m.total_user_str,
        total_pv_for_anchor=m.total_pv_for_anchor,
        popularity=m.popularity,
        ranks=ranks,
        **env,
    )


def _fansclub(m: pb.FansclubMessage, env: Envelope) -> ev.Event:
    return ev.FansclubEvent(user=user_info(m.user), action=m.action, content=m.content, **env)


def _control(m: pb.ControlMessage, env: Envelope) -> ev.Event:
    return ev.ControlEvent(action=m.action, tips=m.tips, **env)


def _emoji_chat(m: pb.EmojiChatMessage, env: Envelope) -> ev.Event:
    return ev.EmojiChatEvent(
        user=user_info(m.user), emoji_id=m.emoji_id, default_content=m.default_content, **env
    )


def _room_stats(m: pb.RoomStatsMessage, env: Envelope) -> ev.Event:
    return ev.RoomStatsEvent(
        display_short=m.display_short,
        display_long=m.display_long,
        display_value=m.display_value,
        total=m.total,
        **env,
    )


def _room_rank(m: pb.RoomRankMessage, env: Envelope) -> ev.Event:
    ranks = tuple(
        ev.RankEntry(
            rank=i, user=user_info(r.user), score=_score(r.score_str), score_str=r.score_str
        )
        for i, r in enumerate(m.ranks, start=1)
    )
    return ev.RoomRankEvent(ranks=ranks, **env)


def _room(m: pb.RoomMessage, env: Envelope) -> ev.Event:
    return ev.RoomEvent(content=m.content, **env)


def _room_intro(m: pb.RoomIntroMessage, env: Envelope) -> ev.Event:
    return ev.RoomIntroEvent(user=user_info(m.user), intro=m.intro, labels=tuple(m.label), **env)


def _fan_ticket(m: pb.UpdateFanTicketMessage, env: Envelope) -> ev.Event:
    return ev.UpdateFanTicketEvent(
        count=m.room_fan_ticket_count, text=m.room_fan_ticket_count_text, **env
    )


def _live_shopping(m: pb.LiveShoppingMessage, env: Envelope) -> ev.Event:
    return ev.LiveShoppingEvent(
        msg_type=m.msg_type,
        promotion_id=m.promotion_id,
        update_type=m.update_type,
        updated_product_ids=tuple(m.updated_product_ids),
        sold_out=m.sold_out,
        update_timestamp=m.update_timestamp,
        **env,
    )


def _product_change(m: pb.ProductChangeMessage, env: Envelope) -> ev.Event:
    return ev.ProductChangeEvent(
        update_timestamp=m.update_timestamp,
        update_toast=m.update_toast,
        total=m.total,
        promotion_ids=tuple(p.promotion_id for p in m.update_product_info),
        **env,
    )


def _score(text: str) -> int:
    """A rank's ``score_str`` as an integer: ASCII digits only (else 0), clamped to 2^63-1 so
    it always serializes; ``score_str`` keeps the exact text."""
    value = ascii_uint(text, max_digits=40)
    return 0 if value is None else min(value, I64_MAX)


#: The one METHOD → (wire class, builder) table.
DECODERS: dict[str, tuple[type[Any], Builder]] = {
    "WebcastChatMessage": (pb.ChatMessage, _chat),
    "WebcastGiftMessage": (pb.GiftMessage, _gift),
    "WebcastLikeMessage": (pb.LikeMessage, _like),
    "WebcastMemberMessage": (pb.MemberMessage, _member),
    "WebcastSocialMessage": (pb.SocialMessage, _social),
    "WebcastRoomUserSeqMessage": (pb.RoomUserSeqMessage, _room_user_seq),
    "WebcastFansclubMessage": (pb.FansclubMessage, _fansclub),
    "WebcastControlMessage": (pb.ControlMessage, _control),
    "WebcastEmojiChatMessage": (pb.EmojiChatMessage, _emoji_chat),
    "WebcastRoomStatsMessage": (pb.RoomStatsMessage, _room_stats),
    "WebcastRoomRankMessage": (pb.RoomRankMessage, _room_rank),
    "WebcastRoomMessage": (pb.RoomMessage, _room),
    "WebcastRoomIntroMessage": (pb.RoomIntroMessage, _room_intro),
    "WebcastUpdateFanTicketMessage": (pb.UpdateFanTicketMessage, _fan_ticket),
    "WebcastLiveShoppingMessage": (pb.LiveShoppingMessage, _live_shopping),
    "WebcastProductChangeMessage": (pb.ProductChangeMessage, _product_change),
}

_unknown_seen: set[str] = set()


def decode(raw: RawMessage, *, room_id: int = 0) -> ev.Event:
    """Decode one raw message into our event; never raises."""
    method, msg_id, payload = raw
    entry = DECODERS.get(method)
    if entry is None:
        if method not in _unknown_seen and len(_unknown_seen) < 1000:
            _unknown_seen.add(method)
            log.info("room %s: unknown method %s (logged once)", room_id, method)
        return ev.UnknownEvent(method=method, msg_id=msg_id, room_id=room_id, raw=payload)
    cls, build = entry
    try:
        msg = cls.FromString(payload)
        common = msg.common
        wire_room = common.room_id
        env: Envelope = {
            "method": method,
            "msg_id": msg_id or common.msg_id,
            "room_id": wire_room or room_id,
            "created_at": common.create_time,
            "payload_room_id": wire_room,
            "raw": payload,
        }
        return build(msg, env)
    except Exception as exc:  # DecodeError, or anything a builder trips over: never raises
        log.warning("room %s: %s %s failed to decode: %s", room_id, method, msg_id, exc)
        return ev.DecodeFailed(
            method=method,
            msg_id=msg_id,
            room_id=room_id,
            raw=payload,
            error=f"{type(exc).__name__}: {exc}"[:300],
        )
