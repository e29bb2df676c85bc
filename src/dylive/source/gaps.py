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

_EXT_SEQ = re.compile(r"(?:^|\|)seq:(\d+)")
_CURSOR_SEQ = re.compile(r"(?:^|_)r-(\d+)")


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
    """The log sequence number a position encodes, or None."""
    m = _EXT_SEQ.search(pos.internal_ext) or _CURSOR_SEQ.search(pos.cursor)
    return int(m.group(1)) if m else None


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
