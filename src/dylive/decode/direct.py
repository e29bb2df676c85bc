"""The service's fast path: wire payload → the stored JSON bytes in one pass, no typed event.

The API service stores each message as its rendered public JSON. Going through the typed events
(``orjson.dumps(render(decode(raw)))``) builds a ``UserInfo``, a frozen event and then the dicts
from it; :func:`render_direct` runs the same renderers (``decode.render``) on the parsed upb
message itself (its fields have the events' names; only users and rank scores are read
differently: :data:`WIRE`) and serializes the dicts, for the methods that make up nearly all
traffic (chat, member, like, social, emoji chat, viewer counts, room stats). Its bytes equal the
typed path's exactly (tests compare them on the captures, the fixtures and random messages).

Anything else (gifts, which the service's gift ledger reads as typed events; control messages;
unknown methods; a payload that fails to parse) returns None and the caller takes the typed
path, which reports failures the usual way. Library users keep the typed events: the collector
uses this only when asked (``CollectorOptions(direct=True)``, what ``dylive serve`` sets).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from dylive.decode import events as ev
from dylive.decode.decoders import DECODERS, webcast_uid
from dylive.decode.render import RENDERERS, Renderer, Source, render_user, stored_json
from dylive.proto import webcast_pb2 as pb
from dylive.wire.frames import RawMessage

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
    uid, nickname = u.id, u.nickname
    token = webcast_uid(u)
    if not uid and not nickname and not u.webcast_uid:
        return _NO_USER
    club = u.fans_club.data
    avatar = u.avatar_thumb.url_list
    out = {
        "uid": uid,
        "nickname": nickname,
        "unique_id": u.display_id,
        "sec_uid": u.sec_uid,
        "short_id": u.short_id,
        "pay_grade_level": u.pay_grade.level,
        "fans_club_level": club.level,
        "fans_club_name": club.club_name,
        "avatar_url": avatar[0] if avatar else "",
    }
    if token:
        out["webcast_uid"] = token
    if ev.is_masked(uid, token):
        out["masked"] = True
    return out


_NO_USER = render_user(ev.NO_USER)  # serialized at once, never changed

#: Rendering wire messages: the wire User, and a RankListUser's ``exactly_score``.
WIRE = Source(_user, "exactly_score")

#: METHOD → (wire class, payload filler): the methods rendered directly, by the same
#: renderers as their typed events.
DIRECT: dict[str, tuple[type[Any], Renderer]] = {
    method: (DECODERS[method][0], RENDERERS[event])
    for method, event in (
        ("WebcastChatMessage", ev.ChatEvent),
        ("WebcastLikeMessage", ev.LikeEvent),
        ("WebcastMemberMessage", ev.MemberEvent),
        ("WebcastSocialMessage", ev.SocialEvent),
        ("WebcastEmojiChatMessage", ev.EmojiChatEvent),
        ("WebcastRoomUserSeqMessage", ev.RoomUserSeqEvent),
        ("WebcastRoomStatsMessage", ev.RoomStatsEvent),
    )
}

_new = tuple.__new__  # a NamedTuple without its Python-level __new__


def render_direct(raw: RawMessage, *, room_id: int = 0) -> Rendered | None:
    """``raw`` rendered to the stored JSON bytes, or None (take the typed path)."""
    method, msg_id, payload = raw
    entry = DIRECT.get(method)
    if entry is None:
        return None
    cls, fill = entry
    try:
        msg = cls.FromString(payload)
        common = msg.common
        wire_room = common.room_id
        body: JsonDict = {"room_id": wire_room}
        fill(msg, body, WIRE)
        msg_id = msg_id or common.msg_id
        json = stored_json({"method": method, "msg_id": msg_id, "payload": body})
    except Exception:  # the typed path decodes it again and reports the failure
        return None
    return _new(Rendered, (method, msg_id, wire_room or room_id, common.create_time, payload, json))
