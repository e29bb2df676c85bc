"""Rendering events to the public JSON shape of the HTTP API (docs/api.md, docs/events.md).

Every message renders as ``{"method", "msg_id", "payload": {"room_id", "content", "user", …}}``.
``msg_id`` and ids stay Python ints (serialize with orjson: exact, never through a float).
``content`` is Douyin's own wording where the contract gives it. Additive structured fields, by
method (documented in docs/events.md):

- every ``user``: ``uid, nickname, unique_id, sec_uid`` (the contract), plus ``short_id,
  pay_grade_level, fans_club_level, fans_club_name, avatar_url``, and only when present
  ``webcast_uid`` (the per-room stable id) and ``masked: true`` (Douyin masked the user)
- gift: ``gift {id, name, diamond_count, combo, type, repeat_count, combo_count, group_count,
  group_id, repeat_end, count}`` and, when a ledger was applied (``GiftEvent.delta``), ``delta``
- like: ``like {count, total}``; member: ``member_count``; social: ``social {action, follow_count}``
- room user seq: ``viewers {total, total_user, total_user_str, total_pv_for_anchor}, ranks``
- room stats: ``stats {display_long, display_value, total}``; room rank: ``ranks``
- fans club: ``fansclub {action}``; control: ``control {action, ended}``
- live shopping: ``shopping {msg_type, promotion_id}`` (the event has more: ``update_type,
  updated_product_ids, sold_out, update_timestamp``); product change:
  ``products {update_timestamp, total, promotion_ids}``
- unknown / failed: ``raw_b64`` (the payload bytes) and ``error``

``render`` never raises and its result always serializes (orjson): every number in it is a
wire integer (at most 64 bits) or clamped, e.g. a rank ``score`` is its ``score_str`` clamped to
2^63-1 (``score_str`` stays exact). Should a renderer still fail, the event is rendered as an
opaque one (``raw_b64``) with ``error`` saying why.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any, NamedTuple

import orjson

from dylive.decode import events as ev

JsonDict = dict[str, Any]

CONTENT_MEMBER = "来了"
CONTENT_LIKE = "点赞"
CONTENT_FOLLOW = "关注了主播"
CONTENT_SHARE = "分享了直播间"
CONTENT_LIVE_END = "直播已结束"


def render_user(u: ev.UserInfo) -> JsonDict:
    out = {
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
    if u.webcast_uid:
        out["webcast_uid"] = u.webcast_uid
    if u.masked:
        out["masked"] = True
    return out


class Source(NamedTuple):
    """What differs between rendering a typed event and its parsed wire message (the renderers
    below serve both: ``decode.direct`` renders chat, member, like… straight from the wire
    message; every other field they read has the same name in both): how a user becomes its
    JSON object, and the attribute holding a rank entry's exact score text."""

    user: Callable[[Any], JsonDict]
    score_str: str


#: Rendering typed events (``render``).
EVENTS = Source(render_user, "score_str")

Renderer = Callable[[Any, JsonDict, Source], None]


def gift_content(e: ev.GiftEvent) -> str:
    """Douyin's own gift line: ``<nickname>:送给主播 <n>个<gift name>``."""
    if e.describe:
        return e.describe
    return f"{e.user.nickname}:送给主播 {e.count}个{e.gift_name}"


def _ranks(ranks: Any, s: Source) -> list[JsonDict]:
    user, score_str = s.user, s.score_str
    return [
        {"rank": r.rank, "score": r.score, "score_str": getattr(r, score_str), "user": user(r.user)}
        for r in ranks
    ]


def _chat(e: Any, p: JsonDict, s: Source) -> None:
    p["content"] = e.content
    p["user"] = s.user(e.user)


def _gift(e: Any, p: JsonDict, s: Source) -> None:
    p["content"] = gift_content(e)
    p["user"] = s.user(e.user)
    p["gift"] = {
        "id": e.gift_id,
        "name": e.gift_name,
        "diamond_count": e.diamond_count,
        "combo": e.combo,
        "type": e.gift_type,
        "repeat_count": e.repeat_count,
        "combo_count": e.combo_count,
        "group_count": e.group_count,
        "group_id": e.group_id,
        "repeat_end": e.repeat_end,
        "count": e.count,
    }
    if e.delta is not None:
        p["gift"]["delta"] = e.delta
    if e.to_user.uid:
        p["to_user"] = s.user(e.to_user)


def _like(e: Any, p: JsonDict, s: Source) -> None:
    p["content"] = CONTENT_LIKE
    p["user"] = s.user(e.user)
    p["like"] = {"count": e.count, "total": e.total}


def _member(e: Any, p: JsonDict, s: Source) -> None:
    p["content"] = CONTENT_MEMBER
    p["user"] = s.user(e.user)
    p["member_count"] = e.member_count


def _social(e: Any, p: JsonDict, s: Source) -> None:
    action = e.action
    p["content"] = CONTENT_SHARE if action == ev.SOCIAL_SHARE else CONTENT_FOLLOW
    p["user"] = s.user(e.user)
    p["social"] = {"action": action, "follow_count": e.follow_count}


def _room_user_seq(e: Any, p: JsonDict, s: Source) -> None:
    total = e.total
    p["content"] = f"{total}在线观众"
    p["viewers"] = {
        "total": total,
        "total_user": e.total_user,
        "total_user_str": e.total_user_str,
        "total_pv_for_anchor": e.total_pv_for_anchor,
    }
    p["ranks"] = _ranks(e.ranks, s)


def _fansclub(e: Any, p: JsonDict, s: Source) -> None:
    p["content"] = e.content or ("加入了粉丝团" if e.action == 2 else "粉丝团升级")
    p["user"] = s.user(e.user)
    p["fansclub"] = {"action": e.action}


def _control(e: Any, p: JsonDict, s: Source) -> None:
    p["content"] = e.tips or (CONTENT_LIVE_END if e.ended else "")
    p["control"] = {"action": e.action, "ended": e.ended}


def _emoji_chat(e: Any, p: JsonDict, s: Source) -> None:
    p["content"] = e.default_content
    p["user"] = s.user(e.user)
    p["emoji_id"] = e.emoji_id


def _room_stats(e: Any, p: JsonDict, s: Source) -> None:
    p["content"] = e.display_long
    p["stats"] = {
        "display_long": e.display_long,
        "display_value": e.display_value,
        "total": e.total,
    }


def _room_rank(e: Any, p: JsonDict, s: Source) -> None:
    p["content"] = "音浪榜"
    p["ranks"] = _ranks(e.ranks, s)


def _room(e: Any, p: JsonDict, s: Source) -> None:
    p["content"] = e.content


def _room_intro(e: Any, p: JsonDict, s: Source) -> None:
    p["content"] = e.intro
    p["user"] = s.user(e.user)


def _fan_ticket(e: Any, p: JsonDict, s: Source) -> None:
    p["content"] = e.text
    p["fan_ticket_count"] = e.count


def _live_shopping(e: Any, p: JsonDict, s: Source) -> None:
    p["content"] = ""
    p["shopping"] = {"msg_type": e.msg_type, "promotion_id": e.promotion_id}


def _product_change(e: Any, p: JsonDict, s: Source) -> None:
    p["content"] = e.update_toast
    p["products"] = {
        "update_timestamp": e.update_timestamp,
        "total": e.total,
        "promotion_ids": list(e.promotion_ids),
    }


def _opaque(e: Any, p: JsonDict, s: Source) -> None:
    p["content"] = ""
    p["raw_b64"] = base64.b64encode(e.raw).decode("ascii")
    if isinstance(e, ev.DecodeFailed):
        p["error"] = e.error


#: Event type → its payload filler ``(event or wire message, payload, source)``.
RENDERERS: dict[type[ev.Event], Renderer] = {
    ev.ChatEvent: _chat,
    ev.GiftEvent: _gift,
    ev.LikeEvent: _like,
    ev.MemberEvent: _member,
    ev.SocialEvent: _social,
    ev.RoomUserSeqEvent: _room_user_seq,
    ev.FansclubEvent: _fansclub,
    ev.ControlEvent: _control,
    ev.EmojiChatEvent: _emoji_chat,
    ev.RoomStatsEvent: _room_stats,
    ev.RoomRankEvent: _room_rank,
    ev.RoomEvent: _room,
    ev.RoomIntroEvent: _room_intro,
    ev.UpdateFanTicketEvent: _fan_ticket,
    ev.LiveShoppingEvent: _live_shopping,
    ev.ProductChangeEvent: _product_change,
    ev.UnknownEvent: _opaque,
    ev.DecodeFailed: _opaque,
}


def render(event: ev.Event) -> JsonDict:
    """The public JSON object of one event (a gift's ``delta`` when ``GiftEvent.delta`` is set).

    Never raises (see the module docstring)."""
    payload: JsonDict = {"room_id": event.payload_room_id}
    try:
        RENDERERS.get(type(event), _opaque)(event, payload, EVENTS)
    except Exception as exc:  # a renderer bug must not stop a room's ingestion
        payload = {"room_id": event.payload_room_id, "content": ""}
        payload["raw_b64"] = base64.b64encode(getattr(event, "raw", b"")).decode("ascii")
        payload["error"] = f"render failed: {type(exc).__name__}: {exc}"[:300]
    return {"method": event.method, "msg_id": event.msg_id, "payload": payload}


def stored_json(rendered: JsonDict) -> bytes:
    """The stored bytes of a rendered message: ``orjson.dumps`` right-sized.

    orjson hands back a bytes object that keeps its 4 KiB write buffer (measured: 4,097 bytes of
    heap for a 426-byte message, 468 for the copy). Every message lives on as these bytes, from
    its socket's frame through the queues before the store (up to the global ingestion bound,
    100,000 messages, and a few per room) to the store's tail cache: 4 KiB each held 1.5 GB at
    1,000 overloaded rooms. The copy costs well under a microsecond."""
    return memoryview(orjson.dumps(rendered)).tobytes()
