"""The collector's tunables and its status snapshot (:class:`~dylive.source.collector.Room`)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from dylive.source.dedupe import DEFAULT_CAPACITY
from dylive.source.rate import RateMeter

__all__ = ["HOUSEKEEPING", "CollectorOptions", "RoomStatus", "Stats"]

#: Messages that do not count as "business" for the fake-alive watchdog.
HOUSEKEEPING = frozenset({"WebcastRoomUserSeqMessage", "WebcastRoomStatsMessage"})


@dataclass(frozen=True, slots=True)
class CollectorOptions:
    """Tunables; tests shrink the timeouts."""

    transport: str = "auto"  # auto | push | poll
    push_url: str = ""  # override of the push base URL (DYLIVE_PUSH_URL)
    signing: str = ""  # a_bogus generation (DYLIVE_SIGNING); "" = the setting
    heartbeat_interval: float | None = None  # None = max(10 s, heartbeat_duration)
    silence_timeout: float = 30.0  # no frame at all → reconnect
    ack_delay: float = 0.5  # s a push ack may wait to share a socket write with the next ones
    fake_alive_timeout: float = 60.0  # no business message while live → reconnect
    # push carries no business message while the room visibly lives → fall back (0 = off)
    silent_socket_timeout: float = 30.0
    silent_retry_after: float = 300.0  # after a silent socket, try push again this much later
    push_failures_before_fallback: int = 3
    push_retry_after: float = 30.0  # in fallback, try push again after this many seconds
    poll_min_interval: float = 0.0
    poll_max_interval: float = 5.0
    open_timeout: float = 10.0
    http_timeout: float = 10.0
    dedupe_capacity: int = DEFAULT_CAPACITY
    # follow: status checks while waiting at most this far apart during the first hour after
    # the broadcast ended, then backing off up to follow_max_interval (source/follow.py)
    follow_interval: float = 5.0
    follow_max_interval: float = 60.0
    resolve_attempts: int = 5  # at open: tries before an upstream failure is raised
    # the service's fast path: the common methods come out as decode.direct.Rendered (their
    # stored JSON bytes) instead of typed events; library users keep typed events (False)
    direct: bool = False


@dataclass(frozen=True, slots=True)
class RoomStatus:
    """Health snapshot of one room connection.

    ``refusals`` counts every refusal: each empty 200 body of web/enter or im/fetch (a_bogus or
    cookie refused; retried once with a fresh signature, then the page scrape / push takes over)
    and each refused push handshake. ``fallbacks`` counts switches from push to polling.
    """

    state: str  # resolving | connecting | live | reconnecting | waiting | ended | failed | closed
    transport: str  # push | poll | ""
    room_id: int
    web_rid: str
    connected_since: float | None  # unix seconds
    messages_per_s: float
    last_message_age: float | None  # seconds
    reconnects: int
    gaps: int
    refusals: int
    fallbacks: int
    duplicates: int
    messages: int
    error: str = ""
    #: Why data may be missing now (see :meth:`Room.degraded`).
    degraded: tuple[str, ...] = ()
    #: Gift visibility (:class:`dylive.source.coverage.Coverage`).
    coverage: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Stats:
    """The counters behind :class:`RoomStatus` (mutable, one per Room)."""

    state: str = "resolving"
    transport: str = ""
    connected_since: float | None = None
    last_message: float | None = None
    reconnects: int = 0
    gaps: int = 0
    refusals: int = 0
    fallbacks: int = 0
    messages: int = 0
    error: str = ""
    rate: RateMeter = field(default_factory=RateMeter)

    def snapshot(
        self,
        *,
        room_id: int,
        web_rid: str,
        duplicates: int,
        degraded: tuple[str, ...],
        coverage: dict[str, Any],
    ) -> RoomStatus:
        """The :class:`RoomStatus` of these counters now."""
        now = time.monotonic()
        return RoomStatus(
            state=self.state,
            transport=self.transport,
            room_id=room_id,
            web_rid=web_rid,
            connected_since=self.connected_since,
            messages_per_s=self.rate.rate(now),
            last_message_age=None if self.last_message is None else now - self.last_message,
            reconnects=self.reconnects,
            gaps=self.gaps,
            refusals=self.refusals,
            fallbacks=self.fallbacks,
            duplicates=duplicates,
            messages=self.messages,
            error=self.error,
            degraded=degraded,
            coverage=coverage,
        )
