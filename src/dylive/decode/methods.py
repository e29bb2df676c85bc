"""Method-name lists as users type them: ``"chat,WebcastGiftMessage,room_user_seq"``."""

from __future__ import annotations

from collections.abc import Container


def method_names(text: str, *, known: Container[str] | None = None) -> frozenset[str] | None:
    """``"chat,WebcastGiftMessage,room_user_seq"`` → full method names; None for all/empty.

    A short name is the snake_case middle of the method name (``room_intro`` →
    ``WebcastRoomIntroMessage``), case-insensitive. Raises ValueError for a name that is neither,
    and, when ``known`` is given, for a short name that does not expand to a known method.
    """
    wanted: set[str] = set()
    for name in (n.strip() for n in text.split(",")):
        if not name:
            continue
        if name.lower() == "all":
            return None
        if not name.startswith("Webcast"):
            short = name
            name = "Webcast" + "".join(p.capitalize() for p in name.split("_")) + "Message"
            if known is not None and name not in known:
                raise ValueError(f"unknown method {short[:60]!r}")
        if not name.isidentifier() or not name.isascii():
            raise ValueError(f"not a method name: {name[:60]!r}")
        wanted.add(name)
    return frozenset(wanted) if wanted else None
