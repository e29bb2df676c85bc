"""Gap detection: a resume that the server could not honour (it continued later than asked).

:class:`GapEvent` is yielded by :class:`dylive.source.collector.Room` in the event stream, in
place of the messages that were lost; ``start_ms``/``end_ms`` bound the outage (server clock,
0 when unknown).

Positions are compared through :func:`log_position`: the message-log sequence number a
cursor/internal_ext encodes (``seq:<n>`` in internal_ext, else ``r-<n>`` in the cursor).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dylive.source.transport import Delivery, Position

# ASCII digits, at most 19 (a bigger or non-ASCII number carries no position)
_DIGITS = re.compile(r"[0-9]{1,19}(?![0-9])")


@dataclass(frozen=True, slots=True)
class GapEvent:
    """Messages between ``start_ms`` and ``end_ms`` (server ms) could not be recovered."""

    room_id: int
    start_ms: int
    end_ms: int
    reason: str
    missed: int = 0  # number of messages known to be missing (0 = unknown)
    method: str = "Gap"
    msg_id: int = 0


def log_position(pos: Position) -> int | None:
    """The log sequence number a position encodes, or None: the first ``seq:<n>`` that starts
    internal_ext or follows a ``|`` in it, else the first such ``r-<n>`` of the cursor after
    ``_`` (``<n>`` 1-19 ASCII digits, the whole run of them)."""
    seq = _number(pos.internal_ext, "seq:", "|")
    return seq if seq is not None else _number(pos.cursor, "r-", "_")


def _number(text: str, key: str, sep: str) -> int | None:
    """What the regular expression ``(?:^|<sep>)<key>([0-9]{1,19})(?![0-9])`` finds first, its
    literal part found by ``str.find`` (once a frame: the expression tried every position)."""
    start = 0
    while (at := text.find(key, start)) >= 0:
        if at == 0 or text[at - 1] == sep:
            m = _DIGITS.match(text, at + len(key))
            if m is not None:
                return int(m.group())
        start = at + 1
    return None


def find_gap(asked: Position, delivery: Delivery, *, room_id: int, last_ms: int) -> GapEvent | None:
    """A GapEvent if the first delivery after resuming from ``asked`` starts after it."""
    want = log_position(asked)
    got = log_position(delivery.position)
    if want is None or got is None:
        return None
    first = got - len(delivery.messages)
    if first <= want:
        return None
    return GapEvent(
        room_id=room_id,
        start_ms=last_ms,
        end_ms=delivery.now,
        reason=f"resumed at position {first}, asked {want}",
        missed=first - want,
    )


class PositionTracker:
    """The resume position: the end of the contiguous prefix of what was received.

    When positions carry a log sequence number, a delivery that starts after the current
    position (a frame sent out of order, the earlier one still in flight) is parked, and the
    position advances only once the hole is filled: a reconnect then resumes before the hole.
    Without sequence numbers the latest position is taken as is.
    """

    __slots__ = ("_ahead", "_position", "_seq")

    def __init__(self, position: Position | None = None) -> None:
        self._ahead: dict[int, tuple[int, Position]] = {}  # start seq → (end seq, position)
        self.reset(position)

    @property
    def position(self) -> Position:
        return self._position

    def _set(self, position: Position, seq: int | None) -> None:
        """The position and its log sequence number (kept: not parsed again on every delivery)."""
        self._position, self._seq = position, seq

    def reset(self, position: Position | None = None) -> None:
        position = position or Position()
        self._set(position, log_position(position))
        self._ahead.clear()

    def advance(self, new: Position, fresh: int) -> None:
        """Record a delivery of ``fresh`` not-seen-before messages ending at ``new``."""
        if not new:
            return
        end = log_position(new)
        cur = self._seq
        if end is None or cur is None:
            self._set(new, end)
            self._ahead.clear()
            return
        start = end - fresh
        if start > cur:
            self._ahead[start] = (end, new)
            return
        if end > cur:
            self._set(new, end)
        if self._ahead:
            self._absorb()

    def _absorb(self) -> None:
        cur = self._seq or 0
        moved = True
        while moved and self._ahead:
            moved = False
            for start in sorted(self._ahead):
                if start > cur:
                    break
                end, pos = self._ahead.pop(start)
                if end > cur:
                    self._set(pos, end)
                    cur = end
                moved = True
