"""Decoding: wire payloads → our typed events → the public JSON shape.

``decode(raw, room_id=…)`` (never raises), ``render(event)``, ``GiftLedger`` and the event types.

The package itself is callable as ``decode``: ``dylive.decode(raw)`` is documented as the
function, but once any ``dylive.decode.*`` submodule is imported, Python's import system makes
the attribute ``dylive.decode`` this package; calling it then still decodes.
"""

import sys
import types
from typing import Any

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
    ProductChangeEvent,
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
from dylive.decode.render import render, render_user, stored_json

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
    "ProductChangeEvent",
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
    "stored_json",
    "user_info",
]


class _CallablePackage(types.ModuleType):
    """``dylive.decode(raw, room_id=…)`` works whether the name is the function or the package."""

    def __call__(self, raw: Any, *, room_id: int = 0) -> Event:
        return decode(raw, room_id=room_id)


sys.modules[__name__].__class__ = _CallablePackage
