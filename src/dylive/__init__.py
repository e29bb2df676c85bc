"""dylive: Douyin live rooms as data.

Public API (lazily imported, so that ``dylive --help`` stays fast); docs/library.md::

    room = dylive.Room("https://live.douyin.com/615189692839")

    @room.on(dylive.ChatEvent)
    def chat(event: dylive.ChatEvent) -> None:
        print(event.user.nickname, event.content)

    room.run()

or, iterating::

    async with dylive.Room("615189692839") as room:
        async for event in room:
            print(dylive.render(event))
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Room": "dylive.source",
    "Supervisor": "dylive.source",
    "Checkpoint": "dylive.source",
    "GapEvent": "dylive.source",
    "ConnectEvent": "dylive.source.handlers",
    "DisconnectEvent": "dylive.source.handlers",
    "LiveEndEvent": "dylive.source.handlers",
    "decode": "dylive.decode",
    "render": "dylive.decode",
    "GiftLedger": "dylive.decode",
    "UserInfo": "dylive.decode",
    "RankEntry": "dylive.decode",
    "DyliveError": "dylive.errors",
    **dict.fromkeys(
        (
            "Event",
            "ChatEvent",
            "GiftEvent",
            "LikeEvent",
            "MemberEvent",
            "SocialEvent",
            "ControlEvent",
            "EmojiChatEvent",
            "FansclubEvent",
            "RoomUserSeqEvent",
            "RoomStatsEvent",
            "RoomRankEvent",
            "RoomEvent",
            "RoomIntroEvent",
            "UpdateFanTicketEvent",
            "LiveShoppingEvent",
            "ProductChangeEvent",
            "UnknownEvent",
            "DecodeFailed",
        ),
        "dylive.decode",
    ),
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'dylive' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
