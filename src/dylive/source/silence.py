"""The watchdog of one room's sessions: fake-alive and silent sockets (pure, clock passed in).

A push socket that stays open while carrying no business message (only RoomStats /
RoomUserSeq, or heartbeats) is one of two things:

- **silent socket**: Douyin accepts a socket without cookies, acks it and then sends it nothing
  but viewer figures (jwwsjlm/douyinLive#67, saermart/DouyinLiveWebFetcher#123); docs/simulator.md
  ``--silent-cookieless``). The room *is* live: its viewer figures keep changing, or the im/fetch
  that opened the session carried chat, gifts, likes… After ``silent_socket_timeout`` seconds of
  that, the session ends with :class:`SilentSocket`: the room falls back to polling (see
  :class:`~dylive.source.failover.TransportPlan`) and reports ``silent_socket``; the identity
  pool moves a pooled room to another identity.
- **fake-alive**: nothing shows the room is doing anything; after ``fake_alive_timeout``
  seconds the session is reconnected (``heartbeat_only``), as before.
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from dylive.decode import RoomStatsEvent, RoomUserSeqEvent, decode
from dylive.decode.direct import Rendered
from dylive.source.options import HOUSEKEEPING, CollectorOptions
from dylive.source.reconnect import StaleConnection
from dylive.wire.frames import RawMessage

__all__ = ["SilenceWatch", "SilentSocket"]

#: Distinct viewer-figure readings during a quiet spell that prove the room is live.
MOVING = 2


class SilentSocket(StaleConnection):
    """The push socket carries no business message while the room is visibly live."""


class SilenceWatch:
    """Business-message bookkeeping of the current session (one per Room)."""

    __slots__ = ("_fetched", "_readings", "last_business", "options", "transport")

    def __init__(self, options: CollectorOptions) -> None:
        self.options = options
        self.transport = ""
        self.last_business = 0.0
        self._readings: set[tuple[str, int, int]] = set()  # viewer figures while quiet
        self._fetched = False  # the session's opening im/fetch carried business messages

    def start(self, transport: str, now: float) -> None:
        """A session starts on ``transport``."""
        self.transport = transport
        self.last_business = now
        self._readings.clear()
        self._fetched = False

    def fetched(self, messages: Sequence[RawMessage]) -> None:
        """The opening im/fetch of a push session answered ``messages``."""
        self._fetched = any(m.method not in HOUSEKEEPING for m in messages)

    def observe(self, raw: RawMessage, event: object, now: float) -> bool:
        """One fresh message of the session; True when it is a business message."""
        if raw.method not in HOUSEKEEPING:
            self.last_business = now
            self._readings.clear()
            return True
        if self.transport == "push" and len(self._readings) < MOVING:
            reading = _reading(raw, event)
            if reading is not None:
                self._readings.add(reading)
        return False

    @property
    def live_evidence(self) -> bool:
        """The room visibly lives: viewer figures moved, or im/fetch carried business."""
        return self._fetched or len(self._readings) >= MOVING

    def check(self, now: float, room_id: int) -> None:
        """Raise :class:`SilentSocket` / :class:`StaleConnection` when the session is quiet
        for too long (see the module docstring)."""
        idle = now - self.last_business
        silent = self.options.silent_socket_timeout
        if self.transport == "push" and silent > 0 and idle > silent and self.live_evidence:
            raise SilentSocket(
                f"no business message for {idle:.1f} s while the room is live (silent socket)",
                room_id=room_id,
            )
        if idle > self.options.fake_alive_timeout:
            raise StaleConnection(
                f"no business message for {idle:.1f} s (fake-alive)", room_id=room_id
            )


def _reading(raw: RawMessage, event: object) -> tuple[str, int, int] | None:
    """The viewer figures a housekeeping message carries (of a pre-rendered one: read back from
    its JSON, where the renderer wrote the event's figures, instead of decoding the payload
    again with every ranked user)."""
    if isinstance(event, Rendered):
        payload = orjson.loads(event.json)["payload"]
        if raw.method == "WebcastRoomUserSeqMessage":
            viewers = payload["viewers"]
            return (raw.method, viewers["total"], viewers["total_user"])
        if raw.method == "WebcastRoomStatsMessage":
            stats = payload["stats"]
            return (raw.method, stats["display_value"], stats["total"])
    if not isinstance(event, RoomUserSeqEvent | RoomStatsEvent):
        event = decode(raw)
    if isinstance(event, RoomUserSeqEvent):
        return (raw.method, event.total, event.total_user)
    if isinstance(event, RoomStatsEvent):
        return (raw.method, event.display_value, event.total)
    return None
