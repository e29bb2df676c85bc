"""The service's fast path: wire payload → the stored JSON bytes in one pass, no typed event.

The API service stores each message as its rendered public JSON. Going through the typed events
(``orjson.dumps(render(decode(raw)))``) builds a ``UserInfo``, a frozen event and then the dicts
from it; :func:`render_direct` builds the same dicts straight from the parsed upb message and
serializes them, for the methods that make up nearly all traffic (chat, member, like, social,
emoji chat, viewer counts, room stats). Its bytes equal the typed path's exactly (tests compare
them on the captures, the fixtures and random messages).

Anything else (gifts, which the service's gift ledger reads as typed events; control messages;
unknown methods; a payload that fails to parse) returns None and the caller takes the typed
path, which reports failures the usual way. Library users keep the typed events: the collector
uses this only when asked (``CollectorOptions(direct=True)``, what ``dylive serve`` sets).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import orjson

from dylive.decode import events as ev
from dylive.decode.render import CONTENT_FOLLOW, CONTENT_LIKE, CONTENT_MEMBER, CONTENT_SHARE
from dylive.proto import webcast_pb2 as pb
from dylive.source.frames import RawMessage

JsonDict = dict[str, Any]


class Rendered(NamedTuple):
    """A message rendered straight to its stored JSON (what the service stores)."""

    method: str
    msg_id: int
    room_id: int
    created_at: int
    raw: bytes
    json: bytes


def _user(u: pb.User) -> JsonDict:
    """``render_user(user_info(u))`` without the UserInfo in between."""
    if not u.id and not u.nickname:
        return _no_user()
    club = u.fans_club.data
    avatar = u.avatar_thumb.url_list
    return {
        "uid": u.id,
        "nickname": u.nickname,
        "unique_id": u.display_id,
        "sec_uid": u.sec_uid,
        "short_id": u.short_id,
        "pay_grade_level": u.pay_grade.level,
        "fans_club_level": club.level,
        "fans_club_name": club.club_name,
        "avatar_url": avatar[0] if avatar else "",
    }


def _no_user() -> JsonDict:
    u = ev.NO_USER
    return {
        "uid": u.uid,
        "nickname": u.nickname,
        "unique_id": u.unique_id,
        "sec_uid": u.sec_uid,
        "short_id": u.short_id,
        "pay_grade_level": u.pay_grade_level,
        "fans_club_level": u.fans_club_level,
        "fans_club_name": u.fans_club_name,
        "avatar_url": u.avatar_url,
    }


def _chat(m: Any, p: JsonDict) -> None:
    p["content"] = m.content
    p["user"] = _user(m.user)


def _like(m: Any, p: JsonDict) -> None:
    p["content"] = CONTENT_LIKE
    p["user"] = _user(m.user)
    p["like"] = {"count": m.count, "total": m.total}


def _member(m: Any, p: JsonDict) -> None:
    p["content"] = CONTENT_MEMBER
    p["user"] = _user(m.user)
    p["member_count"] = m.member_count


def _social(m: Any, p: JsonDict) -> None:
    action = m.action
    p["content"] = CONTENT_SHARE if action == ev.SOCIAL_SHARE else CONTENT_FOLLOW
    p["user"] = _user(m.user)
    p["social"] = {"action": action, "follow_count": m.follow_count}


def _emoji_chat(m: Any, p: JsonDict) -> None:
    p["content"] = m.default_content
    p["user"] = _user(m.user)
    p["emoji_id"] = m.emoji_id


def _room_user_seq(m: Any, p: JsonDict) -> None:
    total = m.total
    p["content"] = f"{total}在线观众"
    p["viewers"] = {
        "total": total,
        "total_user": m.total_user,
        "total_user_str": m.total_user_str,
        "total_pv_for_anchor": m.total_pv_for_anchor,
    }
    p["ranks"] = [
        {"rank": c.rank, "score": c.score, "score_str": c.exactly_score, "user": _user(c.user)}
        for c in m.ranks
    ]


def _room_stats(m: Any, p: JsonDict) -> None:
    p["content"] = m.display_long
    p["stats"] = {
        "display_long": m.display_long,
        "display_value": m.display_value,
        "total": m.total,
    }


#: METHOD → (wire class, payload filler): the methods rendered directly.
DIRECT: dict[str, tuple[type[Any], Callable[[Any, JsonDict], None]]] = {
    "WebcastChatMessage": (pb.ChatMessage, _chat),
    "WebcastLikeMessage": (pb.LikeMessage, _like),
    "WebcastMemberMessage": (pb.MemberMessage, _member),
    "WebcastSocialMessage": (pb.SocialMessage, _social),
    "WebcastEmojiChatMessage": (pb.EmojiChatMessage, _emoji_chat),
    "WebcastRoomUserSeqMessage": (pb.RoomUserSeqMessage, _room_user_seq),
    "WebcastRoomStatsMessage": (pb.RoomStatsMessage, _room_stats),
}

_dumps = orjson.dumps


def render_direct(raw: RawMessage, *, room_id: int = 0) -> Rendered | None:
    """``raw`` rendered to the stored JSON bytes, or None (take the typed path)."""
    method, msg_id, payload = raw
    entry = DIRECT.get(method)
    if entry is None:
        return None
    cls, fill = entry
    msg = cls()
    try:
        msg.ParseFromString(payload)
        common = msg.common
        wire_room = common.room_id
        body: JsonDict = {"room_id": wire_room}
        fill(msg, body)
        msg_id = msg_id or common.msg_id
        json = _dumps({"method": method, "msg_id": msg_id, "payload": body})
    except Exception:  # the typed path decodes it again and reports the failure
        return None
    return Rendered(method, msg_id, wire_room or room_id, common.create_time, payload, json)
