"""The compact Deduper answers exactly like the obvious set + FIFO implementation."""

from __future__ import annotations

import random
from collections import deque

import pytest

from dylive.source.dedupe import Deduper


class Reference:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.ids: set[int] = set()
        self.order: deque[int] = deque()

    def seen(self, msg_id: int) -> bool:
        if msg_id in self.ids:
            return True
        self.ids.add(msg_id)
        self.order.append(msg_id)
        if len(self.order) > self.capacity:
            self.ids.discard(self.order.popleft())
        return False


@pytest.mark.parametrize("capacity", [1, 2, 3, 5, 8, 13, 100, 1000])
@pytest.mark.parametrize("seed", range(4))
def test_same_answers_as_the_reference(capacity: int, seed: int) -> None:
    rnd = random.Random(seed * 1000 + capacity)
    space = max(4, capacity * 3)  # small id spaces: many repeats, evictions and collisions
    pool = [0, 1, 2**64 - 1, 2**63, -5, *(rnd.getrandbits(64) for _ in range(space))]
    fast, ref = Deduper(capacity), Reference(capacity)
    dups = 0
    for step in range(20 * capacity + 500):
        msg_id = rnd.choice(pool)
        want = ref.seen(msg_id)
        assert fast.seen(msg_id) == want, (step, msg_id)
        dups += want
        assert len(fast) == len(ref.order)
        if step % 17 == 0:
            probe = rnd.choice(pool)
            assert (probe in fast) == (probe in ref.ids)
    assert fast.duplicates == dups > 0


def test_full_window_forgets_the_oldest_only() -> None:
    d = Deduper(1000)
    rnd = random.Random(1)
    ids = [rnd.getrandbits(63) for _ in range(1500)]
    assert not any(d.seen(i) for i in ids)
    assert all(i in d for i in ids[500:]) and not any(i in d for i in ids[:500])
    assert all(d.seen(i) for i in ids[500:])
    assert len(d) == 1000


def test_bad_capacity() -> None:
    with pytest.raises(ValueError):
        Deduper(0)


def test_signed_and_unsigned_forms_are_one_id() -> None:
    """int64 and uint64 readings of the same 64 bits (as the store's to_signed) are one id."""
    d = Deduper(10)
    assert not d.seen(-1)
    assert d.seen(2**64 - 1) and d.duplicates == 1


def test_id_zero_across_a_table_rebuild() -> None:
    d = Deduper(100)
    assert not any(d.seen(i) for i in (11, 12, 13, 14))
    assert not d.seen(0)  # the fifth id: the table doubles here
    assert 0 in d and d.seen(0)
    assert all(d.seen(i) for i in (11, 12, 13, 14))
