"""What both transports (push socket, im/fetch polling) hand to the collector.

- :class:`Position` — the continuation tokens (cursor, internal_ext) a reconnect resumes from.
- :class:`Delivery` — one push frame or one im/fetch response: raw messages plus the position
  *after* them. Decoding happens in one place, the collector.
- :class:`Checkpoint` — what a new collector needs to continue exactly after everything an
  earlier one yielded (the position plus the push server), e.g. after a process restart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from dylive.wire.frames import RawMessage


@dataclass(frozen=True, slots=True)
class Position:
    cursor: str = ""
    internal_ext: str = ""

    def __bool__(self) -> bool:
        return bool(self.cursor or self.internal_ext)


class Delivery(NamedTuple):
    """One per push frame: a NamedTuple (built in C, not through a frozen dataclass's
    ``__init__``: ~2 µs a frame)."""

    messages: tuple[RawMessage, ...]
    position: Position
    transport: str  # "push" | "poll"
    now: int = 0  # server ms (0 = unknown)
    closed: bool = False  # the server sent a "close" frame
    push_server: str = ""
    fetch_interval: int = 0  # ms
    asked: Position | None = None  # poll: the position this response answers


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A resumable point of a room's stream: continue after everything yielded so far.

    ``transport`` produced the position (``push`` | ``poll`` | ""); ``push_server`` is the push
    base URL im/fetch announced ("" = ask im/fetch first); ``last_msg_id`` is the msg_id of the
    last event the checkpoint covers (0 = none; informational).
    """

    cursor: str = ""
    internal_ext: str = ""
    push_server: str = ""
    transport: str = ""
    last_msg_id: int = 0

    @property
    def position(self) -> Position:
        return Position(self.cursor, self.internal_ext)

    def __bool__(self) -> bool:
        return bool(self.cursor or self.internal_ext)
