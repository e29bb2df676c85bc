"""Decoding: wire payloads → our typed events → the public JSON shape.

``decode(raw, room_id=…)`` (never raises), ``render(event)``, ``GiftLedger`` and the event types.
"""

from dylive.decode.decoders import DECODERS, decode, user_info
from dylive.decode.events import (
    ChatEvent,
    ControlEvent,
    DecodeFailed,
    EmojiChatEvent,
    Event,
    FansclubEvent,
    GiftEvent,
    LikeEvent,
    LiveShoppingEvent,
    MemberEvent,
    RankEntry,
    RoomEvent,
    RoomIntroEvent,
    RoomRankEvent,
    RoomStatsEvent,
    RoomUserSeqEvent,
    SocialEvent,
    UnknownEvent,
    UpdateFanTicketEvent,
    UserInfo,
)
from dylive.decode.gifts import GiftLedger
from dylive.decode.render import render, render_user

__all__ = [
    "DECODERS",
    "ChatEvent",
    "ControlEvent",
    "DecodeFailed",
    "EmojiChatEvent",
    "Event",
    "FansclubEvent",
    "GiftEvent",
    "GiftLedger",
    "LikeEvent",
    "LiveShoppingEvent",
    "MemberEvent",
    "RankEntry",
    "RoomEvent",
    "RoomIntroEvent",
    "RoomRankEvent",
    "RoomStatsEvent",
    "RoomUserSeqEvent",
    "SocialEvent",
    "UnknownEvent",
    "UpdateFanTicketEvent",
    "UserInfo",
    "decode",
    "render",
    "render_user",
    "user_info",
]
