"""Our own typed events: frozen, slotted dataclasses, separate from the generated wire classes.

Every event carries the envelope ``method, msg_id, room_id, created_at (ms, 0 when the wire has
none), raw (the undecoded payload)`` plus ``payload_room_id``: Common.room_id exactly as on the
wire (Douyin sends 0 for the room intro; the public JSON shape keeps that).
Open wire enums stay ``int``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from dylive.numbers import I64_MAX

#: The ``User.id`` Douyin gives every viewer it masks (guests, since 2025): not an identity.
MASKED_UID = 111111

#: A stable user key: the real uid when Douyin sent one, else the per-room ``webcast_uid``.
UserKey = int | str


class UserInfo(NamedTuple):
    """The user fields dylive keeps (User.id, nickname, display_id as unique_id, sec_uid, levels,
    and ``webcast_uid``: User field 73, or ``id_str`` when that is not the decimal uid).

    ``masked``: Douyin masked the user (``id`` 111111 for guests, nickname ``X***``); the only
    stable id is then ``webcast_uid`` (per room). :attr:`key` is what to group users by.

    An immutable NamedTuple rather than a dataclass: one is built for nearly every message, and
    tuple construction is several times cheaper (see bench/decode.py).
    """

    uid: int = 0
    nickname: str = ""
    unique_id: str = ""
    sec_uid: str = ""
    short_id: int = 0
    gender: int = 0
    pay_grade_level: int = 0
    fans_club_level: int = 0
    fans_club_name: str = ""
    avatar_url: str = ""
    webcast_uid: str = ""
    masked: bool = False

    @property
    def key(self) -> UserKey:
        """The stable id to group by: the real uid, else ``webcast_uid`` (0: no user)."""
        return user_key(self.uid, self.webcast_uid, self.masked)


def is_masked(uid: int, webcast_uid: str) -> bool:
    """Whether a user as sent is masked: the placeholder id 111111, or no id beside a
    ``webcast_uid``."""
    return uid == MASKED_UID or (not uid and bool(webcast_uid))


def user_key(uid: int, webcast_uid: str = "", masked: bool = False) -> UserKey:
    """The stable key of a user: ``uid`` unless it is masked (or absent) and a ``webcast_uid``
    is known, then the ``webcast_uid``."""
    if webcast_uid and (masked or not uid or uid == MASKED_UID):
        return webcast_uid
    return uid


def json_user_key(user: Any) -> UserKey:
    """:func:`user_key` of a rendered ``user`` object (docs/events.md); 0 for none."""
    if not isinstance(user, dict):
        return 0
    uid = user.get("uid")
    uid = uid if isinstance(uid, int) and not isinstance(uid, bool) else 0
    token = user.get("webcast_uid")
    token = token if isinstance(token, str) else ""
    return user_key(uid, token, user.get("masked") is True)


def key_order(key: UserKey) -> tuple[int, int, str]:
    """A sort key for mixed user keys (ints first, by value, then webcast_uids)."""
    return (0, key, "") if isinstance(key, int) else (1, 0, key)


NO_USER = UserInfo()


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Envelope shared by every event."""

    method: str
    msg_id: int
    room_id: int
    created_at: int = 0
    payload_room_id: int = 0
    raw: bytes = field(default=b"", repr=False, compare=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatEvent(Event):
    user: UserInfo
    content: str
    event_time: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class GiftEvent(Event):
    user: UserInfo
    to_user: UserInfo = NO_USER
    gift_id: int = 0
    gift_name: str = ""
    diamond_count: int = 0
    combo: bool = False
    gift_type: int = 0
    repeat_count: int = 0
    combo_count: int = 0
    group_count: int = 0
    group_id: int = 0
    repeat_end: int = 0
    describe: str = ""
    trace_id: str = ""
    #: New gifts this message adds (a GiftLedger's answer: summing it never double-counts a
    #: combo); set by ``dylive.Room`` and the API service, None from a bare ``decode()``.
    delta: int | None = None

    @property
    def count(self) -> int:
        """Gifts this message reports so far in its streak (repeat_count × group_count),
        clamped to 2^63-1 (two 64-bit wire values can multiply past any JSON integer)."""
        return min(max(self.repeat_count, 1) * max(self.group_count, 1), I64_MAX)

    @property
    def streak_end(self) -> bool:
        """True on the last message of a combo streak, and on every non-combo gift."""
        return self.repeat_end == 1 or not self.combo


@dataclass(frozen=True, slots=True, kw_only=True)
class LikeEvent(Event):
    user: UserInfo
    count: int = 0
    total: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class MemberEvent(Event):
    user: UserInfo
    member_count: int = 0
    action: int = 0
    enter_type: int = 0


#: SocialMessage.action values.
SOCIAL_FOLLOW = 1
SOCIAL_SHARE = 3


@dataclass(frozen=True, slots=True, kw_only=True)
class SocialEvent(Event):
    user: UserInfo
    action: int = 0
    share_type: int = 0
    share_target: str = ""
    follow_count: int = 0


@dataclass(frozen=True, slots=True)
class RankEntry:
    """One entry of an in-stream ranking (RoomUserSeq contributors, RoomRank items)."""

    rank: int
    user: UserInfo
    score: int = 0
    score_str: str = ""
    delta: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class RoomUserSeqEvent(Event):
    total: int = 0
    total_user: int = 0
    total_user_str: str = ""
    total_pv_for_anchor: str = ""
    popularity: int = 0
    ranks: tuple[RankEntry, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class FansclubEvent(Event):
    user: UserInfo
    action: int = 0
    content: str = ""


#: ControlMessage.action: 3 = the broadcast ended.
CONTROL_LIVE_END = 3


@dataclass(frozen=True, slots=True, kw_only=True)
class ControlEvent(Event):
    action: int = 0
    tips: str = ""

    @property
    def ended(self) -> bool:
        return self.action == CONTROL_LIVE_END


@dataclass(frozen=True, slots=True, kw_only=True)
class EmojiChatEvent(Event):
    user: UserInfo
    emoji_id: int = 0
    default_content: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class RoomStatsEvent(Event):
    display_short: str = ""
    display_long: str = ""
    display_value: int = 0
    total: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class RoomRankEvent(Event):
    ranks: tuple[RankEntry, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class RoomEvent(Event):
    content: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class RoomIntroEvent(Event):
    user: UserInfo
    intro: str = ""
    labels: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateFanTicketEvent(Event):
    count: int = 0
    text: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class LiveShoppingEvent(Event):
    msg_type: int = 0
    promotion_id: int = 0
    update_type: int = 0
    updated_product_ids: tuple[int, ...] = ()
    sold_out: bool = False
    update_timestamp: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class ProductChangeEvent(Event):
    """WebcastProductChangeMessage: the anchor's product list changed."""

    update_timestamp: int = 0
    update_toast: str = ""
    total: int = 0
    promotion_ids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class UnknownEvent(Event):
    """A method dylive has no decoder for; ``raw`` keeps the payload."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DecodeFailed(Event):
    """A payload that failed to parse for its method; ``raw`` keeps the bytes."""

    error: str = ""
