"""dylive: Douyin live rooms as data.

Public API (lazily imported, so that ``dylive --help`` stays fast)::

    async with dylive.Room("https://live.douyin.com/615189692839") as room:
        async for event in room:
            print(dylive.render(event))
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Room": "dylive.source.collector",
    "Supervisor": "dylive.source.collector",
    "decode": "dylive.decode",
    "render": "dylive.decode",
    "GiftLedger": "dylive.decode",
    "Event": "dylive.decode",
    "ChatEvent": "dylive.decode",
    "GiftEvent": "dylive.decode",
    "LikeEvent": "dylive.decode",
    "MemberEvent": "dylive.decode",
    "SocialEvent": "dylive.decode",
    "ControlEvent": "dylive.decode",
    "UserInfo": "dylive.decode",
    "DyliveError": "dylive.errors",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'dylive' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
