"""What a room's event stream says about the data we are *not* getting.

:class:`Coverage` watches the decoded events of one room. Douyin hides gift messages from
guests (and from flagged identities) but still sends everyone the signals a gift leaves behind:
the anchor's fan-ticket total (``WebcastUpdateFanTicketMessage``) and the in-stream ranking
scores (``WebcastRoomRankMessage`` / ``WebcastRoomUserSeqMessage``). When one of those grows
between two readings while no gift message arrived in between, the gifts are hidden; when gift
messages did arrive, they are visible.

``verdict`` is ``"unknown"`` until the first growth is seen, then ``"visible"`` or ``"hidden"``
(the latest reading wins). :meth:`as_dict` is the ``data.coverage`` of the chat response.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from dylive.decode import GiftEvent, RoomRankEvent, RoomUserSeqEvent, UpdateFanTicketEvent

UNKNOWN, VISIBLE, HIDDEN = "unknown", "visible", "hidden"


class Coverage:
    """Gift visibility of one room, from fan-ticket / ranking growth vs gift messages."""

    __slots__ = ("_base", "_clock", "checked_at", "gifts", "growths", "verdict")

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self.gifts = 0  # gift messages seen
        self.growths = 0  # growth readings of the signals
        self.verdict = UNKNOWN
        self.checked_at: float | None = None  # unix time of the latest verdict
        self._base: dict[str, tuple[int, int]] = {}  # signal -> (value, gifts at that reading)

    def observe(self, event: object) -> None:
        """One item of the stream (typed events; pre-rendered ones carry no signal here)."""
        if isinstance(event, GiftEvent):
            self.gifts += 1
            return
        if isinstance(event, UpdateFanTicketEvent):
            self._reading("fan_ticket", event.count)
        elif isinstance(event, RoomRankEvent | RoomUserSeqEvent) and event.ranks:
            self._reading("ranking", sum(r.score for r in event.ranks))

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

    def as_dict(self) -> dict[str, Any]:
        return {
            "gifts": self.verdict,
            "gift_messages": self.gifts,
            "signal_growths": self.growths,
            "checked_at": self.checked_at,
        }
