"""What both transports (push socket, im/fetch polling) hand to the collector.

- :class:`Position` — the continuation tokens (cursor, internal_ext) a reconnect resumes from.
- :class:`Delivery` — one push frame or one im/fetch response: raw messages plus the position
  *after* them. Decoding happens in one place, the collector.
"""

from __future__ import annotations

from dataclasses import dataclass

from dylive.source.frames import RawMessage


@dataclass(frozen=True, slots=True)
class Position:
    cursor: str = ""
    internal_ext: str = ""

    def __bool__(self) -> bool:
        return bool(self.cursor or self.internal_ext)


@dataclass(frozen=True, slots=True)
class Delivery:
    messages: tuple[RawMessage, ...]
    position: Position
    transport: str  # "push" | "poll"
    now: int = 0  # server ms (0 = unknown)
    closed: bool = False  # the server sent a "close" frame
    push_server: str = ""
    fetch_interval: int = 0  # ms
    asked: Position | None = None  # poll: the position this response answers
