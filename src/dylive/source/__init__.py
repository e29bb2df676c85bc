"""Talking to Douyin: resolve a room, hold its push socket or poll im/fetch, survive failures.

The public face of the collector for the other packages and for library users (``dylive.Room`` is
:class:`Room`). Everything here stands on :mod:`dylive.wire` (bytes, sessions, signing) and
:mod:`dylive.decode`; nothing here imports the packages above it (tests/test_layers.py).

- :class:`Room` (``collector``), :class:`Supervisor`: one room connection that survives Douyin,
  many rooms under one supervisor; :class:`Checkpoint` / :class:`GapEvent` for resuming.
- :class:`RoomInfo`, :func:`resolve_room`, :func:`parse_ident` (``room``): a URL, web_rid or
  room_id to a live room.
- :class:`Identity` and the cookie helpers (``credentials``): who the collector is to Douyin.
- :class:`Coverage` (``coverage``): whether the room's gifts are visible to that identity.

Other modules (``urls``, ``poll``, ``dedupe``, ``rate``, ``refusal``, ``watch_view``, …) are
internal to the collector. The names below are imported lazily (reading one imports its module).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dylive.source.collector import CollectorOptions, Room
    from dylive.source.coverage import Coverage
    from dylive.source.credentials import (
        CookieError,
        Identity,
        cookie_pairs,
        load_cookie,
        merge_cookies,
        set_cookies,
    )
    from dylive.source.gaps import GapEvent
    from dylive.source.handlers import ConnectEvent, DisconnectEvent, LiveEndEvent
    from dylive.source.push import PushOptions, build_push_url, open_socket
    from dylive.source.ranklist import fetch_audience_ranklist
    from dylive.source.reconnect import Backoff
    from dylive.source.room import (
        RoomInfo,
        info_from_enter,
        info_from_page,
        is_verification_page,
        make_client,
        parse_ident,
        resolve_room,
    )
    from dylive.source.supervisor import Supervisor
    from dylive.source.tls import tls_context
    from dylive.source.transport import Checkpoint, Position

_EXPORTS = {
    **dict.fromkeys(("CollectorOptions", "Room"), "dylive.source.collector"),
    "Supervisor": "dylive.source.supervisor",
    **dict.fromkeys(("Checkpoint", "Position"), "dylive.source.transport"),
    "GapEvent": "dylive.source.gaps",
    **dict.fromkeys(("ConnectEvent", "DisconnectEvent", "LiveEndEvent"), "dylive.source.handlers"),
    **dict.fromkeys(
        (
            "RoomInfo",
            "info_from_enter",
            "info_from_page",
            "is_verification_page",
            "make_client",
            "parse_ident",
            "resolve_room",
        ),
        "dylive.source.room",
    ),
    **dict.fromkeys(
        ("CookieError", "Identity", "cookie_pairs", "load_cookie", "merge_cookies", "set_cookies"),
        "dylive.source.credentials",
    ),
    "Coverage": "dylive.source.coverage",
    "Backoff": "dylive.source.reconnect",
    "tls_context": "dylive.source.tls",
    "fetch_audience_ranklist": "dylive.source.ranklist",
    **dict.fromkeys(("PushOptions", "build_push_url", "open_socket"), "dylive.source.push"),
}

__all__ = [
    "Backoff",
    "Checkpoint",
    "CollectorOptions",
    "ConnectEvent",
    "CookieError",
    "Coverage",
    "DisconnectEvent",
    "GapEvent",
    "Identity",
    "LiveEndEvent",
    "Position",
    "PushOptions",
    "Room",
    "RoomInfo",
    "Supervisor",
    "build_push_url",
    "cookie_pairs",
    "fetch_audience_ranklist",
    "info_from_enter",
    "info_from_page",
    "is_verification_page",
    "load_cookie",
    "make_client",
    "merge_cookies",
    "open_socket",
    "parse_ident",
    "resolve_room",
    "set_cookies",
    "tls_context",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'dylive.source' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
