"""The public surface: dylive.__all__ is pinned, every setting is documented."""

from __future__ import annotations

from pathlib import Path

import dylive
import dylive.source.handlers
from dylive.settings import SETTINGS

SETTINGS_DOC = Path(__file__).resolve().parents[1] / "docs" / "settings.md"


def test_all_is_pinned() -> None:
    assert dylive.__all__ == [
        "__version__",
        "ChatEvent",
        "Checkpoint",
        "ConnectEvent",
        "ControlEvent",
        "DecodeFailed",
        "DisconnectEvent",
        "DyliveError",
        "EmojiChatEvent",
        "Event",
        "FansclubEvent",
        "GapEvent",
        "GiftEvent",
        "GiftLedger",
        "LikeEvent",
        "LiveEndEvent",
        "LiveShoppingEvent",
        "MemberEvent",
        "ProductChangeEvent",
        "RankEntry",
        "Room",
        "RoomEvent",
        "RoomIntroEvent",
        "RoomRankEvent",
        "RoomStatsEvent",
        "RoomUserSeqEvent",
        "SocialEvent",
        "Supervisor",
        "UnknownEvent",
        "UpdateFanTicketEvent",
        "UserInfo",
        "decode",
        "render",
    ]


def test_every_export_resolves() -> None:
    for name in dylive.__all__:
        assert getattr(dylive, name) is not None


def test_every_event_type_a_room_yields_is_exported() -> None:
    import dylive.decode

    events = {n for n in dylive.decode.__all__ if n.endswith("Event") or n == "DecodeFailed"}
    assert events <= set(dylive.__all__)
    handled = {k.__name__ for k in dylive.source.handlers.HANDLED}
    assert handled <= set(dylive.__all__)


def test_room_info_repr_hides_the_session_cookie() -> None:
    from dylive.source.room import RoomInfo

    info = RoomInfo("615189692839", 1, 2, cookie="ttwid=SECRET1; msToken=SECRET2")
    assert "SECRET" not in repr(info) and "SECRET" not in str(info)
    assert info.cookie.startswith("ttwid=")


def test_every_setting_is_documented() -> None:
    text = SETTINGS_DOC.read_text(encoding="utf-8")
    for setting in SETTINGS.values():
        assert f"`{setting.env}`" in text, setting.env
