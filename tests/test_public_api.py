"""The public surface: dylive.__all__ is pinned, every setting is documented."""

from __future__ import annotations

from pathlib import Path

import dylive
from dylive.settings import SETTINGS

README = Path(__file__).resolve().parents[1] / "README.md"


def test_all_is_pinned() -> None:
    assert dylive.__all__ == [
        "__version__",
        "ChatEvent",
        "ControlEvent",
        "DyliveError",
        "Event",
        "GiftEvent",
        "GiftLedger",
        "LikeEvent",
        "MemberEvent",
        "Room",
        "SocialEvent",
        "Supervisor",
        "UserInfo",
        "decode",
        "render",
    ]


def test_every_export_resolves() -> None:
    for name in dylive.__all__:
        assert getattr(dylive, name) is not None


def test_every_setting_is_documented_in_the_readme() -> None:
    text = README.read_text(encoding="utf-8")
    for setting in SETTINGS.values():
        assert f"`{setting.env}`" in text, setting.env
