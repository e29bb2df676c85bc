"""Bounded de-duplication by msg_id (exactly-once across transports and reconnects).

:class:`Deduper` remembers the last ``capacity`` distinct ids: a ring of them in insertion order
and an open-addressing hash table over the same ids (linear probing, at most 60 % full, deletion
by backward shift, so no tombstones), both flat arrays of 64-bit integers. Amortised O(1) per
message; the arrays grow with the ids remembered (the table doubles at 60 %), up to about 30
bytes per id at ``capacity``, where a Python ``set`` plus ``deque`` of ints took about 96 (a
service collecting 500 rooms with 10,000 ids each held ~480 MB of them).
"""

from __future__ import annotations

from array import array

#: Default number of msg_ids remembered per room.
DEFAULT_CAPACITY = 100_000

_M64 = (1 << 64) - 1
_MIX = 0x9E3779B97F4A7C15  # Fibonacci hashing: the top bits of key * 2^64/phi


class Deduper:
    """``seen(msg_id)`` is True for an id already seen among the last ``capacity`` ids."""

    __slots__ = (
        "_count", "_head", "_mask", "_ring", "_shift", "_table", "_zero", "capacity", "duplicates",
    )  # fmt: skip

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self.capacity = capacity
        self.duplicates = 0
        self._ring = array("Q")  # ids in insertion order; a circle once ``capacity`` long
        self._head = 0  # once full: the ring slot overwritten next (the oldest id)
        self._count = 0
        self._zero = False  # id 0 is remembered (it cannot live in the table: 0 marks empty)
        self._resize(8)

    def _resize(self, size: int) -> None:
        """A table of ``size`` slots (a power of two) holding every remembered id."""
        self._table = array("Q", bytes(8 * size))  # 0 = an empty slot
        self._mask = size - 1
        self._shift = 65 - size.bit_length()  # 64 - log2(size)
        for key in self._ring:
            if key:
                self._insert(key)

    def seen(self, msg_id: int) -> bool:
        """True (and counted) if ``msg_id`` is a duplicate; otherwise remember it."""
        key = msg_id & _M64
        i = -1  # the empty slot the probe ended on (a new id goes there, the table unchanged)
        if key:  # the probe of _has, inline: once a message
            table, mask = self._table, self._mask
            i = ((key * _MIX) & _M64) >> self._shift
            while True:
                k = table[i]
                if k == key:
                    self.duplicates += 1
                    return True
                if k == 0:
                    break
                i = (i + 1) & mask
        elif self._zero:
            self.duplicates += 1
            return True
        if self._count == self.capacity:  # forget the oldest first, reuse its ring slot
            old = self._ring[self._head]
            if old == 0:
                self._zero = False
            else:
                self._delete(old)
                i = -1  # entries moved: probe again
            self._ring[self._head] = key
            self._head = (self._head + 1) % self.capacity
        else:  # growing: the table doubles before it is more than 60 % used
            self._ring.append(key)
            self._count += 1
            if self._count * 5 > len(self._table) * 3:
                self._resize(len(self._table) * 2)  # the rebuild inserts the new id too
                self._zero = self._zero or key == 0
                return False
        if key == 0:
            self._zero = True
        elif i >= 0:
            self._table[i] = key
        else:
            self._insert(key)
        return False

    def __len__(self) -> int:
        return self._count

    def __contains__(self, msg_id: object) -> bool:
        return isinstance(msg_id, int) and self._has(msg_id & _M64)

    # -- the table ------------------------------------------------------------------------------
    def _home(self, key: int) -> int:
        return ((key * _MIX) & _M64) >> self._shift

    def _has(self, key: int) -> bool:
        if key == 0:
            return self._zero
        table, mask = self._table, self._mask
        i = ((key * _MIX) & _M64) >> self._shift
        while True:
            k = table[i]
            if k == key:
                return True
            if k == 0:
                return False
            i = (i + 1) & mask

    def _insert(self, key: int) -> None:
        table, mask = self._table, self._mask
        i = ((key * _MIX) & _M64) >> self._shift
        while table[i]:
            i = (i + 1) & mask
        table[i] = key

    def _delete(self, key: int) -> None:
        """Remove ``key`` (present) and shift back the entries of its probe run that can no
        longer be reached past the emptied slot."""
        table, mask = self._table, self._mask
        i = self._home(key)
        while table[i] != key:
            i = (i + 1) & mask
        j = i
        while True:
            j = (j + 1) & mask
            k = table[j]
            if k == 0:
                break
            h = self._home(k)
            # k stays when its home lies cyclically in (i, j]; otherwise it moves into i
            stays = (i < h <= j) if i < j else (h > i or h <= j)
            if not stays:
                table[i] = k
                i = j
        table[i] = 0
