"""Bounded de-duplication by msg_id (exactly-once across transports and reconnects).

:class:`Deduper` remembers the last ``capacity`` ids (a set plus a FIFO of insertion order):
O(1) per message, memory bounded by ``capacity``.
"""

from __future__ import annotations

from collections import deque

#: Default number of msg_ids remembered per room.
DEFAULT_CAPACITY = 100_000


class Deduper:
    """``seen(msg_id)`` is True for an id already seen among the last ``capacity`` ids."""

    __slots__ = ("_ids", "_order", "capacity", "duplicates")

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self.capacity = capacity
        self.duplicates = 0
        self._ids: set[int] = set()
        self._order: deque[int] = deque()

    def seen(self, msg_id: int) -> bool:
        """True (and counted) if ``msg_id`` is a duplicate; otherwise remember it."""
        if msg_id in self._ids:
            self.duplicates += 1
            return True
        self._ids.add(msg_id)
        self._order.append(msg_id)
        if len(self._order) > self.capacity:
            self._ids.discard(self._order.popleft())
        return False

    def __len__(self) -> int:
        return len(self._order)

    def __contains__(self, msg_id: object) -> bool:
        return msg_id in self._ids
