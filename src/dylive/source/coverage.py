"""What a room's event stream says about the data we are *not* getting.

:class:`Coverage` watches the decoded events of one room. Douyin hides gift messages from
guests (and from flagged identities) but still sends everyone the signals a gift leaves behind:
the anchor's fan-ticket total (``WebcastUpdateFanTicketMessage``) and the in-stream ranking
scores (``WebcastRoomRankMessage`` / ``WebcastRoomUserSeqMessage``). When one of those grows
between two readings while no gift message arrived in between, the gifts are hidden; when gift
messages did arrive, they are visible.

``verdict`` is ``"unknown"`` until the first growth is seen, then ``"visible"`` or ``"hidden"``
(the latest reading wins). :meth:`as_dict` is the ``data.coverage`` of the chat response.

Users: since 2025 Douyin masks the viewers it shows guests (uid 111111, ``X***`` nicknames; only
the per-room ``webcast_uid`` tells them apart). ``users`` is ``"masked"`` while a masked user was
seen among the last :data:`MASKED_WINDOW` messages that carry a user, ``"visible"`` once users
arrived and none of the recent ones was masked, ``"unknown"`` before any user.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from dylive.decode import (
    GiftEvent,
    RoomRankEvent,
    RoomUserSeqEvent,
    UpdateFanTicketEvent,
    UserInfo,
)
from dylive.decode.direct import Rendered

UNKNOWN, VISIBLE, HIDDEN, MASKED = "unknown", "visible", "hidden", "masked"
#: How many user-bearing messages after the last masked one the room still counts as masked.
MASKED_WINDOW = 200
_MASKED_JSON = b'"masked":true'  # a pre-rendered message's user object (decode.render)


class Coverage:
    """Gift visibility of one room, from fan-ticket / ranking growth vs gift messages."""

    __slots__ = (
        "_base",
        "_clock",
        "checked_at",
        "gifts",
        "growths",
        "masked_users",
        "since_masked",
        "user_messages",
        "verdict",
    )

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self.gifts = 0  # gift messages seen
        self.growths = 0  # growth readings of the signals
        self.verdict = UNKNOWN
        self.checked_at: float | None = None  # unix time of the latest verdict
        self._base: dict[str, tuple[int, int]] = {}  # signal -> (value, gifts at that reading)
        self.user_messages = 0  # messages with a user
        self.masked_users = 0  # … whose user Douyin masked
        self.since_masked: int | None = None  # user messages since the last masked one

    def observe(self, event: object) -> None:
        """One item of the stream (typed events, or pre-rendered ones: ``decode.direct``)."""
        if isinstance(event, Rendered):  # the service's common case: first, no getattr
            json = event.json
            if b'"user":{"uid":' in json:
                self._user(_MASKED_JSON in json)
            return
        user = getattr(event, "user", None)
        if isinstance(user, UserInfo) and (user.uid or user.webcast_uid):
            self._user(user.masked)
        if isinstance(event, GiftEvent):
            self.gifts += 1
            return
        if isinstance(event, UpdateFanTicketEvent):
            self._reading("fan_ticket", event.count)
        elif isinstance(event, RoomRankEvent | RoomUserSeqEvent) and event.ranks:
            self._reading("ranking", sum(r.score for r in event.ranks))

    def _user(self, masked: bool) -> None:
        self.user_messages += 1
        if masked:
            self.masked_users += 1
            self.since_masked = 0
        elif self.since_masked is not None:
            self.since_masked += 1

    @property
    def users(self) -> str:
        """``masked``, ``visible`` or ``unknown`` (see the module docstring)."""
        if self.since_masked is not None and self.since_masked < MASKED_WINDOW:
            return MASKED
        return VISIBLE if self.user_messages else UNKNOWN

    def ranklist(self, total_score: int) -> None:
        """A reading of the upstream ranklist (sum of the listed scores)."""
        self._reading("ranklist", total_score)

    def _reading(self, signal: str, value: int) -> None:
        base = self._base.get(signal)
        self._base[signal] = (value, self.gifts)
        if base is None or value <= base[0]:
            return
        self.growths += 1
        self.verdict = VISIBLE if self.gifts > base[1] else HIDDEN
        self.checked_at = self._clock()

    @property
    def hidden(self) -> bool:
        return self.verdict == HIDDEN

    def reset(self) -> None:
        """Forget the readings (a new identity, a new broadcast): the verdict starts over."""
        self._base.clear()
        self.verdict = UNKNOWN
        self.checked_at = None
        self.since_masked = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "gifts": self.verdict,
            "gift_messages": self.gifts,
            "signal_growths": self.growths,
            "checked_at": self.checked_at,
            "users": self.users,
            "masked_user_messages": self.masked_users,
        }
